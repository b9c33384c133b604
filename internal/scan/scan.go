// Package scan puts an image's inventory, its matched vulnerabilities and
// their scores together into one Report: the thing every output format
// (table, JSON, Inspector findings, SARIF, CycloneDX, OpenVEX) renders and
// the gate decides on.
package scan

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/reach"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/vuln"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// Subject is the image (or SBOM) that was scanned.
type Subject struct {
	Name        string               `json:"name"`
	Digest      string               `json:"digest,omitempty"`
	Platform    string               `json:"platform,omitempty"`
	RepoTags    []string             `json:"repoTags,omitempty"`
	RepoDigests []string             `json:"repoDigests,omitempty"`
	Layers      []inventory.LayerRef `json:"layers,omitempty"`
	// Created is the image config's creation time, when known.
	Created time.Time `json:"created,omitzero"`
}

// Report is the result of scanning one subject.
type Report struct {
	Subject  Subject             `json:"subject"`
	Distro   *inventory.Distro   `json:"distro,omitempty"`
	Packages []inventory.Package `json:"packages"`
	Findings []*Finding          `json:"findings"`
	// Ignored are findings an ignore file or VEX statement suppressed.
	Ignored  []*Finding        `json:"ignored,omitempty"`
	Skipped  []match.Skip      `json:"skipped,omitempty"`
	Warnings []analyze.Warning `json:"warnings,omitempty"`
	// Coverage says what the scan could assess (see Assess); nil when
	// it was not judged.
	Coverage *coverage.Coverage `json:"coverage,omitempty"`
	Database *Database          `json:"database,omitempty"`
	// Baseline is the earlier report the findings were compared with
	// (CompareBaseline), nil when none.
	Baseline *Baseline `json:"baseline,omitempty"`
	// Time is when the scan ran.
	Time time.Time `json:"time"`
}

// Database describes the vulnerability data a report was made with.
type Database struct {
	Path  string    `json:"path"`
	Built time.Time `json:"built"`
	// Version names the database (vulndb.MakeVersion); Digest is the
	// SHA-256 of its content.
	Version string `json:"version,omitempty"`
	Digest  string `json:"digest,omitempty"`
	// Feeds are the feeds the scan relied on (vulndb.ReliedOn), each
	// with the age of its data.
	Feeds []Feed `json:"feeds,omitempty"`
}

// Feed is one feed a scan relied on. DataAsOf is how recent its data is
// (zero: unknown), From what that was read from.
type Feed struct {
	Name     string    `json:"name"`
	DataAsOf time.Time `json:"dataAsOf,omitzero"`
	From     string    `json:"from,omitempty"`
}

// Oldest is the relied-on feed with the oldest known data, and the names
// of those whose data age is unknown; ok is false when no age is known.
func (d *Database) Oldest() (oldest Feed, unknown []string, ok bool) {
	for _, f := range d.Feeds {
		switch {
		case f.DataAsOf.IsZero():
			unknown = append(unknown, f.Name)
		case !ok || f.DataAsOf.Before(oldest.DataAsOf):
			oldest, ok = f, true
		}
	}
	return oldest, unknown, ok
}

// Finding is one vulnerability in one package, scored.
type Finding struct {
	*match.Finding
	// Pkg is the vulnerable package (match.Finding's Package, which it
	// leaves out of JSON).
	Pkg *inventory.Package `json:"package"`
	// Title is Inspector's: "CVE-2024-6119 - libssl3, openssl".
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Source names the feed of the first matched advisory
	// ("debian/dsa", "osv/Go"); SourceURL points at the advisory.
	Source    string `json:"source"`
	SourceURL string `json:"sourceUrl,omitempty"`
	// CVSS lists every vector known: the vendor's, then NVD's.
	CVSS  []vuln.Severity `json:"cvss,omitempty"`
	Score score.Result    `json:"score"`
	EPSS  *vulndb.EPSS    `json:"epss,omitempty"`
	KEV   *vulndb.KEV     `json:"kev,omitempty"`
	// References are URLs about the vulnerability, deduplicated.
	References []string  `json:"references,omitempty"`
	Published  time.Time `json:"published,omitzero"`
	Modified   time.Time `json:"modified,omitzero"`
	// NotReachable says why the vulnerable code is not reachable in the
	// image (package reach), when analysis showed it is not.
	NotReachable string `json:"notReachable,omitempty"`
	// IgnoredBecause says why the finding was ignored, when it was.
	IgnoredBecause string `json:"ignoredBecause,omitempty"`
	// Change is baseline.New or baseline.Unchanged against the report's
	// baseline, empty without one.
	Change string `json:"change,omitempty"`
}

