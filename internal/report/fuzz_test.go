package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/vuln"
)

var fuzzTypes = []inventory.Type{inventory.Deb, inventory.APK, inventory.RPM, inventory.Go, inventory.NPM,
	inventory.PyPI, inventory.Maven, inventory.Gem, inventory.Cargo, inventory.Composer, inventory.NuGet}

// FuzzWriters renders reports whose text comes from the fuzzer — as it
// comes from feeds and images — with every writer: none may fail or
// panic, the JSON formats must stay valid against their schemas, and the
// table must stay free of control sequences and within its width.
func FuzzWriters(f *testing.F) {
	f.Add("libssl3", "3.0.13-1~deb12u1", "/var/lib/dpkg/status", "CVE-2024-6119", "Issue summary: X.509 name checks.", "registry.local/team/app:1.4", "3.0.14-1~deb12u2", "https://security-tracker.debian.org/tracker/CVE-2024-6119", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", byte(0), byte(0))
	f.Add("@types/node", "1.0.0", "/app/package-lock.json", "GHSA-xxxx-yyyy-zzzz", "a\x1b[31mred\x1b[0m\nline\u202e", "oci:./images/app:latest", "", "not a url", "", byte(4), byte(7))
	f.Add("a b|c", "1:2.3-4", "/opt/a b/c:d!/e.jar", "ID WITH SPACE", strings.Repeat("é", 2000), "", "9", "http://[::1]:80/x y", "CVSS:3.1/AV:N", byte(6), byte(3))
	f.Add("", "", "", "X", "", "dir:/", "", "", "AV:N/AC:L/Au:N/C:P/I:P/A:P", byte(2), byte(255))
	schemas := map[string]*jsonschema.Schema{
		"sarif":     compileSARIF(f),
		"cyclonedx": compileCycloneDX(f),
		"openvex":   compileOpenVEX(f),
	}
	f.Fuzz(func(t *testing.T, name, version, path, id, desc, subject, fixed, url, vector string, typ, flags byte) {
		if id == "" {
			return // the writers leave out findings without an id
		}
		p := inventory.Package{Name: name, Version: version, Type: fuzzTypes[int(typ)%len(fuzzTypes)], Path: path,
			Arch: "amd64", Source: &inventory.Source{Name: name + "-src"}, Layer: inventory.LayerRef{Index: 1, DiffID: digestOf(name)}}
		p.PURL = inventory.PURL(&p, testDistro)
		m := &match.Finding{ID: id, Aliases: []string{id + "-alias", id + "-alias"}, Related: []string{"DSA-1-1", "DSA-1-1"},
			Package: &p, Ecosystem: "Debian:11", Version: version, Fix: match.NotFixed,
			Advisories: []*vuln.Advisory{{ID: id, Summary: desc, Source: name,
				References: []vuln.Reference{{Type: "ADVISORY", URL: url}, {Type: "WEB", URL: url}}}}}
		if fixed != "" {
			m.Fix, m.FixedVersion = match.Fixed, fixed
		} else if flags&1 != 0 {
			m.Fix = match.WillNotFix
		}
		in := score.Input{KEV: flags&2 != 0, FixAvailable: "NO"}
		if vector != "" {
			in.NVD = []vuln.Severity{{Type: vuln.CVSSv3, Score: vector, Source: "nvd@nist.gov"}}
		}
		sf := &scan.Finding{Finding: m, Pkg: &p, Title: id + " - " + name, Description: desc, Source: name,
			SourceURL: url, References: []string{url}, Score: score.Score(in)}
		r := &scan.Report{
			Subject:  scan.Subject{Name: subject, Digest: digestOf(subject), Platform: "linux/" + name},
			Distro:   testDistro,
			Packages: []inventory.Package{p},
			Findings: []*scan.Finding{sf},
			Time:     testTime,
		}
		if flags&4 != 0 {
			sf.IgnoredBecause = "VEX not affected: " + desc
			r.Findings, r.Ignored = nil, r.Findings
		}
		if flags&8 != 0 {
			sf.Uncertain = desc
		}
		if flags&16 != 0 {
			r.Subject.Digest = ""
		}

		for format, write := range map[string]func(*bytes.Buffer) error{
			"table":     func(b *bytes.Buffer) error { return WriteTable(b, r, testOptions()) },
			"json":      func(b *bytes.Buffer) error { return WriteJSON(b, r, testOptions()) },
			"inspector": func(b *bytes.Buffer) error { return WriteInspector(b, r, testOptions()) },
			"sarif":     func(b *bytes.Buffer) error { return WriteSARIF(b, r, testOptions()) },
			"cyclonedx": func(b *bytes.Buffer) error { return WriteCycloneDX(b, r, testOptions()) },
			"openvex":   func(b *bytes.Buffer) error { return WriteOpenVEX(b, r, testOptions()) },
		} {
			var buf bytes.Buffer
			if err := write(&buf); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			out := buf.Bytes()
			if format == "table" {
				for _, l := range strings.Split(string(out), "\n") {
					if n := utf8.RuneCountInString(l); n > tableWidth {
						t.Fatalf("table line of %d columns: %q", n, l)
					}
				}
				if bytes.ContainsAny(out, "\x1b\x07\r") || strings.Contains(string(out), "\u202e") {
					t.Fatalf("table has control characters:\n%q", out)
				}
				continue
			}
			if !json.Valid(out) {
				t.Fatalf("%s: invalid JSON", format)
			}
			s := schemas[format]
			if s == nil {
				continue
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if format == "openvex" && r.Findings == nil && r.Ignored == nil {
				continue
			}
			if err := s.Validate(v); err != nil {
				t.Fatalf("%s: %v\n%s", format, err, out)
			}
		}
	})
}
