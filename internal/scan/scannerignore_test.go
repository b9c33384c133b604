package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
)

// readFixture parses one of testdata/ignore's files, the examples of
// Trivy's and Grype's documentation, under the name the tools give it.
func readFixture(t *testing.T, fixture, as string) (*IgnoreFile, []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "ignore", fixture))
	if err != nil {
		t.Fatal(err)
	}
	ig, warnings, err := ParseAnyIgnoreFile(as, data)
	if err != nil {
		t.Fatalf("%s: %v", fixture, err)
	}
	return ig, warnings
}

// ignoredBy returns the reason the first matching rule gives, or "".
func ignoredBy(ig *IgnoreFile, f *Finding, now time.Time) string {
	for i := range ig.Ignore {
		if ig.Ignore[i].Match(f, now) {
			return ig.Ignore[i].because()
		}
	}
	return ""
}

func TestScannerIgnoreTrivyPlain(t *testing.T) {
	ig, warnings := readFixture(t, "trivyignore", ".trivyignore")
	var ids []string
	for _, r := range ig.Ignore {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, " "); got != "CVE-2018-14618 CVE-2019-14697 CVE-2019-1543 AVD-DS-0002 generic-unwanted-rule aws-account-id" {
		t.Errorf("ids %s", got)
	}
	// Every id has a comment above it, which is its reason.
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	before := time.Date(2022, 12, 31, 23, 59, 0, 0, time.UTC)
	after := time.Date(2023, 1, 1, 0, 0, 1, 0, time.UTC)
	musl := finding("CVE-2019-14697", nil, "pkg:apk/alpine/musl@1.1.18-r3?arch=x86_64&distro=alpine-3.7.3", "/lib/apk/db/installed", "UNTRIAGED", match.Fixed)
	if got := ignoredBy(ig, musl, before); got != "ignore file: Accept the risk until 2023-01-01 (.trivyignore line 5)" {
		t.Errorf("before exp: %q", got)
	}
	if got := ignoredBy(ig, musl, after); got != "" {
		t.Errorf("after exp: still ignored: %q", got)
	}
	// An id matches aliases too.
	curl := finding("DSA-4268-1", []string{"CVE-2018-14618"}, "pkg:deb/debian/curl@7.52.1-5?distro=debian-9", "/var/lib/dpkg/status", "HIGH", match.Fixed)
	if got := ignoredBy(ig, curl, after); got != "ignore file: Accept the risk (.trivyignore line 2)" {
		t.Errorf("alias: %q", got)
	}
	// The comment block runs to the blank line.
	if r := ig.Ignore[5]; r.Reason != "Ignore secrets" {
		t.Errorf("aws-account-id reason %q", r.Reason)
	}

	ig, warnings, err := ParseTrivyIgnore("ci/.trivyignore", []byte("CVE-1\nCVE-2 # build tool only\nCVE-3 exp:2023-13-01\nCVE-4 exp:2030-01-01 # until the base image moves\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ig.Ignore) != 3 || ig.Ignore[1].Reason != "build tool only" || ig.Ignore[2].ID != "CVE-4" || ig.Ignore[2].Reason != "until the base image moves" {
		t.Errorf("rules %+v", ig.Ignore)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], ".trivyignore line 1: CVE-1 is ignored without a reason") ||
		!strings.Contains(warnings[1], "line 3: CVE-3: exp:2023-13-01 is not a date") {
		t.Errorf("warnings %q", warnings)
	}
}

