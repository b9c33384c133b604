package vulndb

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/vuln"
	"github.com/vigilsec/vigil/internal/vulndb/alpine"
	"github.com/vigilsec/vigil/internal/vulndb/csaf"
	"github.com/vigilsec/vigil/internal/vulndb/debian"
	"github.com/vigilsec/vigil/internal/vulndb/epss"
	"github.com/vigilsec/vigil/internal/vulndb/kev"
	"github.com/vigilsec/vigil/internal/vulndb/nvd"
	"github.com/vigilsec/vigil/internal/vulndb/osv"
	"github.com/vigilsec/vigil/internal/vulndb/oval"
	"github.com/vigilsec/vigil/internal/vulndb/updateinfo"
)

const schema = `
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources(name TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL, records INTEGER NOT NULL,
	fetched TEXT NOT NULL, updated TEXT NOT NULL, updated_from TEXT NOT NULL, ecosystems TEXT NOT NULL,
	errors INTEGER NOT NULL, warnings INTEGER NOT NULL);
CREATE TABLE advisories(id TEXT PRIMARY KEY, source TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE affected(ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL);
CREATE TABLE aliases(alias TEXT NOT NULL, id TEXT NOT NULL);
CREATE TABLE epss(cve TEXT PRIMARY KEY, score REAL NOT NULL, percentile REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE kev(cve TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE nvd(cve TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE ecosystem_sources(ecosystem TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY(ecosystem, source)) WITHOUT ROWID;
`

// Indexes are made after the rows are in: one sort instead of a b-tree
// insert per row.
const indexes = `
CREATE INDEX affected_package ON affected(ecosystem, name);
CREATE INDEX aliases_alias ON aliases(alias);
`

// derived is remade after every build and every install: which advisory
// sources name packages of each ecosystem, which a scan's coverage asks
// for every ecosystem it meets and which the full feeds would otherwise
// answer by joining hundreds of thousands of rows each time.
const derived = `
DELETE FROM ecosystem_sources;
INSERT INTO ecosystem_sources(ecosystem, source)
	SELECT DISTINCT f.ecosystem, a.source FROM affected f JOIN advisories a ON a.id = f.id;
`

// maxRecordErrors bounds the per-record errors a build keeps for its
// report; the counts stay exact.
const maxRecordErrors = 200

