package report

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
)

// Options configure the writers. The zero value is usable.
type Options struct {
	// Tool and Version name the program that wrote the document
	// ("vigil", "1.4.0"); Tool defaults to "vigil".
	Tool, Version string
	// AccountID and Region go into Inspector ARNs and findings. They
	// default to DefaultAccountID and DefaultRegion, as Vigil's events do.
	AccountID, Region string
	// Now stamps the document and, in Inspector findings, the
	// observation times. Zero means the report's Time, or the current
	// time when that is zero too. Tests set it.
	Now time.Time
	// Color turns on ANSI colors in the table; the other formats
	// ignore it.
	Color bool
	// PushedAt is when the image was pushed to Vigil's registry, the
	// pushedAt of Inspector findings; zero for an image scanned from
	// elsewhere, whose findings give its creation time instead.
	PushedAt time.Time
}

// The account and region Vigil uses when none is configured.
const (
	DefaultAccountID = "000000000000"
	DefaultRegion    = "local"
)

// infoURI is where readers of a document learn about the tool.
const infoURI = "https://github.com/vigilsec/vigil"

// resolve fills in the defaults.
func (o Options) resolve(r *scan.Report) Options {
	if o.Tool == "" {
		o.Tool = "vigil"
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Now.IsZero() && r != nil {
		o.Now = r.Time
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC()
	return o
}

// errNoReport is the error of a writer given no report.
func errNoReport(format string) error {
	return errors.New("report: " + format + ": no report")
}

// toolName is "vigil 1.4.0", or just the name when the version is unknown.
func (o Options) toolName() string {
	return strings.TrimSpace(o.Tool + " " + o.Version)
}

// findings returns the report's active and ignored findings, leaving out
// entries too broken to report (no vulnerability at all).
func findings(r *scan.Report) (active, ignored []*scan.Finding) {
	keep := func(fs []*scan.Finding) []*scan.Finding {
		var out []*scan.Finding
		for _, f := range fs {
			if f != nil && f.Finding != nil && f.ID != "" {
				out = append(out, f)
			}
		}
		return out
	}
	return keep(r.Findings), keep(r.Ignored)
}

// pkgOf returns the finding's package, never nil.
func pkgOf(f *scan.Finding) *inventory.Package {
	switch {
	case f.Pkg != nil:
		return f.Pkg
	case f.Finding.Package != nil:
		return f.Finding.Package
	}
	return &inventory.Package{}
}

// purlOf returns the package's purl, computing it when the inventory left
// it empty.
func purlOf(p *inventory.Package, d *inventory.Distro) string {
	if p.PURL != "" {
		return p.PURL
	}
	if p.Name == "" {
		return ""
	}
	return inventory.PURL(p, d)
}

// fixLabel is what the table shows in its FIX column.
func fixLabel(f *scan.Finding) string {
	switch {
	case f.Fix == match.Fixed && f.FixedVersion != "":
		return f.FixedVersion
	case f.Fix == match.WillNotFix:
		return "(will not fix)"
	}
	return "(no fix)"
}

// advice says in one sentence what to do about a finding.
func advice(f *scan.Finding) string {
	p := pkgOf(f)
	name := p.Name
	if name == "" {
		name = "the package"
	}
	switch {
	case f.Fix == match.Fixed && f.FixedVersion != "":
		if p.Type == inventory.Go && p.Name == "stdlib" {
			return "Rebuild the program with Go " + strings.TrimPrefix(f.FixedVersion, "v") + " or later."
		}
		if s := p.Source; s != nil && s.Name != "" && s.Name != p.Name && p.Type.IsOS() {
			// Distribution advisories give the source package's version.
			return "Upgrade " + name + " to a version built from " + s.Name + " " + f.FixedVersion + " or later."
		}
		return "Upgrade " + name + " to " + f.FixedVersion + " or later."
	case f.Fix == match.WillNotFix:
		return "The vendor will not fix " + name + "; remove it if it is not needed, or mitigate the vulnerability."
	}
	return "No fixed version of " + name + " is available yet."
}

// upgradeCommand is the command that installs the fix, in the shape of
// Inspector's vulnerablePackages[].remediation; "" when there is no fix
// or no single command.
func upgradeCommand(p *inventory.Package, f *scan.Finding) string {
	if f.Fix != match.Fixed || f.FixedVersion == "" || p.Name == "" {
		return ""
	}
	v := f.FixedVersion
	switch p.Type {
	case inventory.Deb:
		return "apt-get install --only-upgrade " + p.Name
	case inventory.APK:
		return "apk upgrade " + p.Name
	case inventory.RPM:
		return "dnf upgrade " + p.Name
	case inventory.Go:
		if p.Name == "stdlib" {
			return ""
		}
		return "go get " + p.Name + "@v" + strings.TrimPrefix(v, "v")
	case inventory.NPM:
		return "npm install " + p.Name + "@" + v
	case inventory.PyPI:
		return "pip install --upgrade '" + p.Name + ">=" + v + "'"
	case inventory.Gem:
		return "bundle update " + p.Name
	case inventory.Cargo:
		return "cargo update -p " + p.Name + " --precise " + v
	case inventory.Composer:
		return "composer update " + p.Name
	case inventory.NuGet:
		return "dotnet add package " + p.Name + " --version " + v
	}
	return ""
}

// packageManager names the package's origin with Inspector's
// packageManager values: OS for distribution packages; for language
// packages the kind of file they were read from (an installed package's
// metadata, or the lock or manifest file that declares it).
func packageManager(p *inventory.Package) string {
	base := path.Base(p.Path)
	switch p.Type {
	case inventory.Deb, inventory.APK, inventory.RPM:
		return "OS"
	case inventory.Go:
		if base == "go.mod" || base == "go.sum" {
			return "GOMOD"
		}
		return "GOBINARY"
	case inventory.Maven:
		if base == "pom.xml" || strings.HasSuffix(base, ".pom") {
			return "POM"
		}
		return "JAR"
	case inventory.NPM:
		switch base {
		case "yarn.lock":
			return "YARN"
		case "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml":
			// Inspector has no PNPM value; a pnpm lock is an npm lock.
			return "NPM"
		}
		return "NODEPKG"
	case inventory.PyPI:
		switch {
		case base == "Pipfile.lock":
			return "PIPENV"
		case base == "poetry.lock":
			return "POETRY"
		case strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt"):
			return "PIP"
		}
		return "PYTHONPKG"
	case inventory.Gem:
		if base == "Gemfile.lock" || base == "gems.locked" {
			return "BUNDLER"
		}
		return "GEMSPEC"
	case inventory.Cargo:
		return "CARGO"
	case inventory.Composer:
		return "COMPOSER"
	case inventory.NuGet:
		return "NUGET"
	}
	return strings.ToUpper(string(p.Type))
}

// fingerprint is a stable 32-hex-digit identity derived from parts.
func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// cvssOf parses the finding's vectors; those that do not parse are
// left out (the score package reports them as problems).
func cvssOf(f *scan.Finding) []score.CVSS {
	var out []score.CVSS
	for _, s := range f.CVSS {
		c, err := score.FromSeverity(s)
		if err != nil {
			continue
		}
		if c.Source == "" {
			c.Source = s.Source
		}
		out = append(out, c)
	}
	return out
}

// vendorSeverity is the vendor's own rating of the vulnerability: the
// word of the first advisory that has one.
func vendorSeverity(f *scan.Finding) string {
	for _, a := range f.Advisories {
		if a != nil && a.VendorSeverity != "" {
			return a.VendorSeverity
		}
	}
	return ""
}

// finite reports whether x can be written as a JSON number.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// scored reports whether the finding has a score (it is not UNTRIAGED).
func scored(f *scan.Finding) bool {
	return f.Score.Severity != "" && f.Score.Severity != score.Untriaged
}

// shortDigest is the first 12 hex digits of a digest, as docker shows
// image ids.
func shortDigest(d string) string {
	_, hex, ok := strings.Cut(d, ":")
	if !ok {
		hex = d
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}

// truncate shortens s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// firstSentence returns the first line of s, cut after its first
// sentence when that is shorter: a one-line summary of a description.
func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	return strings.TrimSpace(s)
}

// uniq returns the non-empty strings of lists, each once, in order.
func uniq(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if s != "" && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
