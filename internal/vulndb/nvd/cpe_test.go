package nvd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/vuln"
)

// parseRecord reads one CVE object kept in testdata/cpe through Parse,
// wrapped in an API 2.0 envelope.
func parseRecord(t *testing.T, name string) CVE {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cpe", name))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := json.Marshal(map[string]any{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": []map[string]json.RawMessage{{"cve": b}}})
	var got []CVE
	if _, errs, err := Parse(strings.NewReader(string(page)), func(c CVE) error { got = append(got, c); return nil }); err != nil || len(errs) != 0 {
		t.Fatalf("%s: %v %v", name, err, errs)
	}
	if len(got) != 1 {
		t.Fatalf("%s: %d records", name, len(got))
	}
	return got[0]
}

// TestCPEAdvisory turns the real records' applicability statements into
// affected ranges, each bound as the record states it.
func TestCPEAdvisory(t *testing.T) {
	for _, c := range []struct {
		file string
		want []vuln.Affected
	}{
		{"CVE-2023-30581.json", []vuln.Affected{{Package: vuln.Package{Ecosystem: "NVD", Name: "nodejs:node.js"},
			Ranges: []vuln.Range{{Type: "ECOSYSTEM", Events: []vuln.Event{{Introduced: "16.0.0"}, {LastAffected: "20.6.1"}}}}}}},
		{"CVE-2023-36632.json", []vuln.Affected{{Package: vuln.Package{Ecosystem: "NVD", Name: "python:python"},
			Ranges: []vuln.Range{{Type: "ECOSYSTEM", Events: []vuln.Event{{Introduced: "0"}, {LastAffected: "3.11.4"}}}}}}},
		{"CVE-2023-24329.json", []vuln.Affected{{Package: vuln.Package{Ecosystem: "NVD", Name: "python:python"},
			Ranges: []vuln.Range{{Type: "ECOSYSTEM", Events: []vuln.Event{{Introduced: "0"}, {Fixed: "3.11"}}}}}}},
		{"CVE-2022-48174.json", []vuln.Affected{{Package: vuln.Package{Ecosystem: "NVD", Name: "busybox:busybox"},
			Ranges: []vuln.Range{{Type: "ECOSYSTEM", Events: []vuln.Event{{Introduced: "0"}, {LastAffected: "1.36.1"}}}}}}},
	} {
		rec := parseRecord(t, c.file)
		a, ok := rec.CPEAdvisory()
		if !ok || a.ID != rec.ID || len(a.Severity) == 0 {
			t.Errorf("%s: %+v %v", c.file, a, ok)
			continue
		}
		if !reflect.DeepEqual(a.Affected, c.want) {
			t.Errorf("%s: affected %+v, want %+v", c.file, a.Affected, c.want)
		}
	}
}

func TestParseCPE(t *testing.T) {
	for _, c := range []struct {
		in   string
		want CPE
		err  bool
	}{
		{in: "cpe:2.3:a:nodejs:node.js:*:*:*:*:-:*:*:*", want: CPE{"a", "nodejs", "node.js", "*", "*"}},
		{in: "cpe:2.3:a:openssl:openssl:1.0.2:beta1:*:*:*:*:*:*", want: CPE{"a", "openssl", "openssl", "1.0.2", "beta1"}},
		{in: `cpe:2.3:a:gnu:g\+\+:4.8\:1:*:*:*:*:*:*:*`, want: CPE{"a", "gnu", `g\+\+`, `4.8\:1`, "*"}},
		{in: "cpe:2.3:o:linux:linux_kernel:6.1:*:*:*:*:*:*:*", want: CPE{"o", "linux", "linux_kernel", "6.1", "*"}},
		{in: "cpe:/a:nodejs:node.js:18.0.0", err: true},
		{in: "cpe:2.3:a:nodejs:node.js:*", err: true},
		{in: "cpe:2.3:a:*:*:*:*:*:*:*:*:*:*", err: true},
		{in: "cpe:2.3:a:x:y:" + strings.Repeat("1", 2000) + ":*:*:*:*:*:*:*", err: true},
	} {
		got, err := ParseCPE(c.in)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("ParseCPE(%q) = %+v, %v", c.in, got, err)
		}
	}
}

// FuzzParseCPE: no input panics, and what parses has every field.
func FuzzParseCPE(f *testing.F) {
	f.Add("cpe:2.3:a:nodejs:node.js:*:*:*:*:-:*:*:*")
	f.Add(`cpe:2.3:a:gnu:g\+\+:4.8\:1:*:*:*:*:*:*:\`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCPE(s)
		if err == nil && (c.Vendor == "" || c.Product == "") {
			t.Fatalf("%q: %+v", s, c)
		}
	})
}