// BuildReport says what a build read.
type BuildReport struct {
	Sources []SourceStatus `json:"sources"`
	// Advisories is the number of advisories indexed; Withdrawn those
	// left out because their source withdrew them.
	Advisories int `json:"advisories"`
	Withdrawn  int `json:"withdrawn"`
	// Errors are malformed records that were skipped, each naming its
	// feed and record (the first maxRecordErrors of them).
	Errors   []string      `json:"errors,omitempty"`
	Duration time.Duration `json:"durationNs"`
	// Version and Digest are the new database's (see version.go).
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// Build makes the database from the feed files present and swaps it into
// place. The database being replaced stays usable by readers that have it
// open, and is untouched if the build fails.
func (d *Dir) Build(ctx context.Context) (*BuildReport, error) {
	feeds, err := d.feeds()
	if err != nil {
		return nil, err
	}
	return d.build(ctx, feeds)
}

func (d *Dir) build(ctx context.Context, feeds []*feed) (*BuildReport, error) {
	start := time.Now()
	var b *builder
	err := replaceDatabase(d.DatabasePath(), func(tmp string) error {
		var err error
		if b, err = newBuilder(ctx, tmp); err != nil {
			return err
		}
		return b.loadAll(ctx, feeds)
	})
	if err != nil {
		return nil, err
	}
	b.report.Duration = time.Since(start)
	return &b.report, nil
}

// replaceDatabase has write make a new database file beside out and
// renames it into place: readers that have the old one open keep it, and
// if write fails nothing changes.
func replaceDatabase(out string, write func(tmp string) error) error {
	tmpFile, err := os.CreateTemp(filepath.Dir(out), ".build-*.sqlite")
	if err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	tmp := tmpFile.Name()
	tmpFile.Close()
	defer os.Remove(tmp)
	if err := write(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	return nil
}

func (b *builder) loadAll(ctx context.Context, feeds []*feed) error {
	sort.SliceStable(feeds, func(i, j int) bool {
		a, c := feeds[i].Source, feeds[j].Source
		if priority[a.Kind] != priority[c.Kind] {
			return priority[a.Kind] < priority[c.Kind]
		}
		return a.Name < c.Name
	})
	for _, f := range feeds {
		if err := b.load(ctx, f); err != nil {
			b.abort()
			return err
		}
	}
	return b.finish(ctx)
}

type builder struct {
	db     *sql.DB
	tx     *sql.Tx
	report BuildReport
	// content hashes every row as it is stored (see version.go).
	content *contentDigest

	ids    map[string]struct{}
	alpine []vuln.Advisory // read, not yet indexed
	// seenAffected and seenAliases hold the rows of the advisory being
	// indexed, emptied for each: an advisory's id is stored once (see
	// ids), so a repeated (ecosystem, name, id) or (alias, id) row can
	// only come from the same advisory, and nothing needs to be kept
	// across the whole build for them.
	seenAffected map[[2]string]struct{}
	seenAliases  map[string]struct{}

	insAdvisory, insAffected, insAlias, insEPSS, insKEV, insNVD *sql.Stmt
}

func newBuilder(ctx context.Context, path string) (*builder, error) {
	// The file is private until renamed into place, so durability
	// during the build buys nothing: a crash leaves only a temporary
	// file behind.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=locking_mode(EXCLUSIVE)&_pragma=cache_size(-65536)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("vulndb: build: %w", err)
	}
	db.SetMaxOpenConns(1)
	b := &builder{db: db, content: newContentDigest(), ids: map[string]struct{}{},
		seenAffected: map[[2]string]struct{}{}, seenAliases: map[string]struct{}{}}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("vulndb: build: %w", err)
	}
	if b.tx, err = db.BeginTx(ctx, nil); err != nil {
		db.Close()
		return nil, err
	}
	for _, s := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&b.insAdvisory, `INSERT INTO advisories(id, source, data) VALUES (?, ?, ?)`},
		{&b.insAffected, `INSERT INTO affected(ecosystem, name, id) VALUES (?, ?, ?)`},
		{&b.insAlias, `INSERT INTO aliases(alias, id) VALUES (?, ?)`},
		{&b.insEPSS, `INSERT OR REPLACE INTO epss(cve, score, percentile) VALUES (?, ?, ?)`},
		{&b.insKEV, `INSERT OR REPLACE INTO kev(cve, data) VALUES (?, ?)`},
		{&b.insNVD, `INSERT OR REPLACE INTO nvd(cve, data) VALUES (?, ?)`},
	} {
		if *s.stmt, err = b.tx.PrepareContext(ctx, s.q); err != nil {
			b.abort()
			return nil, fmt.Errorf("vulndb: build: %w", err)
		}
	}
	return b, nil
}

func (b *builder) abort() {
	if b.tx != nil {
		b.tx.Rollback()
	}
	b.db.Close()
}

// flushAlpine indexes the Alpine advisories read so far, merged by id.
func (b *builder) flushAlpine(ctx context.Context) error {
	merged := alpine.Merge(b.alpine)
	b.alpine = nil
	for i := range merged {
		if _, err := b.advisory(ctx, &merged[i]); err != nil {
			return fmt.Errorf("vulndb: alpine secdb: %w", err)
		}
	}
	return nil
}

// isWarning reports a per-record problem after which the record was still
// read (a newer schema version, a misspelt id that was corrected).
func isWarning(err error) bool {
	var oe *osv.RecordError
	var ae *alpine.RecordError
	var ue *updateinfo.RecordError
	return (errors.As(err, &oe) && oe.Warning) || (errors.As(err, &ae) && ae.Warning) || (errors.As(err, &ue) && ue.Warning)
}

