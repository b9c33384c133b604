// Package vulndb is Vigil's local vulnerability database: advisories from
// every feed, indexed by (ecosystem, package name), with EPSS scores, the
// CISA KEV catalog and NVD's CVSS vectors beside them. It is one SQLite
// file, built in full from the downloaded feed files and swapped into
// place atomically, then opened read-only by scans.
//
// The feeds themselves are parsed by the packages beneath this one (osv,
// alpine, debian, nvd, epss, kev), each of which turns published bytes into
// Vigil's model without any network access.
package vulndb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/vuln"
)

// schemaVersion changes whenever the database layout or the way feeds are
// converted changes; a database of another version must be rebuilt.
const schemaVersion = 4

// ErrNoDatabase is returned by Open when there is no database yet.
var ErrNoDatabase = errors.New("vulndb: no vulnerability database (run `vigil db update`, or `vigil db import` for air-gapped sites)")

// DB is an opened database, read-only. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	path    string
	built   time.Time
	digest  string
	version string

	byPackage *sql.Stmt
	byID      *sql.Stmt
	byAlias   *sql.Stmt
	epss      *sql.Stmt
	kev       *sql.Stmt
	nvd       *sql.Stmt
}

// Open opens the database file at path for reading.
func Open(ctx context.Context, path string) (*DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoDatabase
	}
	// immutable=1: the file is only ever replaced by a rename, never
	// changed in place, so SQLite may skip locking entirely.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&immutable=1&_pragma=query_only(1)"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("vulndb: open %s: %w", path, err)
	}
	d := &DB{db: sdb, path: path}
	var version int
	var built, digest string
	err = sdb.QueryRowContext(ctx, `SELECT (SELECT value FROM meta WHERE key='schema'), (SELECT value FROM meta WHERE key='built'),
		COALESCE((SELECT value FROM meta WHERE key='digest'), '')`).Scan(&version, &built, &digest)
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("vulndb: %s is not a Vigil vulnerability database: %w", path, err)
	}
	if version != schemaVersion {
		sdb.Close()
		return nil, fmt.Errorf("vulndb: %s has schema version %d, this Vigil reads %d: run `vigil db update` (or `vigil db import`) to rebuild it", path, version, schemaVersion)
	}
	d.built, _ = time.Parse(time.RFC3339Nano, built)
	d.digest, d.version = digest, MakeVersion(d.built, digest)
	for _, s := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&d.byPackage, `SELECT a.data FROM affected f JOIN advisories a ON a.id = f.id WHERE f.ecosystem = ? AND f.name = ? ORDER BY a.id`},
		{&d.byID, `SELECT data FROM advisories WHERE id = ?`},
		{&d.byAlias, `SELECT DISTINCT id FROM aliases WHERE alias = ? ORDER BY id`},
		{&d.epss, `SELECT score, percentile FROM epss WHERE cve = ?`},
		{&d.kev, `SELECT data FROM kev WHERE cve = ?`},
		{&d.nvd, `SELECT data FROM nvd WHERE cve = ?`},
	} {
		if *s.stmt, err = sdb.PrepareContext(ctx, s.q); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("vulndb: %s: %w", path, err)
		}
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Built is when the database was built.
func (d *DB) Built() time.Time { return d.built }

// Version names the database: its build time and content digest (see
// MakeVersion).
func (d *DB) Version() string { return d.version }

// Digest is the SHA-256 of the database's content ("sha256:…"), empty for
// a database built before digests were recorded.
func (d *DB) Digest() string { return d.digest }

