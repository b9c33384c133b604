package nvd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/vuln"
)

// Ecosystem is the ecosystem Vigil files NVD's vulnerable applications
// under. Its package names are CPE "vendor:product" pairs
// ("nodejs:node.js"), its versions those of the CPEs, ordered by
// version.Generic.
const Ecosystem = "NVD"

// CPE is the part of a CPE 2.3 formatted string matching needs. Fields
// keep the binding's escapes ("node.js", "c\\+\\+").
type CPE struct {
	Part, Vendor, Product, Version, Update string
}

// ParseCPE splits a CPE 2.3 formatted string
// ("cpe:2.3:a:nodejs:node.js:*:*:*:*:-:*:*:*") into its fields.
func ParseCPE(s string) (CPE, error) {
	if len(s) > 1024 {
		return CPE{}, errors.New("cpe: longer than 1024 bytes")
	}
	if !strings.HasPrefix(s, "cpe:2.3:") {
		return CPE{}, fmt.Errorf("cpe %q: not a CPE 2.3 formatted string", truncate(s))
	}
	var fields []string
	start := len("cpe:2.3:")
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped character is part of the field
		case ':':
			fields = append(fields, s[start:i])
			start = i + 1
		}
	}
	fields = append(fields, s[start:])
	if len(fields) != 11 {
		return CPE{}, fmt.Errorf("cpe %q: %d fields, want 11", truncate(s), len(fields))
	}
	c := CPE{Part: fields[0], Vendor: fields[1], Product: fields[2], Version: fields[3], Update: fields[4]}
	if c.Vendor == "" || c.Product == "" || c.Vendor == "*" || c.Product == "*" {
		return CPE{}, fmt.Errorf("cpe %q: no vendor or product", truncate(s))
	}
	return c, nil
}

// Name is the CPE's package name in Ecosystem: "vendor:product".
func (c CPE) Name() string { return c.Vendor + ":" + c.Product }

// CPEAdvisory is the CVE as an advisory of the applications it names
// vulnerable, in Ecosystem; ok is false when it names none (or only
// operating systems and hardware, which Vigil does not catalog, or
// versions qualified by an update, "1.0.2:beta1", which no cataloged
// version carries). A CPE with a fixed version affects that version; one
// with a wildcard version its range: a start becomes the introducing
// event (an excluded start is taken as included, the one version
// NVD's statement leaves out being reported too), an excluded end the
// fix, an included end the last affected version; no bounds at all
// affects every version.
func (c *CVE) CPEAdvisory() (a vuln.Advisory, ok bool) {
	if c.Rejected() {
		return vuln.Advisory{}, false
	}
	a = c.Advisory()
	a.Source = "nvd"
	for _, m := range c.Vulnerable {
		cpe, err := ParseCPE(m.Criteria)
		if err != nil || cpe.Part != "a" {
			continue
		}
		af := vuln.Affected{Package: vuln.Package{Ecosystem: Ecosystem, Name: cpe.Name()}}
		if cpe.Version != "*" && cpe.Version != "-" {
			if cpe.Update != "*" && cpe.Update != "-" {
				continue
			}
			af.Versions = []string{unescape(cpe.Version)}
		} else {
			r := vuln.Range{Type: vuln.RangeEcosystem}
			start := m.VersionStartIncluding
			if start == "" {
				start = m.VersionStartExcluding
			}
			if start == "" {
				start = "0"
			}
			r.Events = append(r.Events, vuln.Event{Introduced: start})
			switch {
			case m.VersionEndExcluding != "":
				r.Events = append(r.Events, vuln.Event{Fixed: m.VersionEndExcluding})
			case m.VersionEndIncluding != "":
				r.Events = append(r.Events, vuln.Event{LastAffected: m.VersionEndIncluding})
			}
			af.Ranges = []vuln.Range{r}
		}
		a.Affected = append(a.Affected, af)
	}
	return a, len(a.Affected) > 0
}

// unescape removes the CPE binding's backslashes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
