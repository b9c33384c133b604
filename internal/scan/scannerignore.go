package scan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
)

// Besides its own ignore file, Vigil reads those of Trivy and Grype as
// they document them:
//
//   - Trivy's .trivyignore: one id per line, "#" comments, an optional
//     "exp:YYYY-MM-DD" after the id, after which the line no longer
//     applies (https://trivy.dev/latest/docs/configuration/filtering/);
//   - Trivy's .trivyignore.yaml: "vulnerabilities:" entries with id,
//     paths, purls, expired_at and statement;
//   - Grype's configuration (.grype.yaml): its "ignore:" rules of
//     vulnerability, fix-state and package name (a regular expression),
//     version, type, language, location (a glob) and upstream-name, with
//     an optional reason (https://github.com/anchore/grype#specifying-matches-to-ignore).
//
// Their rules become IgnoreRules, so the findings they silence are
// reported as ignored exactly as Vigil's own rules' are. Reasons are
// optional there; a rule without one is accepted, with a warning. An id
// matches the finding's id or any of its aliases, since Vigil may report
// a vulnerability under another of its ids than those tools do.

// criteria are the conditions of Trivy's and Grype's rules that Vigil's
// own rules lack. Every one that is set must hold.
type criteria struct {
	paths    []string // Trivy: any of these globs matches a file of the package
	purls    []string // Trivy: any of these package URLs matches
	fix      match.FixState
	name     *regexp.Regexp
	version  string
	pkgType  string // Grype's (Syft's) package type
	language string
	location string
	upstream string
	// none is set when a rule has a condition Vigil cannot evaluate: it
	// then silences nothing, rather than more than was meant.
	none bool
}

func (c *criteria) match(f *Finding) bool {
	p := f.Pkg
	if c.none || p == nil {
		return false
	}
	files := append([]string{p.Path}, p.Locations...)
	anyFile := func(glob string) bool {
		for _, file := range files {
			if file != "" && pathMatches(glob, file) {
				return true
			}
		}
		return false
	}
	if len(c.paths) > 0 {
		ok := false
		for _, g := range c.paths {
			ok = ok || anyFile(g)
		}
		if !ok {
			return false
		}
	}
	if len(c.purls) > 0 {
		ok := false
		for _, u := range c.purls {
			ok = ok || purlMatches(u, p.PURL)
		}
		if !ok {
			return false
		}
	}
	switch {
	case c.fix != "" && f.Fix != c.fix,
		c.name != nil && !c.name.MatchString(p.Name),
		c.version != "" && p.Version != c.version,
		c.pkgType != "" && grypeTypes[p.Type] != c.pkgType,
		c.language != "" && grypeLanguages[p.Type] != c.language,
		c.location != "" && !anyFile(c.location),
		c.upstream != "" && (p.Source == nil || p.Source.Name != c.upstream):
		return false
	}
	return true
}

// grypeTypes and grypeLanguages name Vigil's package types as Grype
// (Syft) does.
var grypeTypes = map[inventory.Type]string{
	inventory.Deb: "deb", inventory.APK: "apk", inventory.RPM: "rpm",
	inventory.Go: "go-module", inventory.NPM: "npm", inventory.PyPI: "python",
	inventory.Maven: "java-archive", inventory.Gem: "gem", inventory.Cargo: "rust-crate",
	inventory.Composer: "php-composer", inventory.NuGet: "dotnet",
}

var grypeLanguages = map[inventory.Type]string{
	inventory.Go: "go", inventory.NPM: "javascript", inventory.PyPI: "python",
	inventory.Maven: "java", inventory.Gem: "ruby", inventory.Cargo: "rust",
	inventory.Composer: "php", inventory.NuGet: "dotnet",
}

// DefaultIgnoreFiles are the files read from the working directory when
// no ignore file is named, as Trivy and Grype read them: Trivy's
// .trivyignore, and the first of Grype's configuration files.
var DefaultIgnoreFiles = [][]string{{".trivyignore"}, {".grype.yaml", ".grype.yml", ".grype/config.yaml"}}

