package vulndb

// The database is shipped between Vigil installations (as the layers of an
// OCI artifact, see package dbartifact) in partitions: the advisories of
// one feed, EPSS, KEV, and NVD by CVE year. Each partition's encoding is
// canonical — its rows sorted by key, then compressed with fixed settings —
// so the same content always has the same digest: an update that changes
// one feed changes one partition, and a holder of the previous version
// fetches only that one.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Partition is one part of a database's content.
type Partition struct {
	// Name is "advisories/FEED" (the advisories of one feed, with the
	// packages and aliases they name), "epss", "kev", or "nvd/YEAR"
	// (NVD's records of CVE-YEAR-…; "nvd/other" for ids without a year).
	Name string `json:"name"`
	// Rows is the number of records: advisories, EPSS scores, KEV
	// entries or NVD records.
	Rows int `json:"rows"`
	// Digest ("sha256:…") and Size are those of the compressed encoding.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// SourceRow is one row of the database's feed table, as stored, so that a
// copy says exactly what the original says of its feeds.
type SourceRow struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	URL         string `json:"url"`
	Records     int    `json:"records"`
	Fetched     string `json:"fetched"`
	Updated     string `json:"updated,omitempty"`
	UpdatedFrom string `json:"updatedFrom,omitempty"`
	Ecosystems  string `json:"ecosystems,omitempty"`
	Errors      int    `json:"errors,omitempty"`
	Warnings    int    `json:"warnings,omitempty"`
}

// Snapshot is what a database holds besides its partitions: its schema
// version, build time and feed table.
type Snapshot struct {
	Schema int    `json:"schema"`
	Built  string `json:"built"`
	// Digest is the content digest the build recorded, and Version the
	// version it makes with Built (see version.go).
	Digest  string      `json:"digest,omitempty"`
	Version string      `json:"version"`
	Sources []SourceRow `json:"sources"`
}

// Export is a database written out as partitions.
type Export struct {
	Snapshot   Snapshot
	Partitions []Partition
	// Dir holds each partition's compressed encoding, in a file named by
	// its digest's hex (see PartitionFile).
	Dir string
}

// PartitionFile is where dir keeps the encoding of the blob with digest d.
func PartitionFile(dir, d string) string {
	return filepath.Join(dir, strings.TrimPrefix(d, "sha256:")+".jsonl.zst")
}

// Partition encodings: JSON lines, one record a line, zstd-compressed.
type advisoryLine struct {
	ID       string          `json:"id"`
	Source   string          `json:"source"`
	Data     json.RawMessage `json:"data"`
	Affected [][2]string     `json:"affected,omitempty"` // ecosystem, name as indexed
	Aliases  []string        `json:"aliases,omitempty"`
}

type epssLine struct {
	CVE        string  `json:"cve"`
	Score      float64 `json:"score"`
	Percentile float64 `json:"percentile"`
}

type dataLine struct {
	CVE  string          `json:"cve"`
	Data json.RawMessage `json:"data"`
}

// ExportPartitions writes the database at path out as partitions into dir.
func ExportPartitions(ctx context.Context, path, dir string) (*Export, error) {
	db, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vulndb: export: %w", err)
	}
	ex := &Export{Dir: dir}
	if ex.Snapshot, err = db.snapshot(ctx); err != nil {
		return nil, err
	}
	if err := db.exportAdvisories(ctx, ex); err != nil {
		return nil, err
	}
	if err := exportTable(ctx, db.db, ex, `SELECT cve, score, percentile FROM epss ORDER BY cve`,
		func(string) string { return "epss" }, func(rows *sql.Rows) (string, any, error) {
			var l epssLine
			err := rows.Scan(&l.CVE, &l.Score, &l.Percentile)
			return l.CVE, l, err
		}); err != nil {
		return nil, err
	}
	for _, t := range []string{"kev", "nvd"} {
		part := func(string) string { return t }
		if t == "nvd" {
			part = func(cve string) string { return "nvd/" + cveYear(cve) }
		}
		if err := exportTable(ctx, db.db, ex, `SELECT cve, data FROM `+t+` ORDER BY cve`, part, func(rows *sql.Rows) (string, any, error) {
			var l dataLine
			var data []byte
			err := rows.Scan(&l.CVE, &data)
			l.Data = data
			return l.CVE, l, err
		}); err != nil {
			return nil, err
		}
	}
	sort.Slice(ex.Partitions, func(i, j int) bool { return ex.Partitions[i].Name < ex.Partitions[j].Name })
	return ex, nil
}

