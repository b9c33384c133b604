package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil/internal/match"
)

// IgnoreRule silences findings. Every field that is set must match; a rule
// with no id, package or path matches nothing.
//
// The ignore file is YAML:
//
//	ignore:
//	  - id: CVE-2023-4911          # the finding's id or any of its aliases
//	    reason: not exploitable: no setuid binaries in this image
//	    expires: 2027-01-31        # optional; after it, the rule is inert
//	  - package: pkg:npm/lodash    # a purl; without @version it matches every version
//	    reason: only used at build time
//	  - path: /usr/share/doc/**    # the package's file; * within a segment, ** across
//	    reason: documentation only
type IgnoreRule struct {
	ID      string `yaml:"id,omitempty" json:"id,omitempty"`
	Package string `yaml:"package,omitempty" json:"package,omitempty"`
	Path    string `yaml:"path,omitempty" json:"path,omitempty"`
	Reason  string `yaml:"reason" json:"reason"`
	// Expires is a date (2027-01-31) or an RFC 3339 time.
	Expires string `yaml:"expires,omitempty" json:"expires,omitempty"`

	expires time.Time
	// source names where a rule read from another scanner's ignore file
	// came from (".trivyignore line 3"); more holds the criteria of
	// that format which have no field here.
	source string
	more   *criteria
}

// IgnoreFile is a parsed ignore file.
type IgnoreFile struct {
	Ignore []IgnoreRule `yaml:"ignore"`
}

// maxIgnoreFile bounds the ignore file read.
const maxIgnoreFile = 4 << 20

// ReadIgnoreFile parses an ignore file. Every rule needs a reason and at
// least one of id, package and path; an error names the rule that has
// neither.
func ReadIgnoreFile(name string) (*IgnoreFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("scan: ignore file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIgnoreFile+1))
	if err != nil {
		return nil, fmt.Errorf("scan: ignore file %s: %w", name, err)
	}
	if len(data) > maxIgnoreFile {
		return nil, fmt.Errorf("scan: ignore file %s: larger than %d bytes", name, maxIgnoreFile)
	}
	return ParseIgnoreFile(name, data)
}

// ParseIgnoreFile parses the content of an ignore file named name.
func ParseIgnoreFile(name string, data []byte) (*IgnoreFile, error) {
	var ig IgnoreFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&ig); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("scan: ignore file %s: %w", name, err)
	}
	for i := range ig.Ignore {
		r := &ig.Ignore[i]
		where := fmt.Sprintf("scan: ignore file %s: rule %d", name, i+1)
		if r.ID == "" && r.Package == "" && r.Path == "" {
			return nil, fmt.Errorf("%s: needs an id, a package or a path", where)
		}
		if strings.TrimSpace(r.Reason) == "" {
			return nil, fmt.Errorf("%s: needs a reason", where)
		}
		if r.Package != "" && !strings.HasPrefix(r.Package, "pkg:") {
			return nil, fmt.Errorf("%s: package %q is not a package URL (pkg:type/…)", where, r.Package)
		}
		if r.Path != "" {
			if _, err := path.Match(strings.ReplaceAll(r.Path, "**", "*"), "/"); err != nil {
				return nil, fmt.Errorf("%s: path %q: %w", where, r.Path, err)
			}
		}
		if r.Expires != "" {
			t, err := parseDate(r.Expires)
			if err != nil {
				return nil, fmt.Errorf("%s: expires %q: want a date like 2027-01-31", where, r.Expires)
			}
			r.expires = t
		}
	}
	return &ig, nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return t, err
	}
	// A date means through the end of that day.
	return t.Add(24*time.Hour - time.Nanosecond), nil
}

// Match reports whether the rule silences f at time now.
func (r *IgnoreRule) Match(f *Finding, now time.Time) bool {
	if !r.expires.IsZero() && now.After(r.expires) {
		return false
	}
	if r.ID == "" && r.Package == "" && r.Path == "" && r.more == nil {
		return false
	}
	if r.more != nil && !r.more.match(f) {
		return false
	}
	if r.ID != "" && !hasID(f.Finding, r.ID) {
		return false
	}
	if r.Package != "" && !purlMatches(r.Package, f.Pkg.PURL) {
		return false
	}
	if r.Path != "" && !pathMatches(r.Path, f.Pkg.Path) {
		return false
	}
	return true
}

func hasID(f *match.Finding, id string) bool {
	if strings.EqualFold(f.ID, id) {
		return true
	}
	for _, a := range f.Aliases {
		if strings.EqualFold(a, id) {
			return true
		}
	}
	return false
}

// purlMatches compares a rule's purl with a package's: without a version
// the rule matches any version, and qualifiers the rule leaves out are not
// compared.
func purlMatches(rule, purl string) bool {
	rBase, rQual, _ := strings.Cut(rule, "?")
	pBase, pQual, _ := strings.Cut(purl, "?")
	if strings.Contains(rBase, "@") {
		if rBase != pBase {
			return false
		}
	} else if pName, _, _ := strings.Cut(pBase, "@"); pName != rBase {
		return false
	}
	if rQual == "" {
		return true
	}
	have := map[string]bool{}
	for _, q := range strings.Split(pQual, "&") {
		have[q] = true
	}
	for _, q := range strings.Split(rQual, "&") {
		if !have[q] {
			return false
		}
	}
	return true
}

// pathMatches matches a package path against a pattern in which "*"
// stands for any run of characters within one path segment and "**" for
// any run of segments.
func pathMatches(pattern, p string) bool {
	return globMatch(strings.Split(strings.Trim(pattern, "/"), "/"), strings.Split(strings.Trim(p, "/"), "/"))
}

func globMatch(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(segs); i++ {
				if globMatch(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// because is the reason a finding the rule silences is ignored for.
func (r *IgnoreRule) because() string {
	if r.source == "" {
		return "ignore file: " + r.Reason
	}
	reason := r.Reason
	if strings.TrimSpace(reason) == "" {
		reason = "no reason given"
	}
	return "ignore file: " + reason + " (" + r.source + ")"
}

// MarshalJSON keeps the ignore file's rules readable in reports.
func (ig *IgnoreFile) MarshalJSON() ([]byte, error) { return json.Marshal(ig.Ignore) }
