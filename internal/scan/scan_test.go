package scan

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/score"
)

func finding(id string, aliases []string, purl, path, severity string, fix match.FixState) *Finding {
	p := &inventory.Package{PURL: purl, Path: path}
	m := &match.Finding{ID: id, Aliases: aliases, Package: p, Fix: fix}
	return &Finding{Finding: m, Pkg: p, Score: score.Result{Severity: severity}}
}

func TestIgnoreRules(t *testing.T) {
	ig, err := ParseIgnoreFile("test.yaml", []byte(`ignore:
  - id: GHSA-aaaa
    reason: alias
  - package: pkg:npm/lodash
    reason: any lodash
  - package: pkg:deb/debian/libc6@2.36-9?arch=amd64
    reason: exact
  - path: /usr/share/**/doc.jar
    reason: glob
  - id: CVE-2020-1
    expires: 2020-06-30
    reason: expired
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		f    *Finding
		want string
	}{
		{finding("CVE-1", []string{"GHSA-aaaa"}, "pkg:pypi/x@1", "/a", "HIGH", match.Fixed), "alias"},
		{finding("CVE-2", nil, "pkg:npm/lodash@4.17.15", "/app/node_modules/lodash/package.json", "HIGH", match.Fixed), "any lodash"},
		{finding("CVE-2", nil, "pkg:npm/lodash-es@4.17.15", "/x", "HIGH", match.Fixed), ""},
		{finding("CVE-3", nil, "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12", "/var/lib/dpkg/status", "LOW", match.Fixed), "exact"},
		{finding("CVE-3", nil, "pkg:deb/debian/libc6@2.36-10?arch=amd64&distro=debian-12", "/var/lib/dpkg/status", "LOW", match.Fixed), ""},
		{finding("CVE-4", nil, "pkg:maven/a/b@1", "/usr/share/java/x/doc.jar", "LOW", match.Fixed), "glob"},
		{finding("CVE-4", nil, "pkg:maven/a/b@1", "/usr/lib/doc.jar", "LOW", match.Fixed), ""},
		{finding("CVE-2020-1", nil, "pkg:maven/a/b@1", "/x", "LOW", match.Fixed), ""},
	} {
		got := ""
		for i := range ig.Ignore {
			if ig.Ignore[i].Match(tc.f, now) {
				got = ig.Ignore[i].Reason
				break
			}
		}
		if got != tc.want {
			t.Errorf("%s %s %s: rule %q, want %q", tc.f.ID, tc.f.Pkg.PURL, tc.f.Pkg.Path, got, tc.want)
		}
	}
}

func TestIgnoreFileErrors(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"ignore:\n  - reason: nothing to match\n", "rule 1: needs an id, a package or a path"},
		{"ignore:\n  - id: CVE-1\n", "rule 1: needs a reason"},
		{"ignore:\n  - package: lodash\n    reason: x\n", "is not a package URL"},
		{"ignore:\n  - id: CVE-1\n    reason: x\n    expires: soon\n", "want a date"},
		{"ignores: []\n", "field ignores not found"},
	} {
		_, err := ParseIgnoreFile("f.yaml", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.data, err, tc.want)
		}
	}
}

func TestVEX(t *testing.T) {
	subject := Subject{Digest: "sha256:abc"}
	v, err := ParseVEX("v.json", []byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [
		{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:oci/app@sha256%3Aabc", "subcomponents": [{"@id": "pkg:npm/lodash"}]}],
		 "status": "not_affected", "justification": "vulnerable_code_not_present"},
		{"vulnerability": "CVE-2", "products": ["pkg:npm/lodash@4.17.15"], "status": "fixed"},
		{"vulnerability": {"name": "CVE-2"}, "products": [{"@id": "pkg:npm/lodash@4.17.15"}], "status": "affected"},
		{"vulnerability": {"name": "CVE-3"}, "products": [{"@id": "pkg:oci/other@sha256%3Adef"}], "status": "not_affected", "impact_statement": "other image"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	lodash := "pkg:npm/lodash@4.17.15"
	for _, tc := range []struct {
		f    *Finding
		want string
	}{
		{finding("CVE-1", nil, lodash, "/p", "HIGH", match.Fixed), "VEX not affected: vulnerable code not present"},
		{finding("CVE-1", nil, "pkg:npm/other@1", "/p", "HIGH", match.Fixed), ""},
		// A later "affected" statement overrides the earlier "fixed".
		{finding("CVE-2", nil, lodash, "/p", "HIGH", match.Fixed), ""},
		{finding("CVE-3", nil, lodash, "/p", "HIGH", match.Fixed), ""},
	} {
		if got := v.Verdict(tc.f, subject); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.f.ID, tc.f.Pkg.PURL, got, tc.want)
		}
	}
	for _, bad := range []string{
		`{"@context": "https://example.com"}`,
		`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": ["x"], "status": "maybe"}]}`,
		`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": ["x"], "status": "not_affected"}]}`,
	} {
		if _, err := ParseVEX("bad.json", []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestThresholds(t *testing.T) {
	fs := []*Finding{
		finding("A", nil, "p", "/", score.Critical, match.Fixed),
		finding("B", nil, "p", "/", score.High, match.Fixed),
		finding("C", nil, "p", "/", score.Untriaged, match.NotFixed),
	}
	for _, tc := range []struct {
		th   Thresholds
		want int
	}{
		{Thresholds{FailOn: score.Critical}, 1},
		{Thresholds{FailOn: score.Low}, 1},
		{Thresholds{Max: map[string]int{score.High: 1}}, 0},
		{Thresholds{Max: map[string]int{score.High: 0, score.Critical: 0}}, 2},
		{Thresholds{}, 0},
	} {
		if got := tc.th.Violations(fs); len(got) != tc.want {
			t.Errorf("%+v: %v", tc.th, got)
		}
	}
	if v := (Thresholds{FailOn: score.Critical}).Violations(fs); !strings.Contains(v[0], "1 findings of severity CRITICAL") {
		t.Errorf("message %q", v[0])
	}
	flt := Filter{IgnoreUnfixed: true, Severities: []string{score.High, score.Untriaged}}
	r := &Report{Findings: fs}
	flt.Apply(r)
	if len(r.Findings) != 1 || r.Findings[0].ID != "B" {
		t.Errorf("filtered to %v", r.Findings)
	}
}