// cveYear is the year of a CVE id ("CVE-2024-1234" → "2024"), "other" for
// an id that is not of that form; nvdPartitionWhere selects the same rows.
func cveYear(id string) string {
	if len(id) > 9 && strings.HasPrefix(id, "CVE-") && id[8] == '-' {
		y := id[4:8]
		if strings.Trim(y, "0123456789") == "" {
			return y
		}
	}
	return "other"
}

func nvdPartitionWhere(year string) (string, []any) {
	if year == "other" {
		return `NOT cve GLOB 'CVE-[0-9][0-9][0-9][0-9]-?*'`, nil
	}
	return `cve GLOB ?`, []any{"CVE-" + year + "-?*"}
}

func (d *DB) snapshot(ctx context.Context) (Snapshot, error) {
	s := Snapshot{Schema: schemaVersion}
	if err := d.db.QueryRowContext(ctx, `SELECT value, COALESCE((SELECT value FROM meta WHERE key='digest'), '') FROM meta WHERE key='built'`).Scan(&s.Built, &s.Digest); err != nil {
		return s, fmt.Errorf("vulndb: export: %w", err)
	}
	s.Version = d.version
	rows, err := d.db.QueryContext(ctx, `SELECT name, kind, url, records, fetched, updated, updated_from, ecosystems, errors, warnings FROM sources ORDER BY name`)
	if err != nil {
		return s, fmt.Errorf("vulndb: export: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r SourceRow
		if err := rows.Scan(&r.Name, &r.Kind, &r.URL, &r.Records, &r.Fetched, &r.Updated, &r.UpdatedFrom, &r.Ecosystems, &r.Errors, &r.Warnings); err != nil {
			return s, err
		}
		s.Sources = append(s.Sources, r)
	}
	return s, rows.Err()
}

// partitionWriter writes one partition's encoding, hashing it as it goes.
type partitionWriter struct {
	name string
	rows int
	file *os.File
	buf  *bufio.Writer
	hash hashWriter
	zw   *zstd.Encoder
	enc  *json.Encoder
}

type hashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.h.Write(p)
}

func newPartitionWriter(dir, name string) (*partitionWriter, error) {
	f, err := os.CreateTemp(dir, ".partition-*")
	if err != nil {
		return nil, fmt.Errorf("vulndb: export: %w", err)
	}
	p := &partitionWriter{name: name, file: f, hash: hashWriter{h: sha256.New()}}
	p.buf = bufio.NewWriterSize(io.MultiWriter(f, &p.hash), 1<<20)
	// One goroutine and a fixed level: the same rows give the same bytes.
	p.zw, err = zstd.NewWriter(p.buf, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	p.enc = json.NewEncoder(p.zw)
	return p, nil
}

func (p *partitionWriter) add(v any) error {
	p.rows++
	return p.enc.Encode(v)
}

// finish closes the partition and names its file by its digest.
func (p *partitionWriter) finish(ex *Export) error {
	err := p.zw.Close()
	if err == nil {
		err = p.buf.Flush()
	}
	if cerr := p.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p.file.Name())
		return fmt.Errorf("vulndb: export %s: %w", p.name, err)
	}
	d := "sha256:" + hex.EncodeToString(p.hash.h.Sum(nil))
	if err := os.Rename(p.file.Name(), PartitionFile(ex.Dir, d)); err != nil {
		return fmt.Errorf("vulndb: export %s: %w", p.name, err)
	}
	ex.Partitions = append(ex.Partitions, Partition{Name: p.name, Rows: p.rows, Digest: d, Size: p.hash.n})
	return nil
}

func (p *partitionWriter) abort() {
	p.file.Close()
	os.Remove(p.file.Name())
}

