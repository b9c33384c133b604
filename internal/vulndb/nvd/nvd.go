// Package nvd reads the responses of NVD's CVE API 2.0
// (https://services.nvd.nist.gov/rest/json/cves/2.0), one page at a time.
// Vigil takes from NVD what distribution and ecosystem feeds often lack:
// CVSS vectors (NVD's own and the CNAs'), CWE ids, descriptions and
// references; and from its CPE applicability statements
// ("configurations"), which versions of which applications are
// vulnerable, for the programs Vigil finds without a package manager
// (Node.js, Python, OpenSSL, BusyBox…), which it matches by CPE.
//
// A page holds up to 2,000 CVEs and tens of MiB, so Parse streams the
// "vulnerabilities" array and hands each CVE to a callback; memory is
// bounded by the largest single record, which is capped.
//
// It is a domain leaf: it parses bytes and knows nothing of fetching.
package nvd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/vuln"
)

// Page is the envelope of one API response.
type Page struct {
	ResultsPerPage int
	StartIndex     int
	TotalResults   int
	Format         string // "NVD_CVE"
	Version        string // "2.0"
	Timestamp      time.Time
}

// CVE is one NVD CVE record, reduced to what Vigil uses.
type CVE struct {
	ID string
	// SourceIdentifier names the CNA that published the CVE.
	SourceIdentifier string
	Published        time.Time
	LastModified     time.Time
	// Status is NVD's vulnStatus: "Received", "Awaiting Analysis",
	// "Undergoing Analysis", "Analyzed", "Modified", "Deferred",
	// "Rejected".
	Status string
	// Description is the English description.
	Description string
	// Metrics are the CVSS vectors, v4.0 first, then v3.1, v3.0, v2, each
	// in NVD's order.
	Metrics []Metric
	// CWEs are the CWE ids of the weaknesses, NVD's and the CNA's, in
	// order and without duplicates; NVD's placeholders (NVD-CWE-Other,
	// NVD-CWE-noinfo) are not CWE ids and are left out.
	CWEs       []string
	References []Reference
	// CISAExploitAdd is the day CISA added the CVE to its Known Exploited
	// Vulnerabilities catalog, as NVD echoes it; zero when it is not there.
	CISAExploitAdd time.Time
	// Vulnerable are the configurations' CPE matches that NVD marks
	// vulnerable, in record order, duplicates removed; the platforms a
	// configuration only runs on (vulnerable false) and negated nodes are
	// left out.
	Vulnerable []CPEMatch
}

// CPEMatch is one vulnerable product of a CVE: a CPE 2.3 formatted
// string, possibly with a wildcard version, and the version range the
// wildcard is bounded by.
type CPEMatch struct {
	Criteria              string
	VersionStartIncluding string
	VersionStartExcluding string
	VersionEndIncluding   string
	VersionEndExcluding   string
}

// Metric is one CVSS score of a CVE.
type Metric struct {
	// Severity holds the vector in OSV form: Type CVSS_V2, CVSS_V3 or
	// CVSS_V4, Score the vector string, Source who scored it
	// ("nvd@nist.gov" for NVD itself, else the CNA).
	vuln.Severity
	// Primary is NVD's type "Primary": NVD's own analysis, or that of an
	// organisation NVD designates. The CNAs' scores are "Secondary".
	Primary bool
	// Version is cvssData.version: "2.0", "3.0", "3.1", "4.0".
	Version string
	// BaseScore and BaseSeverity are as NVD publishes them.
	BaseScore    float64
	BaseSeverity string
}

// Reference is a link about the CVE with NVD's tags ("Patch", "Vendor
// Advisory", "Exploit", "Third Party Advisory"…).
type Reference struct {
	URL    string
	Source string
	Tags   []string
}

// Rejected says the CVE id was rejected: it names no vulnerability.
func (c *CVE) Rejected() bool { return c.Status == "Rejected" }

// Severities returns the CVE's CVSS vectors in OSV form, the Primary
// ones first, each group in Metrics order. vuln.Severity has no place
// for NVD's type, and the Primary source is usually but not always NVD
// itself (NVD can designate another organisation), so the order carries
// it: a consumer that takes the first vector of a version takes the
// Primary one.
func (c *CVE) Severities() []vuln.Severity {
	out := make([]vuln.Severity, 0, len(c.Metrics))
	for _, primary := range []bool{true, false} {
		for _, m := range c.Metrics {
			if m.Primary == primary {
				out = append(out, m.Severity)
			}
		}
	}
	return out
}