// ReadAnyIgnoreFile reads an ignore file in any format Vigil knows:
// Vigil's own, Trivy's .trivyignore or .trivyignore.yaml, or a Grype
// configuration. As Trivy decides, a name not ending in .yaml or .yml is
// a plain .trivyignore. The warnings name each rule accepted without a
// reason, and each that cannot apply.
func ReadAnyIgnoreFile(name string) (*IgnoreFile, []string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("scan: ignore file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIgnoreFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("scan: ignore file %s: %w", name, err)
	}
	if len(data) > maxIgnoreFile {
		return nil, nil, fmt.Errorf("scan: ignore file %s: larger than %d bytes", name, maxIgnoreFile)
	}
	return ParseAnyIgnoreFile(name, data)
}

// ParseAnyIgnoreFile parses the content of the ignore file name, in the
// format its name and content say (see ReadAnyIgnoreFile).
func ParseAnyIgnoreFile(name string, data []byte) (*IgnoreFile, []string, error) {
	if ext := path.Ext(filepath.ToSlash(name)); ext != ".yaml" && ext != ".yml" {
		return ParseTrivyIgnore(name, data)
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, nil, fmt.Errorf("scan: ignore file %s: %w", name, err)
	}
	for _, k := range []string{"vulnerabilities", "misconfigurations", "secrets", "licenses"} {
		if _, ok := top[k]; ok {
			return ParseTrivyIgnoreYAML(name, data)
		}
	}
	rules, hasIgnore := top["ignore"]
	base := path.Base(filepath.ToSlash(name))
	if isGrypeRules(&rules) || (!hasIgnore && (strings.HasPrefix(base, ".grype.") || strings.HasSuffix(filepath.ToSlash(name), ".grype/config.yaml"))) {
		return ParseGrypeConfig(name, data)
	}
	ig, err := ParseIgnoreFile(name, data)
	return ig, nil, err
}

// isGrypeRules reports whether an ignore: list is Grype's: a rule with a
// key only Grype has, or a package given as a mapping.
func isGrypeRules(n *yaml.Node) bool {
	if n.Kind != yaml.SequenceNode {
		return false
	}
	for _, r := range n.Content {
		if r.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(r.Content); i += 2 {
			switch k := r.Content[i].Value; k {
			case "vulnerability", "fix-state", "namespace", "include-aliases", "vex-status", "vex-justification", "match-type":
				return true
			case "package":
				if r.Content[i+1].Kind == yaml.MappingNode {
					return true
				}
			}
		}
	}
	return false
}

// ParseTrivyIgnore parses a plain .trivyignore. Since the format has no
// reason field, a comment on the id's line ("CVE-… # why") or the
// comment lines above it (up to a blank line) are taken as its reason.
// A line whose exp: is not a date is skipped with a warning, as Trivy
// skips it.
func ParseTrivyIgnore(name string, data []byte) (*IgnoreFile, []string, error) {
	ig := &IgnoreFile{}
	var warnings, comment []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxIgnoreFile)
	base := filepath.Base(name)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			comment = nil
			continue
		}
		if c, ok := strings.CutPrefix(line, "#"); ok {
			if c = strings.TrimSpace(c); c != "" {
				comment = append(comment, c)
			}
			continue
		}
		where := fmt.Sprintf("%s line %d", base, n)
		fields := strings.Fields(line)
		r := IgnoreRule{ID: fields[0], source: where, Reason: strings.Join(comment, " ")}
		bad := false
		for i, fl := range fields[1:] {
			if strings.HasPrefix(fl, "#") {
				r.Reason = strings.TrimSpace(strings.TrimPrefix(strings.Join(fields[1+i:], " "), "#"))
				break
			}
			if d, ok := strings.CutPrefix(fl, "exp:"); ok {
				t, err := time.Parse("2006-01-02", d)
				if err != nil {
					warnings = append(warnings, fmt.Sprintf("%s: %s: exp:%s is not a date (YYYY-MM-DD); the line is skipped, as Trivy skips it", where, r.ID, d))
					bad = true
					break
				}
				r.expires, r.Expires = t, d
			}
		}
		if bad {
			continue
		}
		// Trivy's rule lapses at the start of its exp: day (UTC).
		if !r.expires.IsZero() {
			r.expires = r.expires.Add(-time.Nanosecond)
		}
		if r.Reason == "" {
			warnings = append(warnings, fmt.Sprintf("%s: %s is ignored without a reason (write one in a comment above it)", where, r.ID))
		}
		ig.Ignore = append(ig.Ignore, r)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("scan: ignore file %s: %w", name, err)
	}
	return ig, warnings, nil
}