func (b *builder) finish(ctx context.Context) error {
	if err := b.flushAlpine(ctx); err != nil {
		b.abort()
		return err
	}
	for _, s := range b.report.Sources {
		b.content.strings("source", s.Name, string(s.Kind), fmt.Sprint(s.Records), formatTime(s.Updated), s.UpdatedFrom, strings.Join(s.Ecosystems, "\n"))
	}
	built := time.Now().UTC()
	b.report.Digest = b.content.sum()
	b.report.Version = MakeVersion(built, b.report.Digest)
	for k, v := range map[string]string{
		"schema":  fmt.Sprint(schemaVersion),
		"built":   built.Format(time.RFC3339Nano),
		"digest":  b.report.Digest,
		"version": b.report.Version,
	} {
		if _, err := b.tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES (?, ?)`, k, v); err != nil {
			b.abort()
			return err
		}
	}
	for _, s := range b.report.Sources {
		if _, err := b.tx.ExecContext(ctx, `INSERT INTO sources(name, kind, url, records, fetched, updated, updated_from, ecosystems, errors, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.Name, string(s.Kind), s.URL, s.Records, s.Fetched.Format(time.RFC3339Nano), formatTime(s.Updated), s.UpdatedFrom,
			strings.Join(s.Ecosystems, "\n"), s.Errors, s.Warnings); err != nil {
			b.abort()
			return err
		}
	}
	if _, err := b.tx.ExecContext(ctx, indexes+derived); err != nil {
		b.abort()
		return err
	}
	if err := b.tx.Commit(); err != nil {
		b.db.Close()
		return fmt.Errorf("vulndb: build: %w", err)
	}
	b.tx = nil
	return b.db.Close()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// load reads one feed file into the database.
func (b *builder) load(ctx context.Context, f *feed) error {
	st := SourceStatus{Name: f.Source.Name, Kind: f.Source.Kind, URL: f.Source.URL, Fetched: f.Fetched}
	// The newest record date, and the feed's own date line, kept apart:
	// which one tells the data's age depends on the kind (see dataAge).
	var newestRecord, feedDate time.Time
	ecosystems := map[string]bool{}
	noteEcosystems := func(a *vuln.Advisory) {
		for _, af := range a.Affected {
			if af.Package.Ecosystem != "" {
				ecosystems[af.Package.Ecosystem] = true
			}
		}
	}
	var errs []error
	recordErr := func(es []error) {
		for _, e := range es {
			if isWarning(e) {
				st.Warnings++
			} else {
				st.Errors++
			}
			if len(b.report.Errors) < maxRecordErrors {
				b.report.Errors = append(b.report.Errors, f.Source.Name+": "+e.Error())
			}
		}
	}
	if f.Source.Kind != KindAlpine {
		if err := b.flushAlpine(ctx); err != nil {
			return err
		}
	}
	file, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("vulndb: feed %s: %w", f.Source.Name, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	add := func(a *vuln.Advisory) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if a.Source == "" || a.Source == "osv" {
			a.Source = f.Source.Name
		}
		// OSV requires modified; a zeroed one (the Go database's
		// repository copy) makes the record's dates no evidence of age,
		// published included.
		if realTime(a.Modified) {
			newer(&newestRecord, a.Modified)
			newer(&newestRecord, a.Published)
		}
		noteEcosystems(a)
		n, err := b.advisory(ctx, a)
		st.Records += n
		return err
	}
	switch f.Source.Kind {
	case KindOSV:
		err = readAhead(func(emit func(*vuln.Advisory) error) error {
			var rerr error
			errs, rerr = osv.ReadZip(file, info.Size(), emit)
			return rerr
		}, add)
	case KindAlpine:
		// osv.dev gives an Alpine CVE one id across every branch and
		// repository, so the secdb files are merged before they are
		// indexed: see flushAlpine.
		var data []byte
		if data, err = io.ReadAll(io.LimitReader(file, 256<<20)); err == nil {
			var advs []vuln.Advisory
			advs, errs, err = alpine.Parse(data)
			st.Records = len(advs)
			for i := range advs {
				advs[i].Source = "alpine-secdb"
				noteEcosystems(&advs[i])
			}
			b.alpine = append(b.alpine, advs...)
		}
	case KindDSA, KindDLA, KindDebianTracker:
		var advs []vuln.Advisory
		switch f.Source.Kind {
		case KindDSA:
			advs, errs, err = debian.ParseList(bufio.NewReader(file), "DSA")
		case KindDLA:
			advs, errs, err = debian.ParseList(bufio.NewReader(file), "DLA")
		default:
			advs, errs, err = debian.ParseTrackerJSON(bufio.NewReader(file))
		}
		for i := range advs {
			if err == nil {
				err = add(&advs[i])
			}
		}
	case KindEPSS:
		var meta epss.Meta
		meta, errs, err = epss.Parse(file, func(s epss.Score) error {
			st.Records++
			b.content.strings("epss", s.CVE, fmt.Sprint(s.EPSS), fmt.Sprint(s.Percentile))
			_, err := b.insEPSS.ExecContext(ctx, s.CVE, s.EPSS, s.Percentile)
			return err
		})
		feedDate = meta.ScoreDate
	case KindKEV:
		var cat kev.Catalog
		cat, errs, err = kev.Parse(file)
		if err == nil {
			feedDate = cat.DateReleased
			for _, v := range cat.Vulnerabilities {
				data, merr := json.Marshal(KEV{CVE: v.CVEID, VendorProject: v.VendorProject, Product: v.Product,
					Name: v.VulnerabilityName, DateAdded: v.DateAdded, DueDate: v.DueDate,
					RequiredAction: v.RequiredAction, KnownRansomwareCampaignUse: v.KnownRansomwareCampaignUse})
				if merr != nil {
					return merr
				}
				b.content.row([]byte("kev"), []byte(v.CVEID), data)
				if _, err = b.insKEV.ExecContext(ctx, v.CVEID, data); err != nil {
					break
				}
				st.Records++
			}
		}
	case KindNVD:
		var page nvd.Page
		err = readAhead(func(emit func(nvd.CVE) error) error {
			var rerr error
			page, errs, rerr = nvd.Parse(file, emit)
			return rerr
		}, func(c nvd.CVE) error {
			var refs []string
			for _, r := range c.References {
				refs = append(refs, r.URL)
			}
			data, err := json.Marshal(NVD{CVE: c.ID, Published: c.Published, LastModified: c.LastModified,
				Status: c.Status, Description: c.Description, Severity: c.Severities(), CWEs: c.CWEs, References: refs})
			if err != nil {
				return err
			}
			newer(&newestRecord, c.LastModified)
			newer(&newestRecord, c.Published)
			st.Records++
			b.content.row([]byte("nvd"), []byte(c.ID), data)
			if _, err = b.insNVD.ExecContext(ctx, c.ID, data); err != nil {
				return err
			}
			// The vulnerable applications it names, as an advisory
			// matched against programs found by their CPEs; the
			// record itself was counted above.
			if a, ok := c.CPEAdvisory(); ok {
				a.Source = f.Source.Name
				noteEcosystems(&a)
				_, err = b.advisory(ctx, &a)
			}
			return err
		})
		feedDate = page.Timestamp
	case KindUpdateInfo:
		eco := UpdateInfoEcosystem(f.Source.Name)
		if eco == "" {
			return fmt.Errorf("vulndb: feed %s: the name says no Amazon Linux release", f.Source.Name)
		}
		errs, err = updateinfo.Parse(file, eco, func(a *vuln.Advisory) error {
			a.Source = f.Source.Name
			return add(a)
		})
	case KindRedHatVEX, KindSUSEVEX:
		var arch csaf.Archive
		arch, errs, err = csaf.ReadArchive(bufio.NewReader(file), func(a *vuln.Advisory) error {
			a.Source = f.Source.Name
			return add(a)
		})
		feedDate = arch.Newest
	case KindOracleOVAL, KindPhotonOVAL:
		var meta oval.Meta
		meta, errs, err = oval.Parse(bufio.NewReader(file), func(a *vuln.Advisory) error {
			a.Source = f.Source.Name
			return add(a)
		})
		feedDate = meta.Timestamp
	default:
		return fmt.Errorf("vulndb: feed %s: unknown kind %q", f.Source.Name, f.Source.Kind)
	}
	if err != nil {
		return fmt.Errorf("vulndb: feed %s: %w", f.Source.Name, err)
	}
	recordErr(errs)
	st.Updated, st.UpdatedFrom = dataAge(f, newestRecord, feedDate)
	for e := range ecosystems {
		st.Ecosystems = append(st.Ecosystems, e)
	}
	sort.Strings(st.Ecosystems)
	b.report.Sources = append(b.report.Sources, st)
	return nil
}

// readAhead runs read, a parser handing each record it reads to emit, in
// a goroutine of its own, while the calling goroutine stores the records
// read before with store: inflating and parsing a feed take about as long
// as storing it, and the two overlap on two cores. store sees the records
// in the order read emits them, so a build stays deterministic. At most
// readAheadRecords parsed records wait, which bounds the memory it adds.
// The first error of store ends read and is returned; otherwise read's.
func readAhead[T any](read func(emit func(T) error) error, store func(T) error) error {
	records := make(chan T, readAheadRecords)
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(records)
		readErr = read(func(r T) error {
			select {
			case <-stop:
				return errStoreFailed
			default:
			}
			select {
			case records <- r:
				return nil
			case <-stop:
				return errStoreFailed
			}
		})
	}()
	var storeErr error
	for r := range records {
		if storeErr != nil {
			continue
		}
		if storeErr = store(r); storeErr != nil {
			close(stop)
		}
	}
	// records is closed only when read has returned.
	if storeErr != nil {
		return storeErr
	}
	return readErr
}

