package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var suseNVR = regexp.MustCompile(`^(.+)-([^-]+)-([^-]+)$`)

// TestScanSUSE builds SLES 15 SP2 roots (SP2's real os-release) with
// mailx versioned around the fixes of SUSE's real VEX document of
// CVE-2004-2771 — 12.5-1.87 for SLES 15 SP1 to SP3, 12.5-3.3.1 for SP4 and
// SP5 — and checks that each is reported exactly when rpm orders it
// before SP2's fix: mailx 12.5-1.87 is fixed in SP2, though older than
// SP4's fix, and is not reported.
func TestScanSUSE(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	mirror := filepath.Join(dir, "mirror")
	os.MkdirAll(mirror, 0o755)
	b, err := os.ReadFile("../vulndb/csaf/testdata/suse-cve-2004-2771.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mirror, "cve-2004-2771.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	runVigilEnv(t, env, "db", "import", mirror)
	status, _ := runVigilEnv(t, env, "db", "status")
	found := false
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[0] == "suse/vex" && f[1] == "suse-csaf-vex" && f[2] == "1" && strings.Contains(line, "2026-08-23 (") {
			found = true
		}
	}
	if !found {
		t.Errorf("db status lacks suse/vex with 1 record and data as of 2026-08-23:\n%s", status)
	}

	// SUSE's fixes per product, read from the document without Vigil's
	// parser: the product ids listed as recommended, PRODUCT:NAME-VERSION-RELEASE.
	var doc struct {
		Vulnerabilities []struct {
			ProductStatus struct {
				Recommended []string `json:"recommended"`
			} `json:"product_status"`
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	fixes := map[string]string{} // "product\x00name" → version-release
	for _, id := range doc.Vulnerabilities[0].ProductStatus.Recommended {
		product, nvr, _ := strings.Cut(id, ":")
		m := suseNVR.FindStringSubmatch(nvr)
		if m == nil {
			t.Fatalf("product id %q", id)
		}
		fixes[product+"\x00"+m[1]] = m[2] + "-" + m[3]
	}
	sp2 := fixes["SUSE Linux Enterprise Server 15 SP2\x00mailx"]
	sp4 := fixes["SUSE Linux Enterprise Server 15 SP4\x00mailx"]
	if sp2 == "" || sp4 == "" {
		t.Fatalf("fixes %v", fixes)
	}
	for _, c := range []rpmPkg{
		{"mailx", "0", "12.5", "1.86"},
		{"mailx", "0", "12.5", "1.87"},
		{"mailx", "0", "12.5", "3.3.2"},
	} {
		t.Run(c.evr(), func(t *testing.T) {
			root := buildRPMRoot(t, "../distro/testdata/os-release/sles-15", []rpmPkg{c})
			r := rpmVercmp(t, [][2]string{{c.evr(), sp2}, {c.evr(), sp4}})
			if c.release == "1.87" && r[1] >= 0 {
				t.Fatalf("rpm orders %s at or after SP4's fix: the case proves nothing", c.evr())
			}
			want := map[string]string{}
			if r[0] < 0 {
				want["mailx CVE-2004-2771"] = "fixed"
			}
			out, errs := runVigilEnv(t, env, "scan", "dir:"+root, "--format", "json", "--db-max-age", "1000000h")
			var rep struct {
				Findings []struct {
					ID        string `json:"id"`
					Ecosystem string `json:"ecosystem"`
					Fix       struct {
						State   string `json:"state"`
						Version string `json:"version"`
					} `json:"fix"`
					Package struct {
						Name string `json:"name"`
					} `json:"package"`
				} `json:"findings"`
				Coverage struct {
					Reason string `json:"reason"`
				} `json:"coverage"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, errs)
			}
			got := map[string]string{}
			for _, f := range rep.Findings {
				got[f.Package.Name+" "+f.ID] = f.Fix.State
				if f.Ecosystem != "SUSE:Linux Enterprise Server 15 SP2" || f.Fix.Version != sp2 {
					t.Errorf("%s: ecosystem %s, fixed in %s, want SP2's %s", f.ID, f.Ecosystem, f.Fix.Version, sp2)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("reported %v; rpm against SP2's fix %s says %v", got, sp2, want)
			}
			if rep.Coverage.Reason == "UNSUPPORTED_OS" {
				t.Errorf("coverage %s", rep.Coverage.Reason)
			}
			t.Logf("rpm: %s vs SP2's %s: %d, vs SP4's %s: %d; reported %v", c.evr(), sp2, r[0], sp4, r[1], got)
		})
	}
}
