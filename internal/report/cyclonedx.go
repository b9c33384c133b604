package report

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/sbom"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
)

// WriteCycloneDX writes the report as a CycloneDX 1.6 JSON BOM: the
// inventory exactly as `vigil sbom` writes it (package sbom: the image as
// metadata.component, the distribution, every package with purl,
// licenses, layer and locations) and a vulnerabilities array.
//
// Findings of the same vulnerability make one vulnerability entry whose
// affects lists every package it was found in (a package's bom-ref, with
// its installed version "affected" and, when there is one, the fixed
// version "unaffected"); an ignored finding makes a separate entry whose
// analysis says why (state not_affected or resolved, with the
// justification, when the reason says so; the reason as detail). Each
// entry has the id and source (the feed and its advisory page), the
// vulnerability's other ids as references, ratings — Vigil's own score
// (method "other", with the adjustments as justification) and every CVSS
// vector known, each with its source —, the description, a
// recommendation, advisories (the advisory and reference URLs), the
// published and updated dates, and as properties the EPSS probability
// and percentile and the date CISA's KEV catalog added it.
//
// The scan's coverage is in metadata.properties: vigil:coverage (FULL or
// PARTIAL), vigil:coverage:reason (SUCCESSFUL, UNSUPPORTED_OS, …), one
// vigil:coverage:gap per thing not assessed ("npm: 55 packages, no
// feed") and one vigil:coverage:limit per limit of what was;
// vigil:db:version names the vulnerability database the scan used.
//
// The serial number is a name-based UUID of the document's content, so
// the same report and time give the same bytes.
func WriteCycloneDX(w io.Writer, r *scan.Report, opts Options) error {
	if r == nil {
		return errNoReport("cyclonedx")
	}
	opts = opts.resolve(r)
	bom, err := inventoryBOM(r, opts)
	if err != nil {
		return err
	}
	refs := packageRefs(r, bom)
	active, ignored := findings(r)
	scan.Sort(active)
	scan.Sort(ignored)
	var vulns []cdx.Vulnerability
	used := map[string]int{}
	for _, g := range groupByVuln(active, ignored) {
		v := cdxVulnerability(g, r, refs, bom)
		used[v.ID]++
		v.BOMRef = "vuln:" + v.ID
		if n := used[v.ID]; n > 1 {
			v.BOMRef += fmt.Sprintf("#%d", n)
		}
		vulns = append(vulns, v)
	}
	if len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	if c := r.Coverage; c != nil && bom.Metadata != nil {
		state := "PARTIAL"
		if c.Full {
			state = "FULL"
		}
		var props []cdx.Property
		if bom.Metadata.Properties != nil {
			props = *bom.Metadata.Properties
		}
		props = append(props, cdx.Property{Name: "vigil:coverage", Value: state}, cdx.Property{Name: "vigil:coverage:reason", Value: c.Reason})
		for _, g := range c.Gaps() {
			props = append(props, cdx.Property{Name: "vigil:coverage:gap", Value: g})
		}
		for _, l := range c.Limits() {
			props = append(props, cdx.Property{Name: "vigil:coverage:limit", Value: l})
		}
		bom.Metadata.Properties = &props
	}
	if v := dbVersion(r); v != "" && bom.Metadata != nil {
		var props []cdx.Property
		if bom.Metadata.Properties != nil {
			props = *bom.Metadata.Properties
		}
		props = append(props, cdx.Property{Name: "vigil:db:version", Value: v})
		bom.Metadata.Properties = &props
	}
	// The serial number is derived from the document written without
	// it, as package sbom does.
	bom.SerialNumber = ""
	var buf bytes.Buffer
	if err := encodeBOM(&buf, bom); err != nil {
		return err
	}
	bom.SerialNumber = "urn:uuid:" + nameUUID(buf.Bytes())
	buf.Reset()
	if err := encodeBOM(&buf, bom); err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: cyclonedx: %w", err)
	}
	return nil
}

// inventoryBOM has package sbom write the inventory and reads the BOM
// back, so that the components are exactly those of `vigil sbom`.
func inventoryBOM(r *scan.Report, opts Options) (*cdx.BOM, error) {
	s := sbom.Subject{Name: r.Subject.Name, Digest: r.Subject.Digest, Platform: r.Subject.Platform, RepoTags: r.Subject.RepoTags, Layers: r.Subject.Layers}
	var buf bytes.Buffer
	err := sbom.EncodeCycloneDX(&buf, s, &inventory.Inventory{Distro: r.Distro, Packages: r.Packages}, sbom.Tool{Name: opts.Tool, Version: opts.Version}, opts.Now)
	if err != nil {
		return nil, fmt.Errorf("report: cyclonedx: %w", err)
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(&buf, cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		return nil, fmt.Errorf("report: cyclonedx: read back inventory: %w", err)
	}
	return bom, nil
}

func encodeBOM(w io.Writer, bom *cdx.BOM) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.Encode(bom); err != nil {
		return fmt.Errorf("report: cyclonedx: %w", err)
	}
	return nil
}