// Advisory converts the CVE to Vigil's vulnerability model. It carries
// no affected packages: NVD describes products by CPE. A rejected CVE
// is withdrawn as of its last modification.
func (c *CVE) Advisory() vuln.Advisory {
	a := vuln.Advisory{
		ID:        c.ID,
		Published: c.Published,
		Modified:  c.LastModified,
		Details:   c.Description,
		Severity:  c.Severities(),
		Source:    "nvd",
	}
	if c.Rejected() {
		w := c.LastModified
		a.Withdrawn = &w
	}
	for _, r := range c.References {
		a.References = append(a.References, vuln.Reference{Type: referenceType(r.Tags), URL: r.URL})
	}
	if len(c.CWEs) > 0 {
		// The key GitHub's OSV records use for the same data.
		a.DatabaseSpecific, _ = json.Marshal(map[string][]string{"cwe_ids": c.CWEs})
	}
	return a
}

// referenceType maps NVD's reference tags to an OSV reference type, the
// most specific tag winning.
func referenceType(tags []string) string {
	has := func(t string) bool {
		for _, x := range tags {
			if x == t {
				return true
			}
		}
		return false
	}
	switch {
	case has("Patch"):
		return "FIX"
	case has("Vendor Advisory"), has("Third Party Advisory"):
		return "ADVISORY"
	case has("Exploit"):
		return "EVIDENCE"
	case has("Issue Tracking"):
		return "REPORT"
	case has("Mailing List"):
		return "DISCUSSION"
	}
	return "WEB"
}

const (
	// maxRecord bounds the bytes one CVE record may span. The largest
	// records (Linux kernel CVEs with long CPE lists) are a few MiB.
	maxRecord = 32 << 20
	// maxErrors bounds the per-record errors kept.
	maxErrors = 100
)

var (
	cveID = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
	cweID = regexp.MustCompile(`^CWE-[0-9]+$`)
)

