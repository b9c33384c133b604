package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// SchemaJSON identifies the version of Document. It changes only when a
// field is renamed, removed or changes meaning; new fields may appear
// without it changing.
const SchemaJSON = "https://github.com/vigilsec/vigil/schemas/report/v1"

// Document is Vigil's own JSON report (`vigil scan --format json`). Its
// field names are stable within a SchemaJSON version:
//
//	schema       SchemaJSON
//	tool         {name, version}: the program that wrote it
//	time         when the document was written (RFC 3339, UTC)
//	scannedAt    when the scan ran
//	subject      the image: name, digest, platform, repoTags, repoDigests,
//	             layers [{index, diffId, digest}], created
//	distro       os-release of the image: id, versionId, codename, name,
//	             prettyName, idLike, source; absent when unknown
//	database     {path, built, version, digest, ageSeconds, feeds}: the
//	             vulnerability data used; version names it
//	             (20261204T183257Z-3f2a9c1b7e4d: build time and the
//	             first digits of digest, the SHA-256 of its content)
//	summary      {total, bySeverity {CRITICAL…UNTRIAGED}, fixable,
//	             exploited, ignored, packages, skipped, warnings}
//	findings     active findings, most severe first (Finding below)
//	ignored      findings an ignore file or VEX statement silenced, with
//	             ignoredBecause
//	skipped      packages that could not be matched: [{purl, reason}]
//	warnings     what the analysis could not read: [{layer, diffId,
//	             path, message, incomplete}]; incomplete names what
//	             wanted a file that was not fully read
//	coverage     what the scan could assess: {full, reason (SUCCESSFUL,
//	             UNSUPPORTED_OS, INCOMPLETE_INVENTORY, PARTIAL_COVERAGE),
//	             scopes [{name, ecosystem, os, packages, covered,
//	             sources, note}], files [{layer, path, wantedBy,
//	             message}], gaps (one line each)}; absent when not judged
//	baseline     with --baseline: {path, subject, digest, scannedAt,
//	             databaseVersion} of the earlier report, new and
//	             unchanged (counts of findings), fixed [{id, aliases,
//	             package, packageType, version, severity}]: its findings
//	             gone now; each finding then has change (new, unchanged)
//
// Every list is present, empty rather than null, so consumers need no
// null checks.
type Document struct {
	Schema    string            `json:"schema"`
	Tool      Tool              `json:"tool"`
	Time      time.Time         `json:"time"`
	ScannedAt time.Time         `json:"scannedAt,omitzero"`
	Subject   scan.Subject      `json:"subject"`
	Distro    *inventory.Distro `json:"distro,omitempty"`
	Database  *Database         `json:"database,omitempty"`
	Summary   Summary           `json:"summary"`
	Findings  []Finding         `json:"findings"`
	Ignored   []Finding         `json:"ignored"`
	Skipped   []match.Skip      `json:"skipped"`
	Warnings  []analyze.Warning `json:"warnings"`
	Coverage  *Coverage         `json:"coverage,omitempty"`
	Baseline  *BaselineSummary  `json:"baseline,omitempty"`
}

// BaselineSummary is what the findings were compared with (`vigil scan
// --baseline`) and what changed: New and Unchanged count the active
// findings, Fixed lists the baseline's findings gone now.
type BaselineSummary struct {
	*scan.Baseline
	New       int `json:"new"`
	Unchanged int `json:"unchanged"`
}

// Coverage is the report's coverage, with its gaps spelt out.
type Coverage struct {
	*coverage.Coverage
	Gaps []string `json:"gaps"`
}

