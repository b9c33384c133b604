package oval

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/vuln"
)

func parse(t *testing.T) map[string]*vuln.Advisory {
	t.Helper()
	b, err := os.ReadFile("testdata/elsa-per-arch.xml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*vuln.Advisory{}
	_, errs, err := Parse(bytes.NewReader(b), func(a *vuln.Advisory) error { out[a.ID] = a; return nil })
	if err != nil || len(errs) != 0 {
		t.Fatalf("%v %v", err, errs)
	}
	return out
}

func fixesOf(a *vuln.Advisory, eco, name string) []string {
	var out []string
	for _, af := range a.Affected {
		if af.Package.Ecosystem != eco || af.Package.Name != name {
			continue
		}
		for _, r := range af.Ranges {
			for _, e := range r.Events {
				if e.Fixed != "" {
					out = append(out, e.Fixed)
				}
			}
		}
	}
	return out
}

// TestParse reads three real ELSA definitions (their fixes as the
// criterion comments write them).
func TestParseOracle(t *testing.T) {
	advs := parse(t)
	if len(advs) != 3 {
		t.Fatalf("%d advisories: %v", len(advs), advs)
	}
	rs := advs["ELSA-2022-4803"]
	if rs == nil || fmt.Sprint(rs.Aliases) != "[CVE-2022-24903]" || rs.VendorSeverity != "important" || rs.Published.Format("2006-01-02") != "2022-05-31" {
		t.Fatalf("ELSA-2022-4803: %+v", rs)
	}
	// x86_64's respin, not aarch64's 57.0.4.
	if got := fixesOf(rs, "Oracle Linux:7", "rsyslog"); fmt.Sprint(got) != "[8.24.0-57.0.1.el7_9.3]" {
		t.Errorf("rsyslog fixed in %v", got)
	}
	// Two rebuilds, either accepted by the criteria: two ranges.
	if got := fixesOf(advs["ELSA-2024-2961"], "Oracle Linux:8", "osbuild"); fmt.Sprint(got) != "[110-1.0.1.el8 110-1.el8]" {
		t.Errorf("osbuild fixed in %v", got)
	}
	if got := fixesOf(advs["ELSA-2024-2961"], "Oracle Linux:8", "osbuild-composer"); fmt.Sprint(got) != "[101-1.el8]" {
		t.Errorf("osbuild-composer fixed in %v", got)
	}
	for _, a := range advs {
		for _, af := range a.Affected {
			if !strings.HasPrefix(af.Package.Ecosystem, "Oracle Linux:") {
				t.Errorf("%s: %+v", a.ID, af.Package)
			}
		}
	}
}

func TestParseNotOVAL(t *testing.T) {
	for _, doc := range []string{`<updates/>`, `<definition id="x"/>`, `not xml <`} {
		if _, _, err := Parse(strings.NewReader(doc), func(*vuln.Advisory) error { return nil }); err == nil {
			t.Errorf("%q read without error", doc)
		}
	}
}

func FuzzParseOVAL(f *testing.F) {
	b, err := os.ReadFile("testdata/elsa-per-arch.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:4096])
	f.Add([]byte(`<oval_definitions><definitions><definition class="patch"><metadata><title>ELSA-1: x</title><affected><platform>Oracle Linux 9</platform></affected></metadata><criteria><criterion comment="a is earlier than 0:1-1"/></criteria></definition></definitions></oval_definitions>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = Parse(bytes.NewReader(data), func(a *vuln.Advisory) error {
			if a.ID == "" || len(a.Affected) == 0 {
				t.Fatalf("empty advisory %+v", a)
			}
			return nil
		})
	})
}

// TestParsePhoton reads Photon OS 3's real PHSA OVAL: ids from the
// titles, CVEs from references written "CVE:00001:CVE-2019-16168", the
// generator's timestamp as the document's date.
func TestParsePhoton(t *testing.T) {
	b, err := os.ReadFile("testdata/com.vmware.phsa-photon3.xml")
	if err != nil {
		t.Fatal(err)
	}
	if rel, ok := IsPhoton(b[:4096]); !ok || rel != "3" {
		t.Fatalf("IsPhoton: %q %v", rel, ok)
	}
	advs := map[string]*vuln.Advisory{}
	meta, errs, err := Parse(bytes.NewReader(b), func(a *vuln.Advisory) error { advs[a.ID] = a; return nil })
	if err != nil || len(errs) != 0 {
		t.Fatalf("%v %v", err, errs)
	}
	if meta.Timestamp.Format("2006-01-02T15:04:05") != "2020-02-20T11:58:25" {
		t.Errorf("timestamp %v", meta.Timestamp)
	}
	a := advs["PHSA-2020:00001"]
	if a == nil || fmt.Sprint(a.Aliases) != "[CVE-2019-16168]" || fmt.Sprint(fixesOf(a, "Photon OS:3", "sqlite")) != "[3.27.2-5.ph3]" {
		t.Fatalf("PHSA-2020:00001: %+v", a)
	}
	if len(advs) < 200 {
		t.Errorf("%d advisories from 222 definitions", len(advs))
	}
}