// exportTable writes the rows of q, ordered by key, into the partitions
// that part names (consecutive rows of one partition: q's order must
// group them).
func exportTable(ctx context.Context, db *sql.DB, ex *Export, q string, part func(key string) string,
	scan func(*sql.Rows) (string, any, error)) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("vulndb: export: %w", err)
	}
	defer rows.Close()
	var w *partitionWriter
	defer func() {
		if w != nil {
			w.abort()
		}
	}()
	// Rows of one partition must be consecutive; NVD's years are, as
	// CVE ids sort by year, except "other", which is collected apart.
	others := map[string]*partitionWriter{}
	defer func() {
		for _, o := range others {
			o.abort()
		}
	}()
	for rows.Next() {
		key, line, err := scan(rows)
		if err != nil {
			return fmt.Errorf("vulndb: export: %w", err)
		}
		name := part(key)
		target := w
		if strings.HasSuffix(name, "/other") {
			if others[name] == nil {
				if others[name], err = newPartitionWriter(ex.Dir, name); err != nil {
					return err
				}
			}
			target = others[name]
		} else if w == nil || w.name != name {
			if w != nil {
				err := w.finish(ex)
				w = nil
				if err != nil {
					return err
				}
			}
			if w, err = newPartitionWriter(ex.Dir, name); err != nil {
				return err
			}
			target = w
		}
		if err := target.add(line); err != nil {
			return fmt.Errorf("vulndb: export %s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("vulndb: export: %w", err)
	}
	if w != nil {
		err := w.finish(ex)
		w = nil
		if err != nil {
			return err
		}
	}
	for name, o := range others {
		delete(others, name)
		if err := o.finish(ex); err != nil {
			return err
		}
	}
	return nil
}

// exportAdvisories writes one partition per feed: each advisory with the
// packages and aliases it is indexed under, read in three passes ordered
// alike and merged.
func (d *DB) exportAdvisories(ctx context.Context, ex *Export) error {
	advs, err := d.db.QueryContext(ctx, `SELECT source, id, data FROM advisories ORDER BY source, id`)
	if err != nil {
		return fmt.Errorf("vulndb: export: %w", err)
	}
	defer advs.Close()
	affected, err := newCursor(ctx, d.db, `SELECT a.source, f.id, f.ecosystem, f.name FROM affected f JOIN advisories a ON a.id = f.id ORDER BY a.source, f.id, f.ecosystem, f.name`)
	if err != nil {
		return err
	}
	defer affected.close()
	aliases, err := newCursor(ctx, d.db, `SELECT a.source, l.id, l.alias, '' FROM aliases l JOIN advisories a ON a.id = l.id ORDER BY a.source, l.id, l.alias`)
	if err != nil {
		return err
	}
	defer aliases.close()
	var w *partitionWriter
	defer func() {
		if w != nil {
			w.abort()
		}
	}()
	for advs.Next() {
		var l advisoryLine
		var data []byte
		if err := advs.Scan(&l.Source, &l.ID, &data); err != nil {
			return fmt.Errorf("vulndb: export: %w", err)
		}
		l.Data = data
		for affected.ok && affected.row[0] == l.Source && affected.row[1] == l.ID {
			l.Affected = append(l.Affected, [2]string{affected.row[2], affected.row[3]})
			affected.next()
		}
		for aliases.ok && aliases.row[0] == l.Source && aliases.row[1] == l.ID {
			l.Aliases = append(l.Aliases, aliases.row[2])
			aliases.next()
		}
		if affected.err != nil || aliases.err != nil {
			return fmt.Errorf("vulndb: export: %w", errors.Join(affected.err, aliases.err))
		}
		name := "advisories/" + l.Source
		if w == nil || w.name != name {
			if w != nil {
				err := w.finish(ex)
				w = nil
				if err != nil {
					return err
				}
			}
			if w, err = newPartitionWriter(ex.Dir, name); err != nil {
				return err
			}
		}
		if err := w.add(l); err != nil {
			return fmt.Errorf("vulndb: export %s: %w", name, err)
		}
	}
	if err := advs.Err(); err != nil {
		return fmt.Errorf("vulndb: export: %w", err)
	}
	if w != nil {
		err := w.finish(ex)
		w = nil
		return err
	}
	return nil
}

// cursor reads rows of four text columns one at a time.
type cursor struct {
	rows *sql.Rows
	row  [4]string
	ok   bool
	err  error
}

func newCursor(ctx context.Context, db *sql.DB, q string) (*cursor, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("vulndb: export: %w", err)
	}
	c := &cursor{rows: rows}
	c.next()
	return c, c.err
}