// Tool names the program that wrote a document.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Database describes the vulnerability data a report was made with;
// AgeSeconds is its age when the document was written.
type Database struct {
	Path       string    `json:"path"`
	Built      time.Time `json:"built"`
	Version    string    `json:"version,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	AgeSeconds int64     `json:"ageSeconds"`
	// Feeds are the feeds the scan relied on, with their data's age.
	Feeds []scan.Feed `json:"feeds,omitempty"`
}

// Summary counts the findings. BySeverity has every severity, zero
// included; Fixable counts findings with a fixed version, Exploited those
// in CISA's KEV catalog; Packages the packages in the inventory.
type Summary struct {
	Total      int            `json:"total"`
	BySeverity map[string]int `json:"bySeverity"`
	Fixable    int            `json:"fixable"`
	Exploited  int            `json:"exploited"`
	Ignored    int            `json:"ignored"`
	Packages   int            `json:"packages"`
	Skipped    int            `json:"skipped"`
	Warnings   int            `json:"warnings"`
}

// Finding is one vulnerability in one package:
//
//	id, aliases, related   the vulnerability's ids: the reported one (the
//	                       CVE when there is exactly one), the same
//	                       vulnerability's other ids, and related
//	                       advisories (a DSA that fixed it)
//	type                   PACKAGE_VULNERABILITY, or MALICIOUS_PACKAGE
//	                       for a package that is malware (a MAL- record,
//	                       reported under its own id, never merged with
//	                       a vulnerability)
//	title                  Inspector's title, "CVE-… - package, source"
//	description            the advisory's summary, else NVD's description
//	severity, score        the band and Vigil's score (Score below)
//	package                the package as inventoried (inventory.Package's
//	                       JSON: name, version, type, purl, path, layer,
//	                       source, cataloger, evidence…)
//	ecosystem, version     the advisories' ecosystem and the version that
//	                       was compared (a Debian package's source version)
//	fix                    {state: fixed|not-fixed|will-not-fix, version}
//	uncertain              why the version could not be compared, when not
//	notReachable           why the vulnerable code is not reachable in the
//	                       image, when analysis showed it is not
//	cvss                   every vector known: [{version, vector,
//	                       baseScore, source}]
//	epss                   {score, percentile}
//	kev                    the CISA KEV entry (cveID, dateAdded, …)
//	source, sourceUrl      the feed of the first matched advisory and a
//	                       page about it
//	references             URLs about the vulnerability
//	published, modified    the advisories' dates
//	ignoredBecause         why it was ignored (ignored findings only)
type Finding struct {
	ID string `json:"id"`
	// Type is PACKAGE_VULNERABILITY, or MALICIOUS_PACKAGE for a package
	// that is itself malware (an OpenSSF MAL- record).
	Type           string             `json:"type"`
	Aliases        []string           `json:"aliases,omitempty"`
	Related        []string           `json:"related,omitempty"`
	Title          string             `json:"title"`
	Description    string             `json:"description,omitempty"`
	Severity       string             `json:"severity"`
	Score          Score              `json:"score"`
	Package        *inventory.Package `json:"package"`
	Ecosystem      string             `json:"ecosystem"`
	Version        string             `json:"version"`
	Fix            Fix                `json:"fix"`
	Uncertain      string             `json:"uncertain,omitempty"`
	NotReachable   string             `json:"notReachable,omitempty"`
	CVSS           []CVSS             `json:"cvss"`
	EPSS           *EPSS              `json:"epss,omitempty"`
	KEV            *vulndb.KEV        `json:"kev,omitempty"`
	Source         string             `json:"source"`
	SourceURL      string             `json:"sourceUrl,omitempty"`
	References     []string           `json:"references"`
	Published      time.Time          `json:"published,omitzero"`
	Modified       time.Time          `json:"modified,omitzero"`
	IgnoredBecause string             `json:"ignoredBecause,omitempty"`
	Change         string             `json:"change,omitempty"`
}

// Score is Vigil's score of a finding (see package score): Value, 0–10
// with one decimal, is null when the finding is UNTRIAGED; Source says
// where the base came from (VENDOR, NVD, VENDOR_SEVERITY); Base is the
// CVSS the score started from; Adjustments every signal considered
// after it, as {metric, reason}; Problems the vectors that could not be
// used.
type Score struct {
	Value       *float64     `json:"value"`
	Severity    string       `json:"severity"`
	Source      string       `json:"source,omitempty"`
	Base        *CVSS        `json:"base,omitempty"`
	Adjustments []Adjustment `json:"adjustments"`
	Problems    []string     `json:"problems,omitempty"`
}

// Adjustment is one signal that moved, or was considered for, a score.
type Adjustment struct {
	Metric string `json:"metric"`
	Reason string `json:"reason"`
}

// CVSS is one CVSS vector with its base score and who published it.
type CVSS struct {
	Version   string  `json:"version"`
	Vector    string  `json:"vector"`
	BaseScore float64 `json:"baseScore"`
	Source    string  `json:"source,omitempty"`
}

// EPSS is FIRST's exploit prediction for the vulnerability.
type EPSS struct {
	Score      float64 `json:"score"`
	Percentile float64 `json:"percentile"`
}

// Fix says whether an upgrade fixes the finding, and to which version.
type Fix struct {
	State   match.FixState `json:"state"`
	Version string         `json:"version,omitempty"`
}

// NewDocument builds the JSON document of a report; a nil report gives
// the document of an empty one.
func NewDocument(r *scan.Report, opts Options) *Document {
	if r == nil {
		r = &scan.Report{}
	}
	opts = opts.resolve(r)
	active, ignored := findings(r)
	d := &Document{
		Schema:    SchemaJSON,
		Tool:      Tool{Name: opts.Tool, Version: opts.Version},
		Time:      opts.Now,
		ScannedAt: r.Time.UTC(),
		Subject:   r.Subject,
		Distro:    r.Distro,
		Findings:  []Finding{},
		Ignored:   []Finding{},
		Skipped:   append([]match.Skip{}, r.Skipped...),
		Warnings:  append([]analyze.Warning{}, r.Warnings...),
	}
	if r.Coverage != nil {
		d.Coverage = &Coverage{Coverage: r.Coverage, Gaps: append([]string{}, r.Coverage.Gaps()...)}
	}
	if db := r.Database; db != nil {
		d.Database = &Database{Path: db.Path, Built: db.Built.UTC(), Version: db.Version, Digest: db.Digest, AgeSeconds: int64(opts.Now.Sub(db.Built) / time.Second), Feeds: db.Feeds}
	}
	if b := r.Baseline; b != nil {
		s := &BaselineSummary{Baseline: b}
		s.New, s.Unchanged, _ = r.Changes()
		if s.Fixed == nil {
			s.Fixed = []scan.Prior{}
		}
		d.Baseline = s
	}
	d.Summary = Summary{
		Total: len(active), BySeverity: map[string]int{}, Ignored: len(ignored),
		Packages: len(r.Packages), Skipped: len(r.Skipped), Warnings: len(r.Warnings),
	}
	for _, sev := range scan.Severities {
		d.Summary.BySeverity[sev] = 0
	}
	for _, f := range active {
		d.Summary.BySeverity[f.Score.Severity]++
		if f.Fix == match.Fixed {
			d.Summary.Fixable++
		}
		if f.KEV != nil {
			d.Summary.Exploited++
		}
		d.Findings = append(d.Findings, jsonFinding(f))
	}
	for _, f := range ignored {
		d.Ignored = append(d.Ignored, jsonFinding(f))
	}
	return d
}

// The finding types: Inspector's for vulnerabilities, and Vigil's own
// for malware.
const (
	TypeVulnerability = "PACKAGE_VULNERABILITY"
	TypeMalicious     = "MALICIOUS_PACKAGE"
)

// FindingType is a finding's type: TypeMalicious for a malicious package,
// else TypeVulnerability.
func FindingType(f *scan.Finding) string {
	if f.Malicious {
		return TypeMalicious
	}
	return TypeVulnerability
}

func jsonFinding(f *scan.Finding) Finding {
	// A finding names its package; the functions compiled into a Go
	// binary (thousands for the standard library) belong to the
	// inventory, and the score's reachable adjustment says what of them
	// mattered.
	p := *pkgOf(f)
	p.GoCode = nil
	out := Finding{
		ID: f.ID, Type: FindingType(f), Aliases: f.Aliases, Related: f.Related,
		Title: f.Title, Description: f.Description,
		Severity: f.Score.Severity,
		Package:  &p, Ecosystem: f.Ecosystem, Version: f.Version,
		Fix:       Fix{State: f.Fix, Version: f.FixedVersion},
		Uncertain: f.Uncertain,
		CVSS:      []CVSS{},
		KEV:       f.KEV,
		Source:    f.Source, SourceURL: f.SourceURL,
		References: append([]string{}, f.References...),
		Published:  f.Published, Modified: f.Modified,
		IgnoredBecause: f.IgnoredBecause,
		NotReachable:   f.NotReachable,
		Change:         f.Change,
	}
	s := f.Score
	out.Score = Score{Severity: s.Severity, Source: s.ScoreSource, Adjustments: []Adjustment{}, Problems: s.Problems}
	if scored(f) && finite(s.Score) {
		v := s.Score
		out.Score.Value = &v
	}
	if s.Base.Vector != "" {
		out.Score.Base = &CVSS{Version: s.Base.Version, Vector: s.Base.Vector, BaseScore: s.Base.BaseScore, Source: s.Base.Source}
	}
	for _, a := range s.Adjustments {
		out.Score.Adjustments = append(out.Score.Adjustments, Adjustment{Metric: a.Metric, Reason: a.Reason})
	}
	for _, c := range cvssOf(f) {
		out.CVSS = append(out.CVSS, CVSS{Version: c.Version, Vector: c.Vector, BaseScore: c.BaseScore, Source: c.Source})
	}
	if e := f.EPSS; e != nil && finite(e.Score) && finite(e.Percentile) {
		out.EPSS = &EPSS{Score: e.Score, Percentile: e.Percentile}
	}
	return out
}

// WriteJSON writes the report as a Document, indented.
func WriteJSON(w io.Writer, r *scan.Report, opts Options) error {
	if r == nil {
		return errNoReport("json")
	}
	return writeJSON(w, "json", NewDocument(r, opts))
}

// writeJSON writes v indented, without escaping <, > and & (descriptions
// are full of them and readers are not browsers).
func writeJSON(w io.Writer, format string, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("report: %s: %w", format, err)
	}
	return nil
}