// pkgRefs finds the bom-ref of a finding's package.
type pkgRefs struct {
	r     *scan.Report
	byPtr map[*inventory.Package]string
	byKey map[string]string
}

func pkgKey(purl, path string) string { return purl + "\x00" + path }

// packageRefs pairs the report's packages with the BOM's components.
// Package sbom writes one library component per package, in order, after
// the operating system's; should that change, components are found by
// purl and first location instead.
func packageRefs(r *scan.Report, bom *cdx.BOM) *pkgRefs {
	pr := &pkgRefs{r: r, byPtr: map[*inventory.Package]string{}, byKey: map[string]string{}}
	var libs []cdx.Component
	if bom.Components != nil {
		for _, c := range *bom.Components {
			if c.Type == cdx.ComponentTypeOS {
				continue
			}
			libs = append(libs, c)
			loc := ""
			if c.Evidence != nil && c.Evidence.Occurrences != nil && len(*c.Evidence.Occurrences) > 0 {
				loc = (*c.Evidence.Occurrences)[0].Location
			}
			if k := pkgKey(c.PackageURL, loc); pr.byKey[k] == "" {
				pr.byKey[k] = c.BOMRef
			}
		}
	}
	if len(libs) == len(r.Packages) {
		for i := range r.Packages {
			pr.byPtr[&r.Packages[i]] = libs[i].BOMRef
		}
	}
	return pr
}

// ref returns the bom-ref of p, adding a component for it when the
// inventory does not have it (a finding about a package the report's
// inventory left out).
func (pr *pkgRefs) ref(p *inventory.Package, bom *cdx.BOM) string {
	if ref, ok := pr.byPtr[p]; ok {
		return ref
	}
	purl := purlOf(p, pr.r.Distro)
	k := pkgKey(purl, p.Path)
	if ref, ok := pr.byKey[k]; ok {
		return ref
	}
	ref := "finding-package:" + fingerprint(k)
	c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: purl}
	if c.Name == "" {
		c.Name = "unknown"
	}
	if bom.Components == nil {
		bom.Components = &[]cdx.Component{}
	}
	*bom.Components = append(*bom.Components, c)
	pr.byKey[k] = ref
	return ref
}

// groupByVuln groups findings by vulnerability id, ignored findings
// apart and by reason: a vulnerability entry has one analysis.
func groupByVuln(active, ignored []*scan.Finding) [][]*scan.Finding {
	var groups [][]*scan.Finding
	index := map[string]int{}
	for i, list := range [][]*scan.Finding{active, ignored} {
		for _, f := range list {
			key := fmt.Sprint(i) + "\x00" + f.ID + "\x00" + f.IgnoredBecause
			j, ok := index[key]
			if !ok {
				j = len(groups)
				index[key] = j
				groups = append(groups, nil)
			}
			groups[j] = append(groups[j], f)
		}
	}
	return groups
}

func cdxVulnerability(fs []*scan.Finding, r *scan.Report, refs *pkgRefs, bom *cdx.BOM) cdx.Vulnerability {
	first := fs[0]
	v := cdx.Vulnerability{
		ID:          first.ID,
		Description: first.Description,
	}
	if first.Source != "" || first.SourceURL != "" {
		v.Source = &cdx.Source{Name: first.Source, URL: absURL(first.SourceURL)}
	}
	var others []cdx.VulnerabilityReference
	for _, id := range uniq(first.Aliases) {
		others = append(others, cdx.VulnerabilityReference{ID: id, Source: &cdx.Source{Name: idSource(id), URL: idURL(id)}})
	}
	if len(others) > 0 {
		v.References = &others
	}

	ratings := []cdx.VulnerabilityRating{vigilRating(first)}
	seen := map[string]bool{}
	var advices []string
	var affects []cdx.Affects
	affected := map[string]bool{}
	for _, f := range fs {
		for _, c := range cvssOf(f) {
			src := cvssSource(c.Source, f)
			key := c.Vector + "\x00" + src
			if seen[key] {
				continue
			}
			seen[key] = true
			s := c.BaseScore
			ratings = append(ratings, cdx.VulnerabilityRating{
				Source: &cdx.Source{Name: src}, Score: &s,
				Severity: cdxSeverity(score.SeverityOf(s)), Method: cdxMethod(c.Version), Vector: c.Vector,
			})
		}
		advices = append(advices, advice(f))
		p := pkgOf(f)
		ref := refs.ref(p, bom)
		if affected[ref] {
			continue
		}
		affected[ref] = true
		versions := []cdx.AffectedVersions{{Version: p.Version, Status: cdx.VulnerabilityStatusAffected}}
		if f.Fix == match.Fixed && f.FixedVersion != "" && f.FixedVersion != p.Version {
			versions = append(versions, cdx.AffectedVersions{Version: f.FixedVersion, Status: cdx.VulnerabilityStatusNotAffected})
		}
		if p.Version == "" {
			versions[0] = cdx.AffectedVersions{Status: cdx.VulnerabilityStatusAffected, Range: "vers:generic/*"}
		}
		affects = append(affects, cdx.Affects{Ref: ref, Range: &versions})
	}
	v.Ratings = &ratings
	v.Affects = &affects
	v.Recommendation = strings.Join(uniq(advices), " ")

	var adv []cdx.Advisory
	for _, u := range uniq([]string{first.SourceURL}, first.References) {
		if u = absURL(u); u != "" {
			adv = append(adv, cdx.Advisory{URL: u})
		}
	}
	for _, id := range uniq(first.Related) {
		if u := idURL(id); u != "" {
			adv = append(adv, cdx.Advisory{Title: id, URL: u})
		}
	}
	if len(adv) > 0 {
		v.Advisories = &adv
	}
	if t := first.Published; !t.IsZero() && t.Year() > 1 {
		v.Published = t.UTC().Format(time.RFC3339)
	}
	if t := first.Modified; !t.IsZero() && t.Year() > 1 {
		v.Updated = t.UTC().Format(time.RFC3339)
	}
	if first.IgnoredBecause != "" {
		a := &cdx.VulnerabilityAnalysis{Detail: first.IgnoredBecause}
		switch vd := verdictOf(first.IgnoredBecause); vd.status {
		case "not_affected":
			a.State = cdx.IASNotAffected
			a.Justification = cdx.ImpactAnalysisJustification(cdxJustification[vd.justification])
		case "fixed":
			a.State = cdx.IASResolved
		}
		v.Analysis = a
	}
	var props []cdx.Property
	if e := first.EPSS; e != nil && finite(e.Score) && finite(e.Percentile) {
		props = append(props,
			cdx.Property{Name: "vigil:epss:score", Value: fmt.Sprint(e.Score)},
			cdx.Property{Name: "vigil:epss:percentile", Value: fmt.Sprint(e.Percentile)})
	}
	if k := first.KEV; k != nil && !k.DateAdded.IsZero() {
		props = append(props, cdx.Property{Name: "vigil:kev:dateAdded", Value: k.DateAdded.UTC().Format("2006-01-02")})
	}
	if len(props) > 0 {
		v.Properties = &props
	}
	return v
}

