package scan

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
)

// fuzzFindings are findings to match fuzzed rules and statements against.
func fuzzFindings() []*Finding {
	mk := func(id string, aliases []string, purl, path string) *Finding {
		p := &inventory.Package{Name: "x", PURL: purl, Path: path}
		return &Finding{Finding: &match.Finding{ID: id, Aliases: aliases, Package: p}, Pkg: p}
	}
	return []*Finding{
		mk("CVE-2023-4911", nil, "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12", "/var/lib/dpkg/status"),
		mk("GHSA-jf85-cpcp-j695", []string{"CVE-2019-10744"}, "pkg:npm/lodash@4.17.11", "/app/node_modules/lodash/package.json"),
		mk("GO-2024-3106", []string{"CVE-2024-34156"}, "pkg:golang/stdlib@1.22.5", "/usr/share/doc/x/y"),
	}
}

// FuzzIgnoreFile parses arbitrary ignore files: an accepted file has a
// reason and a selector in every rule and survives its own JSON form
// read back as YAML; a refused one is named in the error; matching never
// panics.
func FuzzIgnoreFile(f *testing.F) {
	f.Add([]byte(`ignore:
  - id: CVE-2023-4911                 # the finding's id or any alias
    reason: no setuid binaries in this image
    expires: 2027-01-31
  - package: pkg:npm/lodash           # a purl; without @version, every version
    reason: build-time only
  - path: /usr/share/doc/**
    reason: documentation
`))
	f.Add([]byte("ignore:\n  - id: X\n    reason: r\n    expires: 2027-01-31T10:00:00Z\n  - path: '[a'\n    reason: r\n"))
	f.Add([]byte("ignore: [{package: 'pkg:npm/lodash@4.17.11', reason: x}, {id: y}]\nother: 1\n"))
	f.Add([]byte("a: &a [*a, *a, *a]\n"))
	findings := fuzzFindings()
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		ig, err := ParseIgnoreFile("ignore.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "scan: ignore file ignore.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for i, r := range ig.Ignore {
			if (r.ID == "" && r.Package == "" && r.Path == "") || strings.TrimSpace(r.Reason) == "" {
				t.Fatalf("rule %d accepted without a selector or a reason: %+v", i+1, r)
			}
			for _, fd := range findings {
				r.Match(fd, now)
			}
		}
		js, err := ig.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseIgnoreFile("again.yaml", []byte(`{"ignore": `+string(js)+`}`))
		if err != nil {
			t.Fatalf("the accepted file, written as JSON, is refused: %v\n%s", err, js)
		}
		if len(again.Ignore) != len(ig.Ignore) {
			t.Fatalf("%d rules read back, want %d", len(again.Ignore), len(ig.Ignore))
		}
		for i := range ig.Ignore {
			a, b := ig.Ignore[i], again.Ignore[i]
			if a.ID != b.ID || a.Package != b.Package || a.Path != b.Path || a.Reason != b.Reason || a.Expires != b.Expires || !a.expires.Equal(b.expires) {
				t.Fatalf("rule %d read back as %+v, want %+v", i+1, b, a)
			}
		}
	})
}

// FuzzVEX parses arbitrary OpenVEX documents: a refused one is named in
// the error; an accepted one gives, for any finding, a verdict that is
// empty or a reason starting "VEX not affected" or "VEX fixed".
func FuzzVEX(f *testing.F) {
	// The example of the OpenVEX specification (v0.2.0), and the earlier
	// form with strings.
	f.Add([]byte(`{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://openvex.dev/docs/public/vex-2e67563e128250cbcb3e98930df948dd053e43271d70dc50cfa22d57e03fe96f",
  "author": "Spring Builds <spring-builds@users.noreply.github.com>",
  "timestamp": "2023-08-29T18:44:14.216021-06:00",
  "version": 1,
  "statements": [
    {
      "vulnerability": {"name": "CVE-2023-4911", "aliases": ["GHSA-m77w-6vjw-wh2f"]},
      "products": [
        {"@id": "pkg:oci/app?repository_url=registry.example/team/app",
         "subcomponents": [{"@id": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12"}]}
      ],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path"
    },
    {
      "vulnerability": {"@id": "https://nvd.nist.gov/vuln/detail/CVE-2019-10744", "name": "CVE-2019-10744"},
      "products": [{"@id": "pkg:npm/lodash@4.17.11"}],
      "status": "fixed"
    }
  ]
}`))
	f.Add([]byte(`{"@context":"https://openvex.dev/ns","statements":[{"vulnerability":"GO-2024-3106","products":["pkg:golang/stdlib@1.22.5"],` +
		`"status":"not_affected","impact_statement":"gob is not used"},{"vulnerability":"GO-2024-3106","products":["pkg:golang/stdlib"],"status":"affected"}]}`))
	f.Add([]byte(`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{},"products":[],"status":"maybe"}]}`))
	findings := fuzzFindings()
	subject := Subject{Name: "registry.example/team/app:1.0", Digest: "sha256:" + strings.Repeat("ab", 32)}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVEX("vex.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "scan: vex vex.json") {
				t.Fatalf("error %q does not name the document", err)
			}
			return
		}
		if len(v.statements) > strings.Count(string(data), "{") {
			t.Fatalf("%d statements from a document with %d objects", len(v.statements), strings.Count(string(data), "{"))
		}
		for _, fd := range findings {
			r := v.Verdict(fd, subject)
			if r != "" && !strings.HasPrefix(r, "VEX not affected") && !strings.HasPrefix(r, "VEX fixed") {
				t.Fatalf("verdict %q", r)
			}
		}
	})
}
