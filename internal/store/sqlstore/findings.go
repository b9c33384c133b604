package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/vigilsec/vigil/internal/store"
)

const findingCols = `f.id, f.repository, f.image_digest, f.vulnerability_id, f.title, f.severity, f.status, f.score,
	f.fix_available, f.exploit_available, f.epss, f.package_name, f.package_version, f.package_manager,
	f.file_path, f.layer_diff_id, f.suppressed_by, f.first_observed_at, f.last_observed_at, f.updated_at, f.not_reachable, f.data`

// The columns every write sets, id last, in the order of findingArgs.
const findingSet = `repository = ?, image_digest = ?, vulnerability_id = ?, title = ?, severity = ?, severity_rank = ?,
	status = ?, score = ?, fix_available = ?, exploit_available = ?, epss = ?, package_name = ?, package_version = ?,
	package_manager = ?, file_path = ?, layer_diff_id = ?, suppressed_by = ?, first_observed_at = ?,
	last_observed_at = ?, updated_at = ?, not_reachable = ?, data = ?`

const updateFinding = `UPDATE findings SET ` + findingSet + ` WHERE id = ?`

// insertFinding adds a finding or replaces one of the same image; a
// finding id that belongs to another image changes no row.
const insertFinding = `INSERT INTO findings (repository, image_digest, vulnerability_id, title, severity, severity_rank,
	status, score, fix_available, exploit_available, epss, package_name, package_version, package_manager,
	file_path, layer_diff_id, suppressed_by, first_observed_at, last_observed_at, updated_at, not_reachable, data, id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET vulnerability_id = excluded.vulnerability_id, title = excluded.title,
		severity = excluded.severity, severity_rank = excluded.severity_rank, status = excluded.status,
		score = excluded.score, fix_available = excluded.fix_available, exploit_available = excluded.exploit_available,
		epss = excluded.epss, package_name = excluded.package_name, package_version = excluded.package_version,
		package_manager = excluded.package_manager, file_path = excluded.file_path,
		layer_diff_id = excluded.layer_diff_id, suppressed_by = excluded.suppressed_by,
		first_observed_at = excluded.first_observed_at, last_observed_at = excluded.last_observed_at,
		updated_at = excluded.updated_at, not_reachable = excluded.not_reachable, data = excluded.data
	WHERE findings.repository = excluded.repository AND findings.image_digest = excluded.image_digest`

func findingArgs(f *store.Finding) []any {
	return []any{f.Repository, f.ImageDigest, f.VulnerabilityID, f.Title, f.Severity, severityRank(f.Severity),
		f.Status, nullFloat(f.Score), f.FixAvailable, f.ExploitAvailable, nullFloat(f.EPSS), f.PackageName, f.PackageVersion,
		f.PackageManager, f.FilePath, f.LayerDiffID, f.SuppressedBy, ms(f.FirstObservedAt),
		ms(f.LastObservedAt), ms(f.UpdatedAt), f.NotReachable, blob(f.Data), f.ID}
}

// severityRank orders severities for sorting; anything unknown counts as
// UNTRIAGED, as in the counts.
func severityRank(s string) int {
	switch s {
	case "CRITICAL":
		return 6
	case "HIGH":
		return 5
	case "MEDIUM":
		return 4
	case "LOW":
		return 3
	case "INFORMATIONAL":
		return 2
	}
	return 1
}

func scanFinding(sc interface{ Scan(...any) error }, extra ...any) (store.Finding, error) {
	var f store.Finding
	var score, epss sql.NullFloat64
	var first, last, updated int64
	var data []byte
	dest := []any{&f.ID, &f.Repository, &f.ImageDigest, &f.VulnerabilityID, &f.Title, &f.Severity, &f.Status, &score,
		&f.FixAvailable, &f.ExploitAvailable, &epss, &f.PackageName, &f.PackageVersion, &f.PackageManager,
		&f.FilePath, &f.LayerDiffID, &f.SuppressedBy, &first, &last, &updated, &f.NotReachable, &data}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return f, err
	}
	f.Score, f.EPSS = floatPtr(score), floatPtr(epss)
	f.FirstObservedAt, f.LastObservedAt, f.UpdatedAt = fromMS(first), fromMS(last), fromMS(updated)
	f.Data = data
	return f, nil
}