// vigilRating is Vigil's own score as a CycloneDX rating.
func vigilRating(f *scan.Finding) cdx.VulnerabilityRating {
	rt := cdx.VulnerabilityRating{Source: &cdx.Source{Name: "vigil", URL: infoURI}, Method: cdx.ScoringMethodOther, Severity: cdxSeverity(f.Score.Severity)}
	if scored(f) && finite(f.Score.Score) {
		s := f.Score.Score
		rt.Score = &s
	}
	var why []string
	for _, a := range f.Score.Adjustments {
		why = append(why, a.Metric+": "+a.Reason)
	}
	rt.Justification = strings.Join(why, "; ")
	return rt
}

func cdxSeverity(sev string) cdx.Severity {
	switch sev {
	case score.Critical:
		return cdx.SeverityCritical
	case score.High:
		return cdx.SeverityHigh
	case score.Medium:
		return cdx.SeverityMedium
	case score.Low:
		return cdx.SeverityLow
	case score.Informational:
		return cdx.SeverityInfo
	}
	return cdx.SeverityUnknown
}

func cdxMethod(version string) cdx.ScoringMethod {
	switch version {
	case "3.1":
		return cdx.ScoringMethodCVSSv31
	case "3.0":
		return cdx.ScoringMethodCVSSv3
	case "2.0":
		return cdx.ScoringMethodCVSSv2
	case "4.0":
		return cdx.ScoringMethodCVSSv4
	}
	return cdx.ScoringMethodOther
}

// idSource names the database an id belongs to, by its prefix.
func idSource(id string) string {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "CVE":
		return "NVD"
	case "GHSA":
		return "GitHub"
	case "GO":
		return "Go"
	case "DSA", "DLA", "DTSA":
		return "Debian"
	}
	return "OSV"
}

// idURL is a page about an id, for the databases that have one.
func idURL(id string) string {
	prefix, _, _ := strings.Cut(id, "-")
	id = url.PathEscape(id)
	switch prefix {
	case "CVE":
		return "https://nvd.nist.gov/vuln/detail/" + id
	case "GHSA":
		return "https://github.com/advisories/" + id
	case "GO":
		return "https://pkg.go.dev/vuln/" + id
	case "DSA", "DLA", "DTSA":
		return "https://security-tracker.debian.org/tracker/" + id
	case "PYSEC", "RUSTSEC", "OSV":
		return "https://osv.dev/vulnerability/" + id
	}
	return ""
}

// nameUUID derives a version 5 (SHA-1, name-based) UUID from content,
// in a namespace of Vigil's report documents.
func nameUUID(content []byte) string {
	ns := [16]byte{0x8a, 0x41, 0x0f, 0x5e, 0x2c, 0x77, 0x4d, 0x1b, 0xb3, 0x09, 0x6e, 0x52, 0xd4, 0x18, 0xa0, 0x3c}
	h := sha1.New()
	h.Write(ns[:])
	h.Write(content)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