// Affecting returns the advisories that name the package in the ecosystem,
// withdrawn ones excluded. Whether the package's version is affected is for
// the caller to decide.
func (d *DB) Affecting(ctx context.Context, ecosystem, name string) ([]*vuln.Advisory, error) {
	rows, err := d.byPackage.QueryContext(ctx, ecosystem, NormalizeName(ecosystem, name))
	if err != nil {
		return nil, fmt.Errorf("vulndb: query %s %s: %w", ecosystem, name, err)
	}
	defer rows.Close()
	var out []*vuln.Advisory
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		a := new(vuln.Advisory)
		if err := json.Unmarshal(data, a); err != nil {
			return nil, fmt.Errorf("vulndb: stored advisory for %s %s: %w", ecosystem, name, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Advisory returns the advisory with the given id, or nil if there is none.
func (d *DB) Advisory(ctx context.Context, id string) (*vuln.Advisory, error) {
	var data []byte
	err := d.byID.QueryRowContext(ctx, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vulndb: advisory %s: %w", id, err)
	}
	a := new(vuln.Advisory)
	return a, json.Unmarshal(data, a)
}

// Aliased returns the ids of the advisories that give id as an alias or as
// their own id.
func (d *DB) Aliased(ctx context.Context, id string) ([]string, error) {
	rows, err := d.byAlias.QueryContext(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		ids = append(ids, s)
	}
	return ids, rows.Err()
}

// EPSS is a CVE's exploit prediction.
type EPSS struct {
	Score, Percentile float64
}

// EPSS returns the CVE's EPSS score, or nil when the feed has none.
func (d *DB) EPSS(ctx context.Context, cve string) (*EPSS, error) {
	var e EPSS
	err := d.epss.QueryRowContext(ctx, cve).Scan(&e.Score, &e.Percentile)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vulndb: epss %s: %w", cve, err)
	}
	return &e, nil
}

// KEV is a CISA Known Exploited Vulnerabilities catalog entry.
type KEV struct {
	CVE                        string    `json:"cveID"`
	VendorProject              string    `json:"vendorProject,omitempty"`
	Product                    string    `json:"product,omitempty"`
	Name                       string    `json:"vulnerabilityName,omitempty"`
	DateAdded                  time.Time `json:"dateAdded"`
	DueDate                    time.Time `json:"dueDate,omitzero"`
	RequiredAction             string    `json:"requiredAction,omitempty"`
	KnownRansomwareCampaignUse bool      `json:"knownRansomwareCampaignUse,omitempty"`
}

// KEV returns the CVE's KEV entry, or nil when CISA does not list it.
func (d *DB) KEV(ctx context.Context, cve string) (*KEV, error) {
	var data []byte
	err := d.kev.QueryRowContext(ctx, cve).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vulndb: kev %s: %w", cve, err)
	}
	k := new(KEV)
	return k, json.Unmarshal(data, k)
}

// NVD is what NVD says of a CVE.
type NVD struct {
	CVE          string          `json:"id"`
	Published    time.Time       `json:"published,omitzero"`
	LastModified time.Time       `json:"lastModified,omitzero"`
	Status       string          `json:"status,omitempty"`
	Description  string          `json:"description,omitempty"`
	Severity     []vuln.Severity `json:"severity,omitempty"`
	CWEs         []string        `json:"cwes,omitempty"`
	References   []string        `json:"references,omitempty"`
}

// NVD returns NVD's record of the CVE, or nil when there is none.
func (d *DB) NVD(ctx context.Context, cve string) (*NVD, error) {
	var data []byte
	err := d.nvd.QueryRowContext(ctx, cve).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vulndb: nvd %s: %w", cve, err)
	}
	n := new(NVD)
	return n, json.Unmarshal(data, n)
}

// SourceStatus describes one feed in the database.
type SourceStatus struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	URL  string `json:"url,omitempty"`
	// Records is the number of records the feed contributed.
	Records int `json:"records"`
	// Fetched is when the feed's file was last downloaded or imported:
	// the age of the copy, not of its data.
	Fetched time.Time `json:"fetched"`
	// Updated is how recent the feed's data is (see DataAge); zero when
	// the data and its server say nothing of it. UpdatedFrom names what
	// the date was read from.
	Updated     time.Time `json:"updated,omitzero"`
	UpdatedFrom string    `json:"updatedFrom,omitempty"`
	// Ecosystems are the OSV ecosystems of the feed's advisories
	// ("Debian:11", "npm"), so that a scan can tell which feeds it
	// relied on; empty for EPSS, KEV and NVD, which describe CVEs.
	Ecosystems []string `json:"ecosystems,omitempty"`
	// Errors counts malformed records that were skipped; Warnings
	// records read despite a problem.
	Errors   int `json:"errors,omitempty"`
	Warnings int `json:"warnings,omitempty"`
}

// DataAge is the age of the feed's data at now, and false when it is
// unknown.
func (s SourceStatus) DataAge(now time.Time) (time.Duration, bool) {
	if !realTime(s.Updated) {
		return 0, false
	}
	return now.Sub(s.Updated), true
}

// Sources lists the feeds the database was built from.
func (d *DB) Sources(ctx context.Context) ([]SourceStatus, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT name, kind, url, records, fetched, updated, updated_from, ecosystems, errors, warnings FROM sources ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SourceStatus
	for rows.Next() {
		var s SourceStatus
		var fetched, updated, ecosystems string
		if err := rows.Scan(&s.Name, &s.Kind, &s.URL, &s.Records, &fetched, &updated, &s.UpdatedFrom, &ecosystems, &s.Errors, &s.Warnings); err != nil {
			return nil, err
		}
		s.Fetched, _ = time.Parse(time.RFC3339Nano, fetched)
		s.Updated, _ = time.Parse(time.RFC3339Nano, updated)
		if ecosystems != "" {
			s.Ecosystems = strings.Split(ecosystems, "\n")
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// NormalizeName puts a package name in the form the ecosystem compares
// names in: PEP 503 for PyPI, lower case where the ecosystem ignores case
// (NuGet, Packagist, RubyGems is case-sensitive and stays as is).
func NormalizeName(ecosystem, name string) string {
	switch ecosystemBase(ecosystem) {
	case "PyPI":
		return inventory.NormalizePyPI(name)
	case "NuGet", "Packagist":
		return strings.ToLower(name)
	}
	return name
}

// ecosystemBase is the ecosystem without its release: "Debian:12" → "Debian".
func ecosystemBase(e string) string {
	if i := strings.IndexByte(e, ':'); i >= 0 {
		return e[:i]
	}
	return e
}