// CVEs returns the finding's CVE ids: its id and aliases that are CVEs.
func (f *Finding) CVEs() []string {
	var out []string
	for _, id := range append([]string{f.ID}, f.Aliases...) {
		if strings.HasPrefix(id, "CVE-") {
			out = append(out, id)
		}
	}
	return out
}

// Enricher looks up what the database knows beyond advisories.
type Enricher interface {
	EPSS(ctx context.Context, cve string) (*vulndb.EPSS, error)
	KEV(ctx context.Context, cve string) (*vulndb.KEV, error)
	NVD(ctx context.Context, cve string) (*vulndb.NVD, error)
}

// Score turns matched findings into scored ones, with EPSS, KEV and NVD's
// vectors attached.
func Score(ctx context.Context, db Enricher, found []*match.Finding) ([]*Finding, error) {
	out := make([]*Finding, 0, len(found))
	for _, m := range found {
		f := &Finding{Finding: m, Pkg: m.Package}
		describe(f)
		in := score.Input{}
		for _, a := range m.Advisories {
			in.Vendor = append(in.Vendor, a.Severity...)
			for _, af := range a.Affected {
				if af.Package.Ecosystem == m.Ecosystem {
					in.Vendor = append(in.Vendor, af.Severity...)
				}
			}
			if in.VendorSeverity == "" {
				in.VendorSeverity = a.VendorSeverity
			}
		}
		if err := mergeAliases(ctx, db, f, &in); err != nil {
			return nil, err
		}
		for _, cve := range f.CVEs() {
			e, err := db.EPSS(ctx, cve)
			if err != nil {
				return nil, err
			}
			if e != nil && (f.EPSS == nil || e.Score > f.EPSS.Score) {
				f.EPSS = e
			}
			k, err := db.KEV(ctx, cve)
			if err != nil {
				return nil, err
			}
			if k != nil && f.KEV == nil {
				f.KEV = k
			}
			n, err := db.NVD(ctx, cve)
			if err != nil {
				return nil, err
			}
			if n != nil {
				in.NVD = append(in.NVD, n.Severity...)
				if f.Description == "" {
					f.Description = n.Description
				}
				f.References = appendUnique(f.References, n.References...)
			}
		}
		if f.EPSS != nil {
			in.EPSS, in.EPSSPercentile = &f.EPSS.Score, &f.EPSS.Percentile
		}
		if f.KEV != nil {
			in.KEV, in.KEVDateAdded, in.RansomwareUse = true, f.KEV.DateAdded, f.KEV.KnownRansomwareCampaignUse
		}
		if r := reach.Go(m.Package, m.Advisories); r.Known && !r.Reachable {
			in.NotReachable, in.NotReachableWhy = true, r.Why
			f.NotReachable = r.Why
		}
		in.FixAvailable = "NO"
		if m.Fix == match.Fixed {
			in.FixAvailable = "YES"
		}
		f.CVSS = append(append(append([]vuln.Severity(nil), in.Vendor...), in.NVD...), in.Alias...)
		f.Score = score.Score(in)
		out = append(out, f)
	}
	Sort(out)
	return out, nil
}

// describe fills the finding's title, description, source and dates from
// its advisories.
func describe(f *Finding) {
	p := f.Finding.Package
	names := p.Name
	if p.Source != nil && p.Source.Name != "" && p.Source.Name != p.Name {
		names += ", " + p.Source.Name
	}
	f.Title = f.ID + " - " + names
	first := f.Advisories[0]
	f.Source = first.Source
	for _, a := range f.Advisories {
		if f.Description == "" {
			f.Description = strings.TrimSpace(a.Summary)
			if f.Description == "" {
				f.Description = strings.TrimSpace(a.Details)
			}
		}
		for _, r := range a.References {
			f.References = appendUnique(f.References, r.URL)
			if f.SourceURL == "" && r.Type == "ADVISORY" {
				f.SourceURL = r.URL
			}
		}
		if f.Published.IsZero() || (!a.Published.IsZero() && a.Published.Year() > 1 && a.Published.Before(f.Published)) {
			if a.Published.Year() > 1 {
				f.Published = a.Published
			}
		}
		if a.Modified.After(f.Modified) {
			f.Modified = a.Modified
		}
	}
	if f.SourceURL == "" {
		f.SourceURL = advisoryURL(f.ID, first)
	}
}

