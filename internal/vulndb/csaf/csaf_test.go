package csaf

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/vuln"
)

func parseFile(t *testing.T, name string) []*vuln.Advisory {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*vuln.Advisory
	if err := Parse(f, func(a *vuln.Advisory) error { out = append(out, a); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func affectedOf(a *vuln.Advisory, eco, name string) *vuln.Affected {
	for i := range a.Affected {
		if a.Affected[i].Package.Ecosystem == eco && a.Affected[i].Package.Name == name {
			return &a.Affected[i]
		}
	}
	return nil
}

func fixes(af *vuln.Affected) []string {
	var out []string
	for _, r := range af.Ranges {
		for _, e := range r.Events {
			if e.Fixed != "" {
				out = append(out, e.Fixed)
			}
		}
	}
	return out
}

// TestParseCurlVEX reads Red Hat's VEX document of CVE-2023-38545: the
// fixes named by its product ids (AppStream-9.0.0.Z.EUS:curl-0:7.76.1-14.el9_0.9.x86_64,
// …9.2.0.Z.MAIN.EUS:…-23.el9_2.4…, …9.3.0.Z.MAIN:…-26.el9_3.2…) land in the
// streams of their products' CPEs, and RHEL 8, known not affected, gets
// nothing.
func TestParseCurlVEX(t *testing.T) {
	advs := parseFile(t, "cve-2023-38545.json")
	if len(advs) != 1 {
		t.Fatalf("%d advisories", len(advs))
	}
	a := advs[0]
	if a.ID != "REDHAT-CVE-2023-38545" || fmt.Sprint(a.Upstream) != "[CVE-2023-38545]" || a.VendorSeverity != "Important" {
		t.Errorf("id %s upstream %v severity %q", a.ID, a.Upstream, a.VendorSeverity)
	}
	if len(a.Severity) != 1 || !strings.HasPrefix(a.Severity[0].Score, "CVSS:3.1/") {
		t.Errorf("severity %v", a.Severity)
	}
	if !slices.Contains(a.Related, "RHSA-2023:5763") {
		t.Errorf("related %v lacks RHSA-2023:5763", a.Related)
	}
	for _, c := range []struct {
		eco, name string
		want      []string
	}{
		{"Red Hat:rhel_eus:9.0::appstream", "curl", []string{"7.76.1-14.el9_0.9"}},
		{"Red Hat:rhel_eus:9.0::baseos", "libcurl", []string{"7.76.1-14.el9_0.9"}},
		// The 9.2 EUS products carry the mainline CPE.
		{"Red Hat:enterprise_linux:9::appstream", "curl", []string{"7.76.1-23.el9_2.4", "7.76.1-26.el9_3.2"}},
		{"Red Hat:enterprise_linux:9::baseos", "libcurl-minimal", []string{"7.76.1-23.el9_2.4", "7.76.1-26.el9_3.2"}},
	} {
		af := affectedOf(a, c.eco, c.name)
		if af == nil {
			t.Errorf("%s %s: not affected", c.eco, c.name)
			continue
		}
		if got := fixes(af); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s %s: fixed in %v, want %v", c.eco, c.name, got, c.want)
		}
	}
	for _, af := range a.Affected {
		if strings.Contains(af.Package.Ecosystem, "enterprise_linux:8") || af.Package.Name == "curl.src" {
			t.Errorf("unexpected %+v", af.Package)
		}
	}
}

// TestParseStates: CVE-2022-38752's snakeyaml is known affected in RHEL 7
// with remediation no_fix_planned ("Out of support scope"), and in Camel
// Quarkus 2 with none_available ("Affected").
func TestParseStates(t *testing.T) {
	a := parseFile(t, "cve-2022-38752.json")[0]
	for _, c := range []struct {
		eco  string
		want vuln.Status
	}{
		{"Red Hat:enterprise_linux:7", vuln.WillNotFix},
		{"Red Hat:camel_quarkus:2", vuln.NotFixed},
	} {
		af := affectedOf(a, c.eco, "snakeyaml")
		if af == nil || af.Status != c.want || len(fixes(af)) != 0 {
			t.Errorf("%s snakeyaml: %+v, want %s without a fix", c.eco, af, c.want)
		}
	}
}

// TestReadArchive reads a real csaf_vex_YYYY-MM-DD.tar.zst (five 2023
// documents, none about an RPM of RHEL) whole, and refuses a truncated
// copy without panicking.
func TestReadArchive(t *testing.T) {
	b, err := os.ReadFile("testdata/csaf_vex_2023-10-31.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	if !IsArchive(bytes.NewReader(b)) {
		t.Fatal("not recognised as a VEX archive")
	}
	var ids []string
	arch, errs, err := ReadArchive(bytes.NewReader(b), func(a *vuln.Advisory) error { ids = append(ids, a.ID); return nil })
	if err != nil || len(errs) != 0 {
		t.Fatalf("%v %v", err, errs)
	}
	// cve-2023-0030.json, which names no RPM, is the newest.
	if arch.Documents != 5 || arch.Newest.Format(time.RFC3339) != "2023-12-05T15:28:18Z" {
		t.Errorf("archive %+v", arch)
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, "REDHAT-CVE-2023-00") {
			t.Errorf("advisory %s", id)
		}
	}
	if _, _, err := ReadArchive(bytes.NewReader(b[:len(b)/2]), func(*vuln.Advisory) error { return nil }); err == nil {
		t.Error("a truncated archive read without error")
	}
	if IsArchive(strings.NewReader(`{"document":{}}`)) {
		t.Error("a lone JSON document taken for an archive")
	}
}

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile("testdata/cve-2023-38545.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:4096])
	f.Add([]byte(`{"document":{"category":"csaf_vex"},"product_tree":{"branches":[{"category":"product_name","product":{"product_id":"p","product_identification_helper":{"cpe":"cpe:/o:redhat:enterprise_linux:9::baseos"}}},{"category":"product_version","name":"x","product":{"product_id":"x-1:2-3.el9.x86_64","product_identification_helper":{"purl":"pkg:rpm/redhat/x@2-3.el9?arch=x86_64&epoch=1"}}}],"relationships":[{"full_product_name":{"product_id":"p:x"},"product_reference":"x-1:2-3.el9.x86_64","relates_to_product_reference":"p"}]},"vulnerabilities":[{"cve":"CVE-1-1","product_status":{"fixed":["p:x"]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Parse(bytes.NewReader(data), func(a *vuln.Advisory) error {
			if a.ID == "" || len(a.Affected) == 0 {
				t.Fatalf("empty advisory %+v", a)
			}
			return nil
		})
	})
}

// TestParseSUSE reads SUSE's VEX document of CVE-2004-2771: fixed versions
// are listed as "recommended", products are named, not CPE-keyed.
func TestParseSUSE(t *testing.T) {
	b, err := os.ReadFile("testdata/suse-cve-2004-2771.json")
	if err != nil {
		t.Fatal(err)
	}
	if Vendor(b) != SUSE {
		t.Fatal("not recognised as SUSE's")
	}
	a := parseFile(t, "suse-cve-2004-2771.json")[0]
	if a.ID != "SUSE-CVE-2004-2771" || a.VendorSeverity != "important" || a.References[0].URL != "https://www.suse.com/security/cve/CVE-2004-2771" {
		t.Errorf("%s %q %v", a.ID, a.VendorSeverity, a.References)
	}
	for eco, want := range map[string]string{
		"SUSE:Linux Enterprise Server 15 SP2": "12.5-1.87",
		"SUSE:Linux Enterprise Server 15 SP5": "12.5-3.3.1",
		"SUSE:Linux Enterprise Server 15 SP7": "12.5-150600.16.3",
	} {
		af := affectedOf(a, eco, "mailx")
		if af == nil || fmt.Sprint(fixes(af)) != "["+want+"]" || af.Package.PURL != "pkg:rpm/suse/mailx" {
			t.Errorf("%s: %+v, want fixed in %s", eco, af, want)
		}
	}
	if b, _ := os.ReadFile("testdata/cve-2023-38545.json"); Vendor(b) != RedHat {
		t.Error("Red Hat's document taken for SUSE's")
	}
	if v := Vendor([]byte(`{"document":{"csaf_version":"2.0","publisher":{"namespace":"https://example.com"}}}`)); v != "" {
		t.Errorf("another publisher's document taken for %s's", v)
	}
}
