package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// recordChildren writes the manifests an index lists, and forgets the
// deletion of what is pushed again.
func (s *Store) recordChildren(ctx context.Context, tx *sql.Tx, p store.Push) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM deletions WHERE repository = ? AND (ref = ? OR ref = ?)`),
		p.Repository, p.Digest, p.Tag); err != nil {
		return s.dbErr("push: deletions", err)
	}
	if len(p.Children) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM image_children WHERE repository = ? AND index_digest = ?`),
		p.Repository, p.Digest); err != nil {
		return s.dbErr("push: index children", err)
	}
	for i, c := range p.Children {
		if c.Digest == "" {
			return invalid("push %s@%s: child %d has no digest", p.Repository, p.Digest, i)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO image_children (repository, index_digest, position, child_digest, platform)
			VALUES (?, ?, ?, ?, ?)`), p.Repository, p.Digest, i, c.Digest, c.Platform); err != nil {
			return s.dbErr("push: index children", err)
		}
	}
	return nil
}

// noteDeletion records that ref (a tag or digest) naming digest was
// deleted at at.
func (s *Store) noteDeletion(ctx context.Context, tx *sql.Tx, repository, ref, digest string, at time.Time) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO deletions (repository, ref, digest, deleted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repository, ref) DO UPDATE SET digest = excluded.digest, deleted_at = excluded.deleted_at`),
		repository, ref, digest, ms(at))
	return s.dbErr("note deletion", err)
}

// recordDeletion notes the deletion of an image and of the tags that name
// it, and forgets what it listed if it is an index.
func (s *Store) recordDeletion(ctx context.Context, tx *sql.Tx, repository, digest string, at time.Time) error {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT tag FROM tags WHERE repository = ? AND digest = ?`), repository, digest)
	if err != nil {
		return s.dbErr("delete image: tags", err)
	}
	var tags []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return s.dbErr("delete image: tags", err)
		}
		tags = append(tags, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.dbErr("delete image: tags", err)
	}
	for _, ref := range append([]string{digest}, tags...) {
		if err := s.noteDeletion(ctx, tx, repository, ref, digest, at); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM image_children WHERE repository = ? AND index_digest = ?`), repository, digest); err != nil {
		return s.dbErr("delete image: index children", err)
	}
	return nil
}

// RecordUntag removes a tag and notes its deletion.
func (s *Store) RecordUntag(ctx context.Context, repository, tag string, at time.Time, events []store.Event) error {
	if err := validEvents(events); err != nil {
		return err
	}
	if at.IsZero() {
		at = s.now()
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var digest string
		err := tx.QueryRowContext(ctx, s.q(`SELECT digest FROM tags WHERE repository = ? AND tag = ?`+s.d.ForUpdate), repository, tag).Scan(&digest)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("tag %s:%s", repository, tag)
		}
		if err != nil {
			return s.dbErr("untag", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tags WHERE repository = ? AND tag = ?`), repository, tag); err != nil {
			return s.dbErr("untag", err)
		}
		if err := s.noteDeletion(ctx, tx, repository, tag, digest, at); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// IndexesOf lists the stored indexes of a repository that list digest.
func (s *Store) IndexesOf(ctx context.Context, repository, digest string) ([]string, error) {
	rows, err := s.ro.QueryContext(ctx, s.q(`SELECT DISTINCT c.index_digest FROM image_children c
		JOIN images i ON i.repository = c.repository AND i.digest = c.index_digest
		WHERE c.repository = ? AND c.child_digest = ? ORDER BY c.index_digest`), repository, digest)
	if err != nil {
		return nil, s.dbErr("indexes of", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, s.dbErr("indexes of", err)
		}
		out = append(out, d)
	}
	return out, s.dbErr("indexes of", rows.Err())
}

// Deletion reads a noted deletion.
func (s *Store) Deletion(ctx context.Context, repository, ref string) (*store.Deletion, error) {
	d := store.Deletion{Repository: repository, Ref: ref}
	var at int64
	err := s.ro.QueryRowContext(ctx, s.q(`SELECT digest, deleted_at FROM deletions WHERE repository = ? AND ref = ?`), repository, ref).Scan(&d.Digest, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("deletion of %s %s", repository, ref)
	}
	if err != nil {
		return nil, s.dbErr("deletion", err)
	}
	d.DeletedAt = fromMS(at)
	return &d, nil
}

// decorateChildren fills in the manifests that indexes among ims list,
// each with its own state (tags, counts) when the repository holds it.
func (s *Store) decorateChildren(ctx context.Context, q queryer, ims []store.Image) error {
	values, args := imageKeys(ims)
	rows, err := q.QueryContext(ctx, s.q(`SELECT repository, index_digest, child_digest, platform FROM image_children
		WHERE (repository, index_digest) IN (VALUES `+values+`) ORDER BY repository, index_digest, position`), args...)
	if err != nil {
		return s.dbErr("index children", err)
	}
	type key struct{ repo, digest string }
	at := make(map[key]*store.Image, len(ims))
	for i := range ims {
		at[key{ims[i].Repository, ims[i].Digest}] = &ims[i]
	}
	type link struct {
		index key
		child store.Child
	}
	var links []link
	for rows.Next() {
		var l link
		if err := rows.Scan(&l.index.repo, &l.index.digest, &l.child.Digest, &l.child.Platform); err != nil {
			rows.Close()
			return s.dbErr("index children", err)
		}
		links = append(links, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.dbErr("index children", err)
	}
	if len(links) == 0 {
		return nil
	}
	var kids []store.Image
	seen := map[key]bool{}
	for _, l := range links {
		k := key{l.index.repo, l.child.Digest}
		if !seen[k] {
			seen[k] = true
			kids = append(kids, store.Image{Repository: k.repo, Digest: k.digest})
		}
	}
	values, args = imageKeys(kids)
	rows, err = q.QueryContext(ctx, s.q(`SELECT `+imageCols+` FROM images i WHERE (i.repository, i.digest) IN (VALUES `+values+`)`), args...)
	if err != nil {
		return s.dbErr("index children", err)
	}
	var stored []store.Image
	for rows.Next() {
		im, err := scanImage(rows)
		if err != nil {
			rows.Close()
			return s.dbErr("index children", err)
		}
		stored = append(stored, im)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.dbErr("index children", err)
	}
	// Children are content-addressed, so an index never lists itself
	// through its children: this recursion ends.
	if err := s.decorate(ctx, q, stored); err != nil {
		return err
	}
	byKey := map[key]*store.Image{}
	for i := range stored {
		byKey[key{stored[i].Repository, stored[i].Digest}] = &stored[i]
	}
	for _, l := range links {
		c := l.child
		if im := byKey[key{l.index.repo, c.Digest}]; im != nil {
			cp := *im
			c.Image = &cp
		}
		idx := at[l.index]
		idx.Children = append(idx.Children, c)
	}
	return nil
}
