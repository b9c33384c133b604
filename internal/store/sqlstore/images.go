package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// RecordPush records a pushed manifest with its tag, events and job in one
// transaction. A digest pushed again keeps its scan state and findings;
// its push time becomes the latest push, which is what rescan durations
// count from.
func (s *Store) RecordPush(ctx context.Context, p store.Push) error {
	if p.Repository == "" || p.Digest == "" {
		return invalid("push: repository and digest are required")
	}
	if err := validEvents(p.Events); err != nil {
		return err
	}
	at := ms(p.At)
	if at == 0 {
		at = ms(s.now())
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
			p.Repository, at); err != nil {
			return s.dbErr("push: repository", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO images
			(repository, digest, media_type, artifact_type, config_digest, size, platform, pushed_at, scan_status, scan_reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING_INITIAL_SCAN')
			ON CONFLICT (repository, digest) DO UPDATE SET
				media_type = excluded.media_type, artifact_type = excluded.artifact_type,
				config_digest = excluded.config_digest, size = excluded.size,
				platform = excluded.platform, pushed_at = excluded.pushed_at`),
			p.Repository, p.Digest, p.MediaType, p.ArtifactType, p.ConfigDigest, p.Size, p.Platform, at, store.ScanPending); err != nil {
			return s.dbErr("push: image", err)
		}
		if err := s.recordChildren(ctx, tx, p); err != nil {
			return err
		}
		if p.Tag != "" {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tags (repository, tag, digest) VALUES (?, ?, ?)
				ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest`),
				p.Repository, p.Tag, p.Digest); err != nil {
				return s.dbErr("push: tag", err)
			}
		}
		if err := s.insertEvents(ctx, tx, p.Events); err != nil {
			return err
		}
		if p.Job != nil {
			if _, err := s.enqueue(ctx, tx, *p.Job); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecordDelete removes an image and its tags and closes its findings. The
// findings stay, CLOSED, as Inspector keeps closed findings; their stored
// Inspector JSON gets the same status and update time.
func (s *Store) RecordDelete(ctx context.Context, repository, digest string, at time.Time, events []store.Event) error {
	if err := validEvents(events); err != nil {
		return err
	}
	if at.IsZero() {
		at = s.now()
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := s.stmt(ctx, tx, qLockImage).QueryRowContext(ctx, repository, digest).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("image %s@%s", repository, digest)
		}
		if err != nil {
			return s.dbErr("delete image", err)
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id, data FROM findings
			WHERE repository = ? AND image_digest = ? AND status <> 'CLOSED'`), repository, digest)
		if err != nil {
			return s.dbErr("delete image: findings", err)
		}
		type closing struct {
			id   string
			data []byte
		}
		var cs []closing
		for rows.Next() {
			var c closing
			if err := rows.Scan(&c.id, &c.data); err != nil {
				rows.Close()
				return s.dbErr("delete image: findings", err)
			}
			cs = append(cs, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.dbErr("delete image: findings", err)
		}
		for _, c := range cs {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE findings SET status = 'CLOSED', suppressed_by = '', updated_at = ?, data = ? WHERE id = ?`),
				ms(at), blob(closeData(c.data, at)), c.id); err != nil {
				return s.dbErr("delete image: close finding", err)
			}
		}
		if err := s.recordDeletion(ctx, tx, repository, digest, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tags WHERE repository = ? AND digest = ?`), repository, digest); err != nil {
			return s.dbErr("delete image: tags", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM images WHERE repository = ? AND digest = ?`), repository, digest); err != nil {
			return s.dbErr("delete image", err)
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// RecordPull notes a pull; the time only moves forward.
func (s *Store) RecordPull(ctx context.Context, repository, digest string, at time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`UPDATE images SET last_pulled_at = CASE WHEN ? > last_pulled_at THEN ? ELSE last_pulled_at END
			WHERE repository = ? AND digest = ?`), ms(at), ms(at), repository, digest)
		return s.affected("record pull", r, err, "image %s@%s", repository, digest)
	})
}