func (c *cursor) next() {
	c.ok = c.rows.Next()
	if c.ok {
		c.err = c.rows.Scan(&c.row[0], &c.row[1], &c.row[2], &c.row[3])
		c.ok = c.err == nil
	} else {
		c.err = c.rows.Err()
	}
}

func (c *cursor) close() { c.rows.Close() }

// Installed says where a database came from when it was assembled from
// partitions; it is kept in the database itself (meta key "installed").
type Installed struct {
	// Version is the version the database was published as; Reference
	// where it was fetched from ("host/vigil/db:latest") and Manifest the
	// digest of the manifest read.
	Version   string `json:"version"`
	Reference string `json:"reference"`
	Manifest  string `json:"manifest"`
	// Pulled is when it was installed (RFC 3339).
	Pulled string `json:"pulled"`
	// Partitions are the partitions the database holds, by name: their
	// digests, which a later update compares with the new version's.
	Partitions map[string]Partition `json:"partitions"`
}

// Installed returns what the database records of where it came from, nil
// for a database built here from feeds.
func (d *DB) Installed(ctx context.Context) (*Installed, error) {
	var raw string
	err := d.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key='installed'`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vulndb: %w", err)
	}
	in := new(Installed)
	if err := json.Unmarshal([]byte(raw), in); err != nil {
		return nil, fmt.Errorf("vulndb: %s: meta installed: %w", d.path, err)
	}
	return in, nil
}

// Assembly is a database to install from partitions: the snapshot, every
// partition of the new version, and where the encoding of those the held
// database lacks can be read.
type Assembly struct {
	Snapshot   Snapshot
	Partitions []Partition
	// Open reads a partition's compressed encoding; it is asked only for
	// the partitions that the database being replaced does not hold with
	// the same digest. The reader's content must already be verified
	// against the digest.
	Open      func(p Partition) (io.ReadCloser, error)
	Installed Installed
}

// Needed lists the partitions of a that the database at path (which may
// be missing, or built from feeds) does not hold; base is true when that
// database can be updated in place of being assembled anew.
func Needed(ctx context.Context, path string, parts []Partition) (need []Partition, base bool, err error) {
	held := map[string]Partition{}
	db, err := Open(ctx, path)
	switch {
	case err == nil:
		in, ierr := db.Installed(ctx)
		db.Close()
		if ierr != nil {
			return nil, false, ierr
		}
		if in != nil {
			held, base = in.Partitions, true
		}
	case errors.Is(err, ErrNoDatabase):
	default:
		// A database of another schema, or unreadable: replaced whole.
	}
	for _, p := range parts {
		if h, ok := held[p.Name]; !ok || h.Digest != p.Digest {
			need = append(need, p)
		}
	}
	return need, base, nil
}

// Install assembles the database from a's partitions and swaps it into
// place. When the current database was itself installed from partitions,
// only those that changed are rewritten, on a copy; otherwise it is made
// anew. Either way the current database stays in place, and usable, until
// the new one is complete.
func (d *Dir) Install(ctx context.Context, a *Assembly) error {
	if a.Snapshot.Schema != schemaVersion {
		return fmt.Errorf("vulndb: the database offered has schema version %d, this Vigil reads %d", a.Snapshot.Schema, schemaVersion)
	}
	out := d.DatabasePath()
	need, base, err := Needed(ctx, out, a.Partitions)
	if err != nil {
		return err
	}
	var held map[string]Partition
	if base {
		db, err := Open(ctx, out)
		if err != nil {
			return err
		}
		in, err := db.Installed(ctx)
		db.Close()
		if err != nil {
			return err
		}
		held = in.Partitions
	}
	return replaceDatabase(out, func(tmp string) error {
		if base {
			if err := copyDatabase(out, tmp); err != nil {
				return err
			}
		}
		return assemble(ctx, tmp, base, held, need, a)
	})
}

func copyDatabase(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("vulndb: copying %s: %w", from, err)
	}
	return dst.Close()
}

func assemble(ctx context.Context, path string, base bool, held map[string]Partition, need []Partition, a *Assembly) error {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=locking_mode(EXCLUSIVE)&_pragma=cache_size(-65536)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("vulndb: install: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if !base {
		if _, err := db.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("vulndb: install: %w", err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("vulndb: install: %w", err)
	}
	defer tx.Rollback()
	// What the new version no longer has, or has otherwise, goes first.
	if base {
		keep := map[string]string{}
		for _, p := range a.Partitions {
			keep[p.Name] = p.Digest
		}
		for name, p := range held {
			if keep[name] != p.Digest {
				if err := deletePartition(ctx, tx, name); err != nil {
					return err
				}
			}
		}
	}
	for _, p := range need {
		if err := loadPartition(ctx, tx, p, a.Open); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sources; DELETE FROM meta`); err != nil {
		return fmt.Errorf("vulndb: install: %w", err)
	}
	for _, s := range a.Snapshot.Sources {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sources(name, kind, url, records, fetched, updated, updated_from, ecosystems, errors, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.Name, s.Kind, s.URL, s.Records, s.Fetched, s.Updated, s.UpdatedFrom, s.Ecosystems, s.Errors, s.Warnings); err != nil {
			return fmt.Errorf("vulndb: install: %w", err)
		}
	}
	in := a.Installed
	in.Partitions = map[string]Partition{}
	for _, p := range a.Partitions {
		in.Partitions[p.Name] = p
	}
	inRaw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	meta := map[string]string{"schema": fmt.Sprint(schemaVersion), "built": a.Snapshot.Built, "installed": string(inRaw)}
	if a.Snapshot.Digest != "" {
		meta["digest"] = a.Snapshot.Digest
		meta["version"] = a.Snapshot.Version
	}
	for k, v := range meta {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES (?, ?)`, k, v); err != nil {
			return fmt.Errorf("vulndb: install: %w", err)
		}
	}
	if !base {
		if _, err := tx.ExecContext(ctx, indexes); err != nil {
			return fmt.Errorf("vulndb: install: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, derived); err != nil {
		return fmt.Errorf("vulndb: install: %w", err)
	}
	if err := checkCounts(ctx, tx, a.Partitions); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("vulndb: install: %w", err)
	}
	return db.Close()
}

// deletePartition removes a partition's rows.
func deletePartition(ctx context.Context, tx *sql.Tx, name string) error {
	var stmts []string
	var args []any
	switch {
	case strings.HasPrefix(name, "advisories/"):
		src := strings.TrimPrefix(name, "advisories/")
		stmts = []string{
			`DELETE FROM affected WHERE id IN (SELECT id FROM advisories WHERE source = ?)`,
			`DELETE FROM aliases WHERE id IN (SELECT id FROM advisories WHERE source = ?)`,
			`DELETE FROM advisories WHERE source = ?`,
		}
		args = []any{src}
	case name == "epss" || name == "kev":
		stmts = []string{`DELETE FROM ` + name}
	case strings.HasPrefix(name, "nvd/"):
		where, a := nvdPartitionWhere(strings.TrimPrefix(name, "nvd/"))
		stmts, args = []string{`DELETE FROM nvd WHERE ` + where}, a
	default:
		return fmt.Errorf("vulndb: install: unknown partition %q", name)
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s, args...); err != nil {
			return fmt.Errorf("vulndb: install: removing %s: %w", name, err)
		}
	}
	return nil
}

// maxLine bounds one record of a partition (the largest advisories are
// a few hundred KiB).
const maxLine = 64 << 20

// loadPartition inserts a partition's rows.
func loadPartition(ctx context.Context, tx *sql.Tx, p Partition, open func(Partition) (io.ReadCloser, error)) error {
	rc, err := open(p)
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(32<<20))
	if err != nil {
		return fmt.Errorf("vulndb: install %s: %w", p.Name, err)
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	kind := p.Name
	if i := strings.IndexByte(kind, '/'); i >= 0 {
		kind = kind[:i]
	}
	var ins []*sql.Stmt
	for _, q := range map[string][]string{
		"advisories": {`INSERT INTO advisories(id, source, data) VALUES (?, ?, ?)`, `INSERT INTO affected(ecosystem, name, id) VALUES (?, ?, ?)`, `INSERT INTO aliases(alias, id) VALUES (?, ?)`},
		"epss":       {`INSERT INTO epss(cve, score, percentile) VALUES (?, ?, ?)`},
		"kev":        {`INSERT INTO kev(cve, data) VALUES (?, ?)`},
		"nvd":        {`INSERT INTO nvd(cve, data) VALUES (?, ?)`},
	}[kind] {
		s, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("vulndb: install %s: %w", p.Name, err)
		}
		defer s.Close()
		ins = append(ins, s)
	}
	if len(ins) == 0 {
		return fmt.Errorf("vulndb: install: unknown partition %q", p.Name)
	}
	src := strings.TrimPrefix(p.Name, "advisories/")
	line := 0
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			return err
		}
		bad := func(err error) error {
			return fmt.Errorf("vulndb: install %s (blob %s): record %d: %w", p.Name, p.Digest, line, err)
		}
		switch kind {
		case "advisories":
			var l advisoryLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return bad(err)
			}
			if l.Source != src || l.ID == "" {
				return bad(fmt.Errorf("advisory %q of feed %q in the partition of %q", l.ID, l.Source, src))
			}
			if _, err := ins[0].ExecContext(ctx, l.ID, l.Source, []byte(l.Data)); err != nil {
				return bad(err)
			}
			for _, af := range l.Affected {
				if _, err := ins[1].ExecContext(ctx, af[0], af[1], l.ID); err != nil {
					return bad(err)
				}
			}
			for _, al := range l.Aliases {
				if _, err := ins[2].ExecContext(ctx, al, l.ID); err != nil {
					return bad(err)
				}
			}
		case "epss":
			var l epssLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return bad(err)
			}
			if _, err := ins[0].ExecContext(ctx, l.CVE, l.Score, l.Percentile); err != nil {
				return bad(err)
			}
		default:
			var l dataLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return bad(err)
			}
			if kind == "nvd" && "nvd/"+cveYear(l.CVE) != p.Name {
				return bad(fmt.Errorf("%s does not belong in %s", l.CVE, p.Name))
			}
			if _, err := ins[0].ExecContext(ctx, l.CVE, []byte(l.Data)); err != nil {
				return bad(err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("vulndb: install %s (blob %s): %w", p.Name, p.Digest, err)
	}
	if line != p.Rows {
		return fmt.Errorf("vulndb: install %s (blob %s): %d records, the manifest says %d", p.Name, p.Digest, line, p.Rows)
	}
	return nil
}

// checkCounts compares the assembled database's rows with what the
// partitions say they hold, so that an update applied to a database that
// was not what its record said is caught rather than installed.
func checkCounts(ctx context.Context, tx *sql.Tx, parts []Partition) error {
	have := map[string]int{}
	for _, q := range []string{
		`SELECT 'advisories/' || source, count(*) FROM advisories GROUP BY source`,
		`SELECT 'epss', count(*) FROM epss HAVING count(*) > 0`,
		`SELECT 'kev', count(*) FROM kev HAVING count(*) > 0`,
		`SELECT 'nvd/' || CASE WHEN cve GLOB 'CVE-[0-9][0-9][0-9][0-9]-?*' THEN substr(cve, 5, 4) ELSE 'other' END AS p, count(*) FROM nvd GROUP BY p`,
	} {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("vulndb: install: %w", err)
		}
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				rows.Close()
				return err
			}
			have[name] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, p := range parts {
		if have[p.Name] != p.Rows {
			return fmt.Errorf("vulndb: install: the assembled database has %d records of %s, its partition %d", have[p.Name], p.Name, p.Rows)
		}
		delete(have, p.Name)
	}
	for name, n := range have {
		return fmt.Errorf("vulndb: install: the assembled database has %d records of %s, which the version installed does not have", n, name)
	}
	return nil
}