func TestScannerIgnoreTrivyYAML(t *testing.T) {
	ig, warnings := readFixture(t, "trivyignore.yaml", ".trivyignore.yaml")
	if len(ig.Ignore) != 5 {
		t.Fatalf("%d rules, want the 5 vulnerabilities", len(ig.Ignore))
	}
	// Four of the five have no statement.
	if len(warnings) != 4 || !strings.Contains(warnings[0], "CVE-2023-2650 is ignored without a reason") {
		t.Errorf("warnings %q", warnings)
	}
	now := time.Date(2023, 8, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		f    *Finding
		want string
	}{
		{finding("CVE-2022-40897", nil, "pkg:pypi/setuptools@58.1.0", "/usr/local/lib/python3.9/site-packages/setuptools-58.1.0.dist-info/METADATA", "MEDIUM", match.Fixed),
			"ignore file: Accept the risk (.trivyignore.yaml vulnerabilities entry 1)"},
		{finding("CVE-2022-40897", nil, "pkg:pypi/setuptools@58.1.0", "/opt/venv/lib/python3.9/site-packages/setuptools-58.1.0.dist-info/METADATA", "MEDIUM", match.Fixed), ""},
		{finding("CVE-2023-3817", nil, "pkg:deb/debian/libssl1.1@1.1.1n-0+deb11u4?arch=amd64&distro=debian-11", "/var/lib/dpkg/status", "MEDIUM", match.Fixed),
			"ignore file: no reason given (.trivyignore.yaml vulnerabilities entry 4)"},
		{finding("CVE-2023-3817", nil, "pkg:deb/debian/openssl@1.1.1n-0+deb11u4?arch=amd64&distro=debian-11", "/var/lib/dpkg/status", "MEDIUM", match.Fixed), ""},
		{finding("CVE-2023-29491", nil, "pkg:deb/debian/ncurses-base@6.2+20201114-2", "/var/lib/dpkg/status", "HIGH", match.Fixed),
			"ignore file: no reason given (.trivyignore.yaml vulnerabilities entry 5)"},
	} {
		if got := ignoredBy(ig, tc.f, now); got != tc.want {
			t.Errorf("%s %s %s: %q, want %q", tc.f.ID, tc.f.Pkg.PURL, tc.f.Pkg.Path, got, tc.want)
		}
	}
	// expired_at 2023-09-01: the rule lapses that day.
	late := time.Date(2023, 9, 1, 0, 0, 1, 0, time.UTC)
	if got := ignoredBy(ig, finding("CVE-2023-29491", nil, "pkg:deb/debian/ncurses-base@6.2", "/var/lib/dpkg/status", "HIGH", match.Fixed), late); got != "" {
		t.Errorf("after expired_at: %q", got)
	}
	if _, _, err := ParseAnyIgnoreFile("x.yaml", []byte("vulnerabilities:\n  - id: CVE-1\n    expires_at: 2023-01-01\n")); err == nil || !strings.Contains(err.Error(), "entry 1") {
		t.Errorf("misspelt field: %v", err)
	}
}