func (s *Store) Finding(ctx context.Context, id string) (*store.Finding, error) {
	f, err := scanFinding(s.ro.QueryRowContext(ctx, s.q(`SELECT `+findingCols+` FROM findings f WHERE f.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("finding %s", id)
	}
	if err != nil {
		return nil, s.dbErr("finding", err)
	}
	return &f, nil
}

func (s *Store) findings(ctx context.Context, rows *sql.Rows, err error) ([]store.Finding, error) {
	if err != nil {
		return nil, s.dbErr("findings", err)
	}
	defer rows.Close()
	var out []store.Finding
	for rows.Next() {
		f, err := scanFinding(rows)
		if err != nil {
			return nil, s.dbErr("findings", err)
		}
		out = append(out, f)
	}
	return out, s.dbErr("findings", rows.Err())
}

// UpdateFindings runs fn on one image's findings in a write transaction
// (on PostgreSQL with the image row locked) and writes what it returns.
// fn must not call the store's write methods: on SQLite the transaction
// holds the only writer connection.
func (s *Store) UpdateFindings(ctx context.Context, repository, digest string, fn func([]store.Finding) (store.FindingsUpdate, error)) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := s.stmt(ctx, tx, qLockImage).QueryRowContext(ctx, repository, digest).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("image %s@%s", repository, digest)
		}
		if err != nil {
			return s.dbErr("update findings: lock image", err)
		}
		rows, err := s.stmt(ctx, tx, qImageFindings).QueryContext(ctx, repository, digest)
		existing, err := s.findings(ctx, rows, err)
		if err != nil {
			return err
		}
		old := snapshot(existing)
		u, err := fn(existing)
		if err != nil {
			return err
		}
		for i := range u.Findings {
			f := &u.Findings[i]
			if f.Repository != repository || f.ImageDigest != digest {
				return invalid("update findings of %s@%s: finding %s is of %s@%s", repository, digest, f.ID, f.Repository, f.ImageDigest)
			}
		}
		if err := validEvents(u.Events); err != nil {
			return err
		}
		if err := s.writeFindings(ctx, tx, old, u.Findings); err != nil {
			return err
		}
		if u.Image != nil {
			im := *u.Image
			if im.Repository == "" && im.Digest == "" {
				im.Repository, im.Digest = repository, digest
			}
			if err := s.updateImage(ctx, tx, im); err != nil {
				return err
			}
		}
		return s.insertEvents(ctx, tx, u.Events)
	})
}

// UpdateAllFindings runs fn on every finding that is not CLOSED. It holds
// all of them in memory at once; it is for the rare change of suppression
// rules. On PostgreSQL it locks every image row, in one order, so that it
// and UpdateFindings take turns without deadlock.
func (s *Store) UpdateAllFindings(ctx context.Context, fn func([]store.Finding) ([]store.Finding, []store.Event, error)) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if s.d.ForUpdate != "" {
			if _, err := tx.ExecContext(ctx, `SELECT 1 FROM images ORDER BY repository, digest`+s.d.ForUpdate); err != nil {
				return s.dbErr("update all findings: lock images", err)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+findingCols+` FROM findings f WHERE f.status <> 'CLOSED' ORDER BY f.id`)
		existing, err := s.findings(ctx, rows, err)
		if err != nil {
			return err
		}
		old := snapshot(existing)
		fs, evs, err := fn(existing)
		if err != nil {
			return err
		}
		if err := validEvents(evs); err != nil {
			return err
		}
		if err := s.writeFindings(ctx, tx, old, fs); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, evs)
	})
}

// snapshot copies findings, before a callback may change them, to tell
// later what it changed.
func snapshot(fs []store.Finding) map[string]store.Finding {
	m := make(map[string]store.Finding, len(fs))
	for _, f := range fs {
		f.Data = bytes.Clone(f.Data)
		m[f.ID] = f
	}
	return m
}

var statuses = map[string]bool{store.Active: true, store.Suppressed: true, store.Closed: true}

// writeFindings writes findings by id. A finding a rescan saw again
// usually differs from the stored one only in its observation time and
// data; it is written with a narrow UPDATE that touches no index, which
// keeps re-evaluating every image after a database update cheap.
func (s *Store) writeFindings(ctx context.Context, tx *sql.Tx, old map[string]store.Finding, fs []store.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	touch, update, insert := s.stmt(ctx, tx, qTouchFinding), s.stmt(ctx, tx, qUpdateFinding), s.stmt(ctx, tx, qInsertFinding)
	for i := range fs {
		f := &fs[i]
		switch {
		case f.ID == "" || f.Repository == "" || f.ImageDigest == "":
			return invalid("finding %q: id, repository and image digest are required", f.ID)
		case !statuses[f.Status]:
			return invalid("finding %s: status %q (want ACTIVE, SUPPRESSED or CLOSED)", f.ID, f.Status)
		}
		o, ok := old[f.ID]
		switch {
		case ok && sameIndexed(&o, f) && ms(o.LastObservedAt) == ms(f.LastObservedAt) && ms(o.UpdatedAt) == ms(f.UpdatedAt) && bytes.Equal(o.Data, f.Data):
			continue
		case ok && sameIndexed(&o, f):
			if _, err := touch.ExecContext(ctx, ms(f.LastObservedAt), ms(f.UpdatedAt), blob(f.Data), f.ID); err != nil {
				return s.dbErr("finding "+f.ID, err)
			}
		case ok:
			if _, err := update.ExecContext(ctx, findingArgs(f)...); err != nil {
				return s.dbErr("finding "+f.ID, err)
			}
		default:
			r, err := insert.ExecContext(ctx, findingArgs(f)...)
			if err != nil {
				return s.dbErr("finding "+f.ID, err)
			}
			if n, err := r.RowsAffected(); err != nil || n != 1 {
				return fmt.Errorf("%w: finding %s belongs to another image than %s@%s", store.ErrConflict, f.ID, f.Repository, f.ImageDigest)
			}
		}
	}
	return nil
}

// sameIndexed compares everything but observation times and data.
func sameIndexed(a, b *store.Finding) bool {
	return a.Repository == b.Repository && a.ImageDigest == b.ImageDigest && a.VulnerabilityID == b.VulnerabilityID &&
		a.Title == b.Title && a.Severity == b.Severity && a.Status == b.Status && sameFloat(a.Score, b.Score) &&
		a.FixAvailable == b.FixAvailable && a.ExploitAvailable == b.ExploitAvailable && sameFloat(a.EPSS, b.EPSS) &&
		a.PackageName == b.PackageName && a.PackageVersion == b.PackageVersion && a.PackageManager == b.PackageManager &&
		a.FilePath == b.FilePath && a.LayerDiffID == b.LayerDiffID && a.SuppressedBy == b.SuppressedBy &&
		ms(a.FirstObservedAt) == ms(b.FirstObservedAt) && a.NotReachable == b.NotReachable
}

func sameFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Sort fields: the SQL expression and the Go type of its value.
type sortSpec struct {
	expr  string
	kind  byte // 'i' int64, 'f' float64, 's' string
	image bool
}

var sorts = map[string]sortSpec{
	"SEVERITY":                  {expr: "f.severity_rank", kind: 'i'},
	"INSPECTOR_SCORE":           {expr: "COALESCE(f.score, -1)", kind: 'f'},
	"EPSS_SCORE":                {expr: "COALESCE(f.epss, -1)", kind: 'f'},
	"FIRST_OBSERVED_AT":         {expr: "f.first_observed_at", kind: 'i'},
	"LAST_OBSERVED_AT":          {expr: "f.last_observed_at", kind: 'i'},
	"FINDING_STATUS":            {expr: "f.status", kind: 's'},
	"ECR_IMAGE_PUSHED_AT":       {expr: "COALESCE(i.pushed_at, 0)", kind: 'i', image: true},
	"ECR_IMAGE_REPOSITORY_NAME": {expr: "f.repository", kind: 's'},
	"VULNERABILITY_ID":          {expr: "f.vulnerability_id", kind: 's'},
}

const joinImages = ` LEFT JOIN images i ON i.repository = f.repository AND i.digest = f.image_digest`

// ListFindings filters, sorts and pages findings by keyset: the token
// holds the sort key and id of the last finding returned, so pages stay
// without gaps or repeats while findings are written.
func (s *Store) ListFindings(ctx context.Context, q store.FindingQuery) ([]store.Finding, string, error) {
	field, order := q.SortField, q.SortOrder
	if field == "" {
		field = "SEVERITY"
	}
	if order == "" {
		order = "DESC"
	}
	sp, ok := sorts[field]
	if !ok {
		return nil, "", invalid("sort field %q", field)
	}
	if order != "ASC" && order != "DESC" {
		return nil, "", invalid("sort order %q (want ASC or DESC)", order)
	}
	c, err := buildFilter(&q.Filter)
	if err != nil {
		return nil, "", err
	}
	hash := queryHash("findings", q.Filter, field, order)
	where, args := c.sql, c.args
	if q.Next != "" {
		t, err := decodeToken(q.Next, hash)
		if err != nil {
			return nil, "", err
		}
		key, err := sortKey(t, sp.kind)
		if err != nil || len(t.IDs) != 1 {
			return nil, "", invalid("page token: malformed")
		}
		cmp := "<"
		if order == "ASC" {
			cmp = ">"
		}
		where = joinAnd(where, "("+sp.expr+", f.id) "+cmp+" (?, ?)")
		args = append(args, key, t.IDs[0])
	}
	// The page is chosen on ids and sort keys alone, so that sorting
	// many matches does not carry their data; the data of the page is
	// read after.
	n := limit(q.Limit)
	page := `SELECT f.id AS id, ` + sp.expr + ` AS k FROM findings f`
	if c.image || sp.image {
		page += joinImages
	}
	if where != "" {
		page += " WHERE " + where
	}
	page += " ORDER BY k " + order + ", f.id " + order + " LIMIT ?"
	args = append(args, n+1)
	query := `SELECT ` + findingCols + `, p.k FROM (` + page + `) p JOIN findings f ON f.id = p.id ORDER BY p.k ` + order + `, p.id ` + order

	if os.Getenv("ZZDEBUG") != "" {
		fmt.Fprintln(os.Stderr, "QUERY", query, args)
	}
	rows, err := s.ro.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, "", s.dbErr("list findings", err)
	}
	defer rows.Close()
	var out []store.Finding
	var keys []any
	for rows.Next() {
		var key any
		f, err := scanFinding(rows, &key)
		if err != nil {
			return nil, "", s.dbErr("list findings", err)
		}
		out, keys = append(out, f), append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.dbErr("list findings", err)
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		next = encodeToken(hash, keys[n-1], out[n-1].ID)
	}
	return out, next, nil
}

// sortKey decodes a token's sort key as the sort field's type.
func sortKey(t *token, kind byte) (any, error) {
	switch kind {
	case 'i':
		var v int64
		return v, t.key(&v)
	case 'f':
		var v float64
		return v, t.key(&v)
	}
	var v string
	err := t.key(&v)
	return v, err
}

// patchJSON replaces top-level members of a JSON object, keeping the
// order of its members, and appends those it lacks.
func patchJSON(data []byte, set map[string]string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	done := map[string]bool{}
	first := true
	member := func(k string, v []byte) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not a JSON object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if nv, ok := set[k]; ok {
			v, done[k] = json.RawMessage(nv), true
		}
		member(k, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // members added in a fixed order
	for _, k := range keys {
		member(k, []byte(set[k]))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