// advisoryURL is where a reader can see the advisory, for the sources that
// have a well-known page.
func advisoryURL(id string, a *vuln.Advisory) string {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return "https://nvd.nist.gov/vuln/detail/" + id
	case strings.HasPrefix(id, "GHSA-"), strings.HasPrefix(id, "GO-"), strings.HasPrefix(id, "PYSEC-"), strings.HasPrefix(id, "RUSTSEC-"):
		return "https://osv.dev/vulnerability/" + id
	case strings.HasPrefix(id, "DSA-"), strings.HasPrefix(id, "DLA-"):
		return "https://security-tracker.debian.org/tracker/" + id
	case strings.HasPrefix(id, "ALAS"):
		// The updateinfo feed gives each ALAS its Security Center page.
		for _, r := range a.References {
			if r.Type == "ADVISORY" {
				return r.URL
			}
		}
	}
	return "https://osv.dev/vulnerability/" + a.ID
}

func appendUnique(list []string, more ...string) []string {
	for _, m := range more {
		if m == "" {
			continue
		}
		dup := false
		for _, l := range list {
			if l == m {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, m)
		}
	}
	return list
}

// severityRank orders severities from the most to the least severe.
var severityRank = map[string]int{
	score.Critical: 0, score.High: 1, score.Medium: 2, score.Low: 3, score.Informational: 4, score.Untriaged: 5,
}

// Rank returns a severity's rank, 0 for CRITICAL; unknown words rank last.
func Rank(severity string) int {
	if r, ok := severityRank[severity]; ok {
		return r
	}
	return len(severityRank)
}

// Sort orders findings by score (highest first), then id and package.
func Sort(fs []*Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Score.Score != b.Score.Score {
			return a.Score.Score > b.Score.Score
		}
		if ra, rb := Rank(a.Score.Severity), Rank(b.Score.Severity); ra != rb {
			return ra < rb
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Finding.Package.PURL < b.Finding.Package.PURL
	})
}

// aliasLookup finds the records that name a vulnerability under another
// id; *vulndb.DB has it.
type aliasLookup interface {
	Aliased(ctx context.Context, id string) ([]string, error)
	Advisory(ctx context.Context, id string) (*vuln.Advisory, error)
}

// mergeAliases joins to a finding the GitHub advisories (GHSA) that name
// one of its CVEs but did not match the package themselves — a Debian
// package's CVE is often a GHSA of its upstream's ecosystem — so that
// their CVSS vectors can score it (score.Input.Alias). A distribution's
// notice without a CVE of its own (DSA-5283-1) is a fix of the CVEs it
// names: their GHSAs are related to it, and it scores as the worst of
// them.
func mergeAliases(ctx context.Context, db Enricher, f *Finding, in *score.Input) error {
	al, ok := db.(aliasLookup)
	if !ok {
		return nil
	}
	cves, notice := f.CVEs(), false
	if len(cves) == 0 {
		for _, id := range f.Related {
			if strings.HasPrefix(id, "CVE-") {
				cves, notice = append(cves, id), true
			}
		}
	}
	have := map[string]bool{f.ID: true}
	for _, id := range append(append([]string(nil), f.Aliases...), f.Related...) {
		have[id] = true
	}
	matched := map[string]bool{}
	for _, a := range f.Advisories {
		matched[a.ID] = true
	}
	var vectors []vuln.Severity
	for _, cve := range cves {
		ids, err := al.Aliased(ctx, cve)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !strings.HasPrefix(id, "GHSA-") || matched[id] {
				continue
			}
			matched[id] = true
			a, err := al.Advisory(ctx, id)
			if err != nil {
				return err
			}
			if a == nil || a.Withdrawn != nil {
				continue
			}
			vectors = append(vectors, a.Severity...)
			if have[id] {
				continue
			}
			have[id] = true
			if notice {
				f.Related = append(f.Related, id)
			} else {
				f.Aliases = append(f.Aliases, id)
			}
		}
	}
	if notice {
		// The first vector of a rank wins: put the worst first.
		sort.SliceStable(vectors, func(i, j int) bool { return baseOf(vectors[i]) > baseOf(vectors[j]) })
	}
	in.Alias = append(in.Alias, vectors...)
	sort.Strings(f.Aliases)
	sort.Strings(f.Related)
	return nil
}

func baseOf(s vuln.Severity) float64 {
	c, err := score.FromSeverity(s)
	if err != nil {
		return -1
	}
	return c.BaseScore
}