// affected turns "no row changed" into ErrNotFound.
func (s *Store) affected(op string, r sql.Result, err error, what string, args ...any) error {
	if err != nil {
		return s.dbErr(op, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return s.dbErr(op, err)
	}
	if n == 0 {
		return notFound(what, args...)
	}
	return nil
}

const repoCols = `name, created_at, rescan_duration, rescan_basis, (SELECT COUNT(*) FROM images i WHERE i.repository = r.name)`

func scanRepo(sc interface{ Scan(...any) error }) (store.Repository, error) {
	var r store.Repository
	var created int64
	err := sc.Scan(&r.Name, &created, &r.RescanDuration, &r.RescanBasis, &r.Images)
	r.CreatedAt = fromMS(created)
	return r, err
}

func (s *Store) Repository(ctx context.Context, name string) (*store.Repository, error) {
	r, err := scanRepo(s.ro.QueryRowContext(ctx, s.q(`SELECT `+repoCols+` FROM repositories r WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("repository %s", name)
	}
	if err != nil {
		return nil, s.dbErr("repository", err)
	}
	return &r, nil
}

func (s *Store) ListRepositories(ctx context.Context) ([]store.Repository, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+repoCols+` FROM repositories r ORDER BY name`)
	if err != nil {
		return nil, s.dbErr("list repositories", err)
	}
	defer rows.Close()
	var out []store.Repository
	for rows.Next() {
		r, err := scanRepo(rows)
		if err != nil {
			return nil, s.dbErr("list repositories", err)
		}
		out = append(out, r)
	}
	return out, s.dbErr("list repositories", rows.Err())
}

// Rescan durations and bases, as Inspector's.
var (
	durations = map[string]bool{"LIFETIME": true, "DAYS_14": true, "DAYS_30": true, "DAYS_60": true, "DAYS_90": true, "DAYS_180": true}
	bases     = map[string]bool{"PUSH": true, "PULL": true}
)

func (s *Store) SetRescanDuration(ctx context.Context, repository, duration, basis string) error {
	if basis == "" {
		basis = "PUSH"
	}
	if !durations[duration] {
		return invalid("rescan duration %q (want LIFETIME, DAYS_14, DAYS_30, DAYS_60, DAYS_90 or DAYS_180)", duration)
	}
	if !bases[basis] {
		return invalid("rescan basis %q (want PUSH or PULL)", basis)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`UPDATE repositories SET rescan_duration = ?, rescan_basis = ? WHERE name = ?`), duration, basis, repository)
		return s.affected("set rescan duration", r, err, "repository %s", repository)
	})
}

const imageCols = `i.repository, i.digest, i.media_type, i.artifact_type, i.config_digest, i.size, i.platform,
	i.pushed_at, i.last_pulled_at, i.scan_status, i.scan_reason, i.scan_message, i.scanned_at, i.distro, i.inventory_hash, i.db_version`

func scanImage(sc interface{ Scan(...any) error }) (store.Image, error) {
	var im store.Image
	var pushed, pulled, scanned int64
	err := sc.Scan(&im.Repository, &im.Digest, &im.MediaType, &im.ArtifactType, &im.ConfigDigest, &im.Size, &im.Platform,
		&pushed, &pulled, &im.ScanStatus, &im.ScanReason, &im.ScanMessage, &scanned, &im.Distro, &im.InventoryHash, &im.DBVersion)
	im.PushedAt, im.LastPulledAt, im.ScannedAt = fromMS(pushed), fromMS(pulled), fromMS(scanned)
	return im, err
}

func (s *Store) Image(ctx context.Context, repository, digest string) (*store.Image, error) {
	return s.oneImage(ctx, `SELECT `+imageCols+` FROM images i WHERE i.repository = ? AND i.digest = ?`,
		"image "+repository+"@"+digest, repository, digest)
}

func (s *Store) ImageByTag(ctx context.Context, repository, tag string) (*store.Image, error) {
	return s.oneImage(ctx, `SELECT `+imageCols+` FROM tags t JOIN images i ON i.repository = t.repository AND i.digest = t.digest
		WHERE t.repository = ? AND t.tag = ?`, "tag "+repository+":"+tag, repository, tag)
}

func (s *Store) oneImage(ctx context.Context, query, what string, args ...any) (*store.Image, error) {
	var im store.Image
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		im, err = scanImage(tx.QueryRowContext(ctx, s.q(query), args...))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("%s", what)
		}
		if err != nil {
			return s.dbErr("image", err)
		}
		ims := []store.Image{im}
		if err := s.decorate(ctx, tx, ims); err != nil {
			return err
		}
		im = ims[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &im, nil
}

// ListImages pages through images, newest push first.
func (s *Store) ListImages(ctx context.Context, q store.ImageQuery) ([]store.Image, string, error) {
	n := limit(q.Limit)
	hash := queryHash("images", q.Repository, q.Tag, q.ScanStatus)
	var conds []string
	var args []any
	if q.Repository != "" {
		conds, args = append(conds, "i.repository = ?"), append(args, q.Repository)
	}
	if q.Tag != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM tags t WHERE t.repository = i.repository AND t.digest = i.digest AND t.tag = ?)")
		args = append(args, q.Tag)
	}
	if q.ScanStatus != "" {
		conds, args = append(conds, "i.scan_status = ?"), append(args, q.ScanStatus)
	}
	if q.Next != "" {
		t, err := decodeToken(q.Next, hash)
		if err != nil {
			return nil, "", err
		}
		var pushed int64
		if err := t.key(&pushed); err != nil || len(t.IDs) != 2 {
			return nil, "", invalid("page token: malformed")
		}
		conds = append(conds, "(i.pushed_at, i.repository, i.digest) < (?, ?, ?)")
		args = append(args, pushed, t.IDs[0], t.IDs[1])
	}
	query := `SELECT ` + imageCols + ` FROM images i`
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY i.pushed_at DESC, i.repository DESC, i.digest DESC LIMIT ?"
	args = append(args, n+1)

	var out []store.Image
	more := false
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return s.dbErr("list images", err)
		}
		defer rows.Close()
		for rows.Next() {
			im, err := scanImage(rows)
			if err != nil {
				return s.dbErr("list images", err)
			}
			out = append(out, im)
		}
		if err := rows.Err(); err != nil {
			return s.dbErr("list images", err)
		}
		rows.Close()
		if len(out) > n {
			out, more = out[:n], true
		}
		return s.decorate(ctx, tx, out)
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if more {
		last := out[len(out)-1]
		next = encodeToken(hash, ms(last.PushedAt), last.Repository, last.Digest)
	}
	return out, next, nil
}

// imageKeys are the (repository, digest) pairs of images, for queries
// that fetch something for each of them at once.
func imageKeys(ims []store.Image) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 2*len(ims))
	for i, im := range ims {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, im.Repository, im.Digest)
	}
	return b.String(), args
}

// decorate fills in the tags and ACTIVE finding counts of images.
func (s *Store) decorate(ctx context.Context, q queryer, ims []store.Image) error {
	if len(ims) == 0 {
		return nil
	}
	type key struct{ repo, digest string }
	at := make(map[key]*store.Image, len(ims))
	for i := range ims {
		at[key{ims[i].Repository, ims[i].Digest}] = &ims[i]
		ims[i].Tags = []string{}
	}
	values, args := imageKeys(ims)
	tags, err := s.tagsOf(ctx, q, values, args)
	if err != nil {
		return err
	}
	for k, ts := range tags {
		at[key{k[0], k[1]}].Tags = ts
	}
	rows, err := q.QueryContext(ctx, s.q(`SELECT repository, image_digest, severity, COUNT(*) FROM findings
		WHERE status = 'ACTIVE' AND (repository, image_digest) IN (VALUES `+values+`)
		GROUP BY repository, image_digest, severity`), args...)
	if err != nil {
		return s.dbErr("image counts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k key
		var sev string
		var n int
		if err := rows.Scan(&k.repo, &k.digest, &sev, &n); err != nil {
			return s.dbErr("image counts", err)
		}
		if im := at[k]; im != nil {
			addCount(&im.Counts, sev, n)
		}
	}
	if err := rows.Err(); err != nil {
		return s.dbErr("image counts", err)
	}
	rows.Close()
	return s.decorateChildren(ctx, q, ims)
}

// tagsOf returns the sorted tags of images given as VALUES rows.
func (s *Store) tagsOf(ctx context.Context, q queryer, values string, args []any) (map[[2]string][]string, error) {
	rows, err := q.QueryContext(ctx, s.q(`SELECT repository, digest, tag FROM tags
		WHERE (repository, digest) IN (VALUES `+values+`) ORDER BY repository, digest, tag`), args...)
	if err != nil {
		return nil, s.dbErr("image tags", err)
	}
	defer rows.Close()
	out := map[[2]string][]string{}
	for rows.Next() {
		var repo, digest, tag string
		if err := rows.Scan(&repo, &digest, &tag); err != nil {
			return nil, s.dbErr("image tags", err)
		}
		k := [2]string{repo, digest}
		out[k] = append(out[k], tag)
	}
	return out, s.dbErr("image tags", rows.Err())
}

// addCount adds n findings of a severity to c.
func addCount(c *store.Counts, severity string, n int) {
	switch severity {
	case "CRITICAL":
		c.Critical += n
	case "HIGH":
		c.High += n
	case "MEDIUM":
		c.Medium += n
	case "LOW":
		c.Low += n
	case "INFORMATIONAL":
		c.Informational += n
	default:
		c.Untriaged += n
	}
	c.Total += n
}

// UpdateImage changes an image's scan state and appends events.
func (s *Store) UpdateImage(ctx context.Context, u store.ImageUpdate, events []store.Event) error {
	if err := validEvents(events); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.updateImage(ctx, tx, u); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, events)
	})
}

// updateImage sets the scan status and every other field of u that is
// not zero.
func (s *Store) updateImage(ctx context.Context, tx *sql.Tx, u store.ImageUpdate) error {
	if u.ScanStatus == "" {
		return invalid("image update %s@%s: scan status is required", u.Repository, u.Digest)
	}
	sets := []string{"scan_status = ?"}
	args := []any{u.ScanStatus}
	for _, f := range []struct {
		col string
		v   any
		set bool
	}{
		{"scan_reason", u.ScanReason, u.ScanReason != ""},
		{"scan_message", u.ScanMessage, u.ScanMessage != ""},
		{"scanned_at", ms(u.ScannedAt), !u.ScannedAt.IsZero()},
		{"distro", u.Distro, u.Distro != ""},
		{"inventory_hash", u.InventoryHash, u.InventoryHash != ""},
		{"db_version", u.DBVersion, u.DBVersion != ""},
	} {
		if f.set {
			sets, args = append(sets, f.col+" = ?"), append(args, f.v)
		}
	}
	args = append(args, u.Repository, u.Digest)
	r, err := tx.ExecContext(ctx, s.q(`UPDATE images SET `+strings.Join(sets, ", ")+` WHERE repository = ? AND digest = ?`), args...)
	return s.affected("update image", r, err, "image %s@%s", u.Repository, u.Digest)
}

// closeData rewrites the status and update time inside a finding's
// Inspector JSON; data that is not a JSON object is kept as it is.
func closeData(data []byte, at time.Time) []byte {
	out, err := patchJSON(data, map[string]string{
		"status":    `"CLOSED"`,
		"updatedAt": strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', -1, 64),
	})
	if err != nil {
		return data
	}
	return out
}