func TestScannerIgnoreGrype(t *testing.T) {
	ig, warnings := readFixture(t, "grype.yaml", ".grype.yaml")
	if len(ig.Ignore) != 3 {
		t.Fatalf("%d rules, want 3", len(ig.Ignore))
	}
	// No rule has a reason; the first asks for fix-state unknown.
	if len(warnings) != 4 || !strings.Contains(strings.Join(warnings, "\n"), ".grype.yaml ignore rule 1: fix-state unknown matches nothing") ||
		!strings.Contains(strings.Join(warnings, "\n"), "ignore rule 3: package type gem is ignored without a reason") {
		t.Errorf("warnings %q", warnings)
	}
	now := time.Now()
	gem := finding("CVE-2020-8130", nil, "pkg:gem/rake@12.3.2", "/usr/lib/ruby/gems/2.5.0/specifications/rake-12.3.2.gemspec", "HIGH", match.Fixed)
	gem.Pkg.Type = inventory.Gem
	if got := ignoredBy(ig, gem, now); got != "ignore file: no reason given (.grype.yaml ignore rule 3)" {
		t.Errorf("gem: %q", got)
	}
	curl := finding("CVE-2008-4318", nil, "pkg:npm/libcurl@1.5.1", "/usr/local/lib/node_modules/libcurl/package.json", "HIGH", match.NotFixed)
	curl.Pkg.Type, curl.Pkg.Name, curl.Pkg.Version = inventory.NPM, "libcurl", "1.5.1"
	if got := ignoredBy(ig, curl, now); got != "" {
		t.Errorf("fix-state unknown silenced %q", got)
	}
	if got := ignoredBy(ig, finding("GHSA-x", []string{"CVE-2017-41432"}, "pkg:npm/a@1", "/a", "LOW", match.Fixed), now); got == "" {
		t.Error("vulnerability by alias not silenced")
	}

	// Every criterion of the full rule, with a fix state Vigil has.
	ig, warnings, err := ParseAnyIgnoreFile(".grype.yaml", []byte(`ignore:
  - vulnerability: CVE-2008-4318
    fix-state: not-fixed
    reason: vendored, not built
    package:
      name: lib.*curl
      version: 1.5.1
      type: npm
      language: javascript
      location: "/usr/local/lib/node_modules/**"
  - fix-state: wont-fix
    reason: the vendor will not fix
  - package:
      upstream-name: openssl
    reason: tracked upstream
  - vulnerability: CVE-1
    namespace: nvd:cpe
    reason: Grype's own
  - vulnerability: CVE-1
    vex-status: not_affected
    reason: Grype's own
  - vulnerability: CVE-1
    vex-justification: vulnerable_code_not_present
    reason: Grype's own
  - vulnerability: CVE-1
    match-type: exact-indirect-match
    reason: Grype's own
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 4 || !strings.Contains(warnings[0], "rule 4: namespace is Grype's own") || !strings.Contains(warnings[1], "rule 5: vex-status") ||
		!strings.Contains(warnings[2], "rule 6: vex-justification") || !strings.Contains(warnings[3], "rule 7: match-type") {
		t.Errorf("warnings %q", warnings)
	}
	if got := ignoredBy(ig, curl, now); got != "ignore file: vendored, not built (.grype.yaml ignore rule 1)" {
		t.Errorf("full rule: %q", got)
	}
	for _, change := range []func(f *Finding){
		func(f *Finding) { f.Fix = match.Fixed },
		func(f *Finding) { f.Pkg.Name = "libcurl2-x" },
		func(f *Finding) { f.Pkg.Version = "1.5.2" },
		func(f *Finding) { f.Pkg.Type = inventory.PyPI },
		func(f *Finding) { f.Pkg.Path = "/app/node_modules/libcurl/package.json" },
	} {
		g := *curl
		p := *curl.Pkg
		m := *curl.Finding
		g.Pkg, g.Finding = &p, &m
		change(&g)
		if got := ignoredBy(ig, &g, now); got != "" {
			t.Errorf("%+v %s: still silenced: %q", g.Pkg, g.Fix, got)
		}
	}
	wontfix := finding("CVE-2", nil, "pkg:deb/debian/tar@1.34", "/var/lib/dpkg/status", "LOW", match.WillNotFix)
	if got := ignoredBy(ig, wontfix, now); !strings.Contains(got, "the vendor will not fix") {
		t.Errorf("wont-fix: %q", got)
	}
	ssl := finding("CVE-3", nil, "pkg:deb/debian/libssl3@3.0.11", "/var/lib/dpkg/status", "LOW", match.Fixed)
	ssl.Pkg.Source = &inventory.Source{Name: "openssl"}
	if got := ignoredBy(ig, ssl, now); !strings.Contains(got, "tracked upstream") {
		t.Errorf("upstream-name: %q", got)
	}
	if got := ignoredBy(ig, finding("CVE-1", nil, "pkg:npm/a@1", "/a", "LOW", match.Fixed), now); got != "" {
		t.Errorf("namespace rule silenced %q", got)
	}

	for _, bad := range []string{
		"ignore:\n  - vulnerability: CVE-1\n    fixstate: fixed\n",
		"ignore:\n  - fix-state: maybe\n",
		"ignore:\n  - package:\n      name: '('\n",
	} {
		if _, _, err := ParseAnyIgnoreFile(".grype.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "ignore rule 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestScannerIgnoreFormat: Vigil's own file is still read strictly as
// Vigil's, whatever it is called.
func TestScannerIgnoreFormat(t *testing.T) {
	ig, _, err := ParseAnyIgnoreFile("vigil.yaml", []byte("ignore:\n  - id: CVE-1\n    reason: r\n"))
	if err != nil || len(ig.Ignore) != 1 || ig.Ignore[0].source != "" {
		t.Errorf("vigil format: %+v %v", ig, err)
	}
	if _, _, err := ParseAnyIgnoreFile("vigil.yaml", []byte("ignore:\n  - id: CVE-1\n")); err == nil || !strings.Contains(err.Error(), "needs a reason") {
		t.Errorf("vigil rule without a reason: %v", err)
	}
	// A Grype configuration without ignore rules has none.
	if ig, _, err := ParseAnyIgnoreFile(".grype.yaml", []byte("output: json\nfail-on-severity: high\n")); err != nil || len(ig.Ignore) != 0 {
		t.Errorf("grype config without rules: %+v %v", ig, err)
	}
}

// FuzzScannerIgnore parses arbitrary Trivy and Grype ignore files: an
// error names the file, and matching never panics.
func FuzzScannerIgnore(f *testing.F) {
	for _, name := range []string{"trivyignore", "trivyignore.yaml", "grype.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "ignore", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("ignore:\n  - package: {name: '(a|b)*', location: '[a'}\n"))
	findings := fuzzFindings()
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{".trivyignore", ".trivyignore.yaml", ".grype.yaml"} {
			ig, _, err := ParseAnyIgnoreFile(name, data)
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("error %q does not name the file", err)
				}
				continue
			}
			for i := range ig.Ignore {
				for _, fd := range findings {
					ig.Ignore[i].Match(fd, now)
				}
			}
		}
	})
}