// Parse reads one API response and calls fn for each CVE in page order,
// rejected ones included (callers drop or withdraw them). A record that
// is not a well-formed CVE (bad id, wrong field types, missing dates) is
// reported by its position and id and skipped; a CVSS entry without a
// vector, or whose vector does not match its version, is reported and
// left out of the record. The error is non-nil when the input is not an
// NVD CVE API 2.0 response, is not well-formed JSON (the CVEs before the
// damage have been passed to fn), when one record exceeds the size cap,
// or when fn returns an error, which stops the parse and is returned
// wrapped.
func Parse(r io.Reader, fn func(CVE) error) (Page, []error, error) {
	var (
		page      Page
		errs      errList
		sawVulns  bool
		sawFormat bool
	)
	cr := &capReader{r: r}
	dec := json.NewDecoder(cr)
	cr.dec = dec

	if err := expectDelim(dec, '{'); err != nil {
		return page, nil, fmt.Errorf("nvd: %w", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return page, errs.list(), fmt.Errorf("nvd: %w", err)
		}
		key, _ := tok.(string)
		switch key {
		case "resultsPerPage", "startIndex", "totalResults":
			var n int
			if err := dec.Decode(&n); err != nil {
				if fatal(err) {
					return page, errs.list(), fmt.Errorf("nvd: %s: %w", key, err)
				}
				errs.add(fmt.Errorf("nvd: %s: %w", key, err))
			}
			switch key {
			case "resultsPerPage":
				page.ResultsPerPage = n
			case "startIndex":
				page.StartIndex = n
			default:
				page.TotalResults = n
			}
		case "format", "version", "timestamp":
			var s string
			if err := dec.Decode(&s); err != nil {
				return page, errs.list(), fmt.Errorf("nvd: %s: %w", key, err)
			}
			switch key {
			case "format":
				if s != "NVD_CVE" {
					return page, errs.list(), fmt.Errorf("nvd: format %q: not a CVE API response", truncate(s))
				}
				page.Format, sawFormat = s, true
			case "version":
				if !strings.HasPrefix(s, "2.") {
					return page, errs.list(), fmt.Errorf("nvd: version %q: only the CVE API 2.x is supported", truncate(s))
				}
				page.Version = s
			default:
				if page.Timestamp, err = parseTime(s); err != nil {
					errs.add(fmt.Errorf("nvd: timestamp: %w", err))
				}
			}
		case "vulnerabilities":
			sawVulns = true
			if err := parseVulns(dec, fn, &errs); err != nil {
				return page, errs.list(), err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return page, errs.list(), fmt.Errorf("nvd: %s: %w", truncate(key), err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return page, errs.list(), fmt.Errorf("nvd: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return page, errs.list(), errors.New("nvd: data after the response object")
	}
	if !sawVulns || !sawFormat {
		return page, errs.list(), errors.New("nvd: no \"format\" or \"vulnerabilities\": not an NVD CVE API 2.0 response")
	}
	return page, errs.list(), nil
}

// parseVulns streams the vulnerabilities array.
func parseVulns(dec *json.Decoder, fn func(CVE) error, errs *errList) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("nvd: vulnerabilities: %w", err)
	}
	if tok == nil { // null: an empty page
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errors.New("nvd: vulnerabilities is not an array")
	}
	for i := 0; dec.More(); i++ {
		// Decoding straight into the struct saves the second pass over
		// the record that a json.RawMessage would need. A type mismatch
		// leaves the decoder after the record, with what could be
		// decoded of it (the id, usually) to name it by.
		var item struct {
			CVE *rawCVE `json:"cve"`
		}
		if err := dec.Decode(&item); err != nil {
			if fatal(err) {
				return fmt.Errorf("nvd: vulnerabilities[%d]: %w", i, err)
			}
			if item.CVE != nil && item.CVE.ID != "" {
				errs.add(fmt.Errorf("nvd: vulnerabilities[%d] (%s): %w", i, truncate(item.CVE.ID), err))
			} else {
				errs.add(fmt.Errorf("nvd: vulnerabilities[%d]: %w", i, err))
			}
			continue
		}
		c, err := parseCVE(item.CVE, errs)
		if err != nil {
			errs.add(fmt.Errorf("nvd: vulnerabilities[%d]%s", i, err))
			continue
		}
		if err := fn(c); err != nil {
			return fmt.Errorf("nvd: %s: %w", c.ID, err)
		}
	}
	return expectDelim(dec, ']')
}

type langString struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

type rawMetric struct {
	Source   string `json:"source"`
	Type     string `json:"type"`
	CVSSData struct {
		Version      string  `json:"version"`
		VectorString string  `json:"vectorString"`
		BaseScore    float64 `json:"baseScore"`
		BaseSeverity string  `json:"baseSeverity"`
	} `json:"cvssData"`
	// CVSS v2 entries carry the severity beside cvssData.
	BaseSeverity string `json:"baseSeverity"`
}

type rawCVE struct {
	ID               string       `json:"id"`
	SourceIdentifier string       `json:"sourceIdentifier"`
	Published        string       `json:"published"`
	LastModified     string       `json:"lastModified"`
	VulnStatus       string       `json:"vulnStatus"`
	CISAExploitAdd   string       `json:"cisaExploitAdd"`
	Descriptions     []langString `json:"descriptions"`
	Metrics          struct {
		V40 []rawMetric `json:"cvssMetricV40"`
		V31 []rawMetric `json:"cvssMetricV31"`
		V30 []rawMetric `json:"cvssMetricV30"`
		V2  []rawMetric `json:"cvssMetricV2"`
	} `json:"metrics"`
	Weaknesses []struct {
		Description []langString `json:"description"`
	} `json:"weaknesses"`
	References []struct {
		URL    string   `json:"url"`
		Source string   `json:"source"`
		Tags   []string `json:"tags"`
	} `json:"references"`
	Configurations []struct {
		Negate bool      `json:"negate"`
		Nodes  []rawNode `json:"nodes"`
	} `json:"configurations"`
}

type rawNode struct {
	Negate   bool `json:"negate"`
	CPEMatch []struct {
		Vulnerable bool `json:"vulnerable"`
		CPEMatch
	} `json:"cpeMatch"`
}

// parseCVE converts one element of the vulnerabilities array. Its error
// text starts with the record's id in parentheses when it has one.
func parseCVE(rc *rawCVE, errs *errList) (CVE, error) {
	if rc == nil {
		return CVE{}, errors.New(`: no "cve" object`)
	}
	if !cveID.MatchString(rc.ID) {
		return CVE{}, fmt.Errorf(": id %q is not a CVE id", truncate(rc.ID))
	}
	c := CVE{ID: rc.ID, SourceIdentifier: rc.SourceIdentifier, Status: rc.VulnStatus}
	var err error
	if c.Published, err = parseTime(rc.Published); err != nil {
		return CVE{}, fmt.Errorf(" (%s): published: %w", c.ID, err)
	}
	if c.LastModified, err = parseTime(rc.LastModified); err != nil {
		return CVE{}, fmt.Errorf(" (%s): lastModified: %w", c.ID, err)
	}
	if rc.CISAExploitAdd != "" {
		if c.CISAExploitAdd, err = time.Parse(time.DateOnly, rc.CISAExploitAdd); err != nil {
			errs.add(fmt.Errorf("nvd: %s: cisaExploitAdd %q is not a date", c.ID, truncate(rc.CISAExploitAdd)))
		}
	}
	for _, d := range rc.Descriptions {
		if d.Lang == "en" {
			c.Description = d.Value
			break
		}
	}
	for _, group := range []struct {
		list   []rawMetric
		prefix string
		typ    string
	}{
		{rc.Metrics.V40, "CVSS:4.0/", vuln.CVSSv4},
		{rc.Metrics.V31, "CVSS:3.1/", vuln.CVSSv3},
		{rc.Metrics.V30, "CVSS:3.0/", vuln.CVSSv3},
		{rc.Metrics.V2, "AV:", vuln.CVSSv2},
	} {
		for _, m := range group.list {
			v := m.CVSSData.VectorString
			if !strings.HasPrefix(v, group.prefix) {
				errs.add(fmt.Errorf("nvd: %s: %s vector %q from %s left out: it should start with %q", c.ID, group.typ, truncate(v), truncate(m.Source), group.prefix))
				continue
			}
			sev := m.CVSSData.BaseSeverity
			if sev == "" {
				sev = m.BaseSeverity
			}
			c.Metrics = append(c.Metrics, Metric{
				Severity:     vuln.Severity{Type: group.typ, Score: v, Source: m.Source},
				Primary:      m.Type == "Primary",
				Version:      m.CVSSData.Version,
				BaseScore:    m.CVSSData.BaseScore,
				BaseSeverity: sev,
			})
		}
	}
	seen := map[string]bool{}
	for _, w := range rc.Weaknesses {
		for _, d := range w.Description {
			if cweID.MatchString(d.Value) && !seen[d.Value] {
				seen[d.Value] = true
				c.CWEs = append(c.CWEs, d.Value)
			}
		}
	}
	for _, r := range rc.References {
		c.References = append(c.References, Reference{URL: r.URL, Source: r.Source, Tags: r.Tags})
	}
	seenMatch := map[CPEMatch]bool{}
	for _, conf := range rc.Configurations {
		if conf.Negate {
			continue
		}
		for _, n := range conf.Nodes {
			if n.Negate {
				continue
			}
			for _, m := range n.CPEMatch {
				if !m.Vulnerable || seenMatch[m.CPEMatch] {
					continue
				}
				if _, err := ParseCPE(m.Criteria); err != nil {
					errs.add(fmt.Errorf("nvd: %s: %w", c.ID, err))
					continue
				}
				seenMatch[m.CPEMatch] = true
				c.Vulnerable = append(c.Vulnerable, m.CPEMatch)
			}
		}
	}
	return c, nil
}

// parseTime reads NVD's timestamps, which are UTC without a zone
// ("2021-12-10T10:15:09.143"); RFC 3339 is accepted too.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time", truncate(s))
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("found %v where %q was expected", tok, want)
	}
	return nil
}

// fatal says a decoding error broke the stream: only type mismatches
// leave the decoder past the value, ready for the next one.
func fatal(err error) bool {
	var te *json.UnmarshalTypeError
	return !errors.As(err, &te)
}

var errTooLarge = fmt.Errorf("a record larger than %d MiB", maxRecord>>20)

// capReader stops feeding the decoder when the data it holds but has
// not consumed — the record being decoded — passes maxRecord, so that a
// hostile page cannot make one value take unbounded memory.
type capReader struct {
	r   io.Reader
	dec *json.Decoder
	n   int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n-c.dec.InputOffset() > maxRecord {
		return 0, errTooLarge
	}
	// Small reads keep the overshoot past the cap small.
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// errList keeps the first maxErrors errors and counts the rest.
type errList struct {
	errs    []error
	dropped int
}

func (l *errList) add(err error) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, err)
	} else {
		l.dropped++
	}
}

func (l *errList) list() []error {
	if l.dropped > 0 {
		return append(l.errs, fmt.Errorf("nvd: %d more errors not shown", l.dropped))
	}
	return l.errs
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