// trivyFinding is an entry of .trivyignore.yaml.
type trivyFinding struct {
	ID        string   `yaml:"id"`
	Paths     []string `yaml:"paths"`
	PURLs     []string `yaml:"purls"`
	ExpiredAt string   `yaml:"expired_at"`
	Statement string   `yaml:"statement"`
}

// ParseTrivyIgnoreYAML parses a .trivyignore.yaml. Only its
// vulnerabilities apply: Vigil reports no misconfigurations, secrets or
// licenses.
func ParseTrivyIgnoreYAML(name string, data []byte) (*IgnoreFile, []string, error) {
	var doc struct {
		Vulnerabilities   []yaml.Node `yaml:"vulnerabilities"`
		Misconfigurations []yaml.Node `yaml:"misconfigurations"`
		Secrets           []yaml.Node `yaml:"secrets"`
		Licenses          []yaml.Node `yaml:"licenses"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("scan: ignore file %s: %w", name, err)
	}
	base := filepath.Base(name)
	ig := &IgnoreFile{}
	var warnings []string
	for i := range doc.Vulnerabilities {
		where := fmt.Sprintf("%s vulnerabilities entry %d", base, i+1)
		var e trivyFinding
		if err := decodeStrict(&doc.Vulnerabilities[i], &e); err != nil {
			return nil, nil, fmt.Errorf("scan: ignore file %s: vulnerabilities entry %d: %w", name, i+1, err)
		}
		if e.ID == "" {
			return nil, nil, fmt.Errorf("scan: ignore file %s: vulnerabilities entry %d: needs an id", name, i+1)
		}
		r := IgnoreRule{ID: e.ID, Reason: e.Statement, source: where}
		if e.ExpiredAt != "" {
			t, err := time.Parse("2006-01-02", e.ExpiredAt)
			if err != nil {
				return nil, nil, fmt.Errorf("scan: ignore file %s: vulnerabilities entry %d: expired_at %q: want a date like 2027-01-31", name, i+1, e.ExpiredAt)
			}
			r.Expires, r.expires = e.ExpiredAt, t.Add(-time.Nanosecond)
		}
		for _, p := range e.Paths {
			if _, err := path.Match(strings.ReplaceAll(p, "**", "*"), "/"); err != nil {
				return nil, nil, fmt.Errorf("scan: ignore file %s: vulnerabilities entry %d: path %q: %w", name, i+1, p, err)
			}
		}
		for _, u := range e.PURLs {
			if !strings.HasPrefix(u, "pkg:") {
				return nil, nil, fmt.Errorf("scan: ignore file %s: vulnerabilities entry %d: purl %q is not a package URL (pkg:type/…)", name, i+1, u)
			}
		}
		if len(e.Paths) > 0 || len(e.PURLs) > 0 {
			r.more = &criteria{paths: e.Paths, purls: e.PURLs}
		}
		if strings.TrimSpace(e.Statement) == "" {
			warnings = append(warnings, fmt.Sprintf("%s: %s is ignored without a reason (statement)", where, e.ID))
		}
		ig.Ignore = append(ig.Ignore, r)
	}
	return ig, warnings, nil
}

// grypeRule is one of Grype's ignore rules.
type grypeRule struct {
	Vulnerability    string `yaml:"vulnerability"`
	Reason           string `yaml:"reason"`
	Namespace        string `yaml:"namespace"`
	FixState         string `yaml:"fix-state"`
	IncludeAliases   bool   `yaml:"include-aliases"`
	VexStatus        string `yaml:"vex-status"`
	VexJustification string `yaml:"vex-justification"`
	MatchType        string `yaml:"match-type"`
	Package          struct {
		Name         string `yaml:"name"`
		Version      string `yaml:"version"`
		Language     string `yaml:"language"`
		Type         string `yaml:"type"`
		Location     string `yaml:"location"`
		UpstreamName string `yaml:"upstream-name"`
	} `yaml:"package"`
}

// grypeFixStates are Grype's fix states, as Vigil's.
var grypeFixStates = map[string]match.FixState{
	"fixed": match.Fixed, "not-fixed": match.NotFixed, "wont-fix": match.WillNotFix, "unknown": "",
}

// ParseGrypeConfig reads the ignore rules of a Grype configuration file;
// its other settings are Grype's and are not read.
func ParseGrypeConfig(name string, data []byte) (*IgnoreFile, []string, error) {
	var doc struct {
		Ignore []yaml.Node `yaml:"ignore"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("scan: ignore file %s: %w", name, err)
	}
	base := filepath.Base(name)
	ig := &IgnoreFile{}
	var warnings []string
	for i := range doc.Ignore {
		where := fmt.Sprintf("%s ignore rule %d", base, i+1)
		fail := func(format string, args ...any) error {
			return fmt.Errorf("scan: ignore file %s: ignore rule %d: %s", name, i+1, fmt.Sprintf(format, args...))
		}
		var g grypeRule
		if err := decodeStrict(&doc.Ignore[i], &g); err != nil {
			return nil, nil, fail("%v", err)
		}
		c := &criteria{version: g.Package.Version, pkgType: g.Package.Type, language: g.Package.Language, location: g.Package.Location, upstream: g.Package.UpstreamName}
		r := IgnoreRule{ID: g.Vulnerability, Reason: g.Reason, source: where, more: c}
		if g.FixState != "" {
			fs, ok := grypeFixStates[g.FixState]
			if !ok {
				return nil, nil, fail("fix-state %q: want fixed, not-fixed, wont-fix or unknown", g.FixState)
			}
			if fs == "" {
				warnings = append(warnings, fmt.Sprintf("%s: fix-state unknown matches nothing: Vigil knows every finding's fix state", where))
				c.none = true
			}
			c.fix = fs
		}
		if n := g.Package.Name; n != "" {
			// Grype matches the whole name against the expression.
			re, err := regexp.Compile("^(?:" + n + ")$")
			if err != nil {
				return nil, nil, fail("package name %q: %v", n, err)
			}
			c.name = re
		}
		if l := g.Package.Location; l != "" {
			if _, err := path.Match(strings.ReplaceAll(l, "**", "*"), "/"); err != nil {
				return nil, nil, fail("package location %q: %v", l, err)
			}
		}
		for field, v := range map[string]string{"namespace": g.Namespace, "vex-status": g.VexStatus, "vex-justification": g.VexJustification, "match-type": g.MatchType} {
			if v != "" {
				warnings = append(warnings, fmt.Sprintf("%s: %s is Grype's own and Vigil cannot judge it; the rule silences nothing", where, field))
				c.none = true
			}
		}
		if r.ID == "" && c.fix == "" && !c.none && c.name == nil && c.version == "" && c.pkgType == "" && c.language == "" && c.location == "" && c.upstream == "" {
			warnings = append(warnings, fmt.Sprintf("%s: no criteria; it silences nothing", where))
			c.none = true
		}
		if strings.TrimSpace(g.Reason) == "" {
			warnings = append(warnings, fmt.Sprintf("%s: %s is ignored without a reason", where, grypeDescribe(&g)))
		}
		ig.Ignore = append(ig.Ignore, r)
	}
	return ig, warnings, nil
}

// grypeDescribe names what a Grype rule selects, for warnings.
func grypeDescribe(g *grypeRule) string {
	var parts []string
	for _, kv := range [][2]string{
		{"vulnerability", g.Vulnerability}, {"fix-state", g.FixState}, {"package name", g.Package.Name},
		{"package version", g.Package.Version}, {"package type", g.Package.Type}, {"package language", g.Package.Language},
		{"package location", g.Package.Location}, {"package upstream-name", g.Package.UpstreamName},
	} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	if len(parts) == 0 {
		return "the rule"
	}
	return strings.Join(parts, ", ")
}

// decodeStrict decodes n into v, refusing fields v does not have, so a
// misspelt criterion is an error rather than a rule wider than meant.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