const readAheadRecords = 64

var errStoreFailed = errors.New("vulndb: storing a record failed")

// advisory indexes one advisory; it returns 1 if it was added, 0 if it was
// withdrawn or an advisory with its id came from a preferred feed.
func (b *builder) advisory(ctx context.Context, a *vuln.Advisory) (int, error) {
	if a.ID == "" {
		return 0, errors.New("advisory without an id")
	}
	if a.Withdrawn != nil {
		b.report.Withdrawn++
		return 0, nil
	}
	if _, dup := b.ids[a.ID]; dup {
		return 0, nil
	}
	b.ids[a.ID] = struct{}{}
	data, err := json.Marshal(a)
	if err != nil {
		return 0, err
	}
	b.content.row([]byte("advisory"), []byte(a.ID), []byte(a.Source), data)
	if _, err := b.insAdvisory.ExecContext(ctx, a.ID, a.Source, data); err != nil {
		return 0, err
	}
	clear(b.seenAffected)
	for _, af := range a.Affected {
		if af.Package.Ecosystem == "" || af.Package.Name == "" {
			continue
		}
		k := [2]string{af.Package.Ecosystem, NormalizeName(af.Package.Ecosystem, af.Package.Name)}
		if _, dup := b.seenAffected[k]; dup {
			continue
		}
		b.seenAffected[k] = struct{}{}
		if _, err := b.insAffected.ExecContext(ctx, k[0], k[1], a.ID); err != nil {
			return 0, err
		}
	}
	clear(b.seenAliases)
	for _, alias := range a.IDs() {
		if _, dup := b.seenAliases[alias]; dup {
			continue
		}
		b.seenAliases[alias] = struct{}{}
		if _, err := b.insAlias.ExecContext(ctx, alias, a.ID); err != nil {
			return 0, err
		}
	}
	b.report.Advisories++
	return 1, nil
}

// dataAge decides how recent a feed's data is: the feed's own date line
// where it has one (an EPSS score_date, KEV's dateReleased, an NVD page's
// timestamp, which says as of when the page was current), else its newest
// record, else what the file says of itself (see fallbackAge); zero and
// "" when nothing does.
func dataAge(f *feed, newestRecord, feedDate time.Time) (time.Time, string) {
	switch {
	case realTime(feedDate):
		return feedDate.UTC(), AgeFeedDate
	case realTime(newestRecord):
		return newestRecord.UTC(), AgeRecords
	}
	return fallbackAge(f)
}
