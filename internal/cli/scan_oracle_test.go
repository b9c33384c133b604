package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	ovalComment  = regexp.MustCompile(`comment="([^"]*)"`)
	ovalPlatform = regexp.MustCompile(`<platform>(?:Oracle Linux|Photon) (\d+)</platform>`)
	ovalELSA     = regexp.MustCompile(`ref_id="(ELSA-[^"]+)"`)
	ovalPHSA     = regexp.MustCompile(`<title>\s*(PHSA-[^ ]+) `)
)

type ovalFixKey struct{ release, name string }

// ovalFixes reads the fixes of OVAL definitions from their criterion
// comments line by line, without Vigil's parser: those under "Oracle Linux
// arch is x86_64", or of definitions naming no architecture.
func ovalFixes(doc []byte) map[ovalFixKey]map[string][]string {
	fixes := map[ovalFixKey]map[string][]string{} // → advisory → EVRs
	for _, def := range strings.Split(string(doc), "<definition ")[1:] {
		// The tests after the last definition carry the same comments.
		def, _, _ = strings.Cut(def, "</definition>")
		rel := ovalPlatform.FindStringSubmatch(def)
		id := ovalELSA.FindStringSubmatch(def)
		if id == nil {
			id = ovalPHSA.FindStringSubmatch(def)
		}
		if rel == nil || id == nil {
			continue
		}
		perArch := strings.Contains(def, "Oracle Linux arch is ")
		arch := ""
		for _, m := range ovalComment.FindAllStringSubmatch(def, -1) {
			c := m[1]
			if a, ok := strings.CutPrefix(c, "Oracle Linux arch is "); ok {
				arch = a
				continue
			}
			name, evr, ok := strings.Cut(c, " is earlier than ")
			if !ok || perArch && arch != "x86_64" {
				continue
			}
			k := ovalFixKey{rel[1], name}
			if fixes[k] == nil {
				fixes[k] = map[string][]string{}
			}
			if evr = strings.TrimPrefix(evr, "0:"); !slices.Contains(fixes[k][id[1]], evr) {
				fixes[k][id[1]] = append(fixes[k][id[1]], evr)
			}
		}
	}
	return fixes
}

// TestScanOracleLinux builds Oracle Linux 7 and 8 and Photon OS 3 roots (their real
// os-release files) with packages versioned around the fixes of three real
// ELSA OVAL definitions — ELSA-2022-4803 (rsyslog, fixed at
// 8.24.0-57.0.1.el7_9.3 on x86_64 and 57.0.4 on aarch64), ELSA-2024-2961
// (osbuild, two rebuilds either of which the criteria accept) — and of
// Photon 3's real PHSA OVAL (sqlite, curl), and checks each package is
// reported for exactly the advisories whose x86_64 (or
// architecture-less) fix rpm orders after it.
func TestScanOracleLinux(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	doc, err := os.ReadFile("../vulndb/oval/testdata/elsa-per-arch.xml")
	if err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(dir, "mirror")
	os.MkdirAll(mirror, 0o755)
	if err := os.WriteFile(filepath.Join(mirror, "com.oracle.elsa-all.xml"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	runVigilEnv(t, env, "db", "import", mirror)

	fixes := ovalFixes(doc)
	photon, err := os.ReadFile("../vulndb/oval/testdata/com.vmware.phsa-photon3.xml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mirror, "com.vmware.phsa-photon3.xml"), photon, 0o644); err != nil {
		t.Fatal(err)
	}
	runVigilEnv(t, env, "db", "import", mirror)
	for k, v := range ovalFixes(photon) {
		fixes[k] = v
	}
	// Each feed's data is as old as its newest ELSA (issued 2025-07-01,
	// ELSA-2025-10073) or its generator's timestamp (Photon's, 2020-02-20).
	status, _ := runVigilEnv(t, env, "db", "status")
	for _, want := range []struct{ name, kind, records, date string }{
		{"oracle/elsa", "oracle-oval", "3", "2025-07-01 ("},
		{"photon/3", "photon-oval", fmt.Sprint(strings.Count(string(photon), "<definition ")), "2020-02-20 ("},
	} {
		found := false
		for _, line := range strings.Split(status, "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && f[0] == want.name && f[1] == want.kind && f[2] == want.records && strings.Contains(line, want.date) {
				found = true
			}
		}
		if !found {
			t.Errorf("db status lacks %s with %s records and data as of %s:\n%s", want.name, want.records, want.date, status)
		}
	}

	for _, c := range []struct {
		release, osRelease, eco, prefix string
		pkgs                            []rpmPkg
	}{
		{"7", "ol-7", "Oracle Linux:7", "ELSA-", []rpmPkg{
			{"rsyslog", "0", "8.24.0", "57.0.1.el7_9.3"}, // x86_64's fix; older than aarch64's
			{"rsyslog-doc", "0", "8.24.0", "57.el7_9.2"},
			{"rsyslog-kafka", "0", "8.24.0", "57.0.2.el7_9.3"},
		}},
		{"8", "ol-8", "Oracle Linux:8", "ELSA-", []rpmPkg{
			{"osbuild", "0", "110", "1.el8"}, // one rebuild's fix, older than the other's
			{"osbuild-composer", "0", "101", "1.el8"},
			{"python3-osbuild", "0", "109", "1.el8"},
			{"vigil-unrelated", "0", "1.0", "1"},
		}},
		{"3", "photon-3", "Photon OS:3", "PHSA-", []rpmPkg{
			{"sqlite", "0", "3.27.2", "3.ph3"},      // older than two fixes, equal to one
			{"sqlite-libs", "0", "3.31.1", "1.ph3"}, // every fix
			{"curl", "0", "7.61.1", "4.ph3"},
		}},
	} {
		t.Run(c.osRelease, func(t *testing.T) {
			root := buildRPMRoot(t, "../distro/testdata/os-release/"+c.osRelease, c.pkgs)
			type cand struct{ pkg, elsa string }
			var cands []cand
			var pairs [][2]string
			for _, p := range c.pkgs {
				for elsa, evrs := range fixes[ovalFixKey{c.release, p.name}] {
					for _, evr := range evrs {
						cands = append(cands, cand{p.name, elsa})
						pairs = append(pairs, [2]string{p.evr(), evr})
					}
				}
			}
			want := map[string]bool{}
			kinds := map[int]int{}
			for i, r := range rpmVercmp(t, pairs) {
				kinds[r]++
				if r < 0 {
					want[cands[i].pkg+" "+cands[i].elsa] = true
				}
			}
			if c.release == "7" {
				// aarch64's fix would report the x86_64 rsyslog.
				if r := rpmVercmp(t, [][2]string{{"8.24.0-57.0.1.el7_9.3", "8.24.0-57.0.4.el7_9.3"}}); r[0] >= 0 {
					t.Fatal("rpm orders the x86_64 fix at or after aarch64's: the case proves nothing")
				}
			}
			if kinds[-1] == 0 || kinds[0] == 0 {
				t.Fatalf("rpm's answers %v lack a case", kinds)
			}
			out, errs := runVigilEnv(t, env, "scan", "dir:"+root, "--format", "json", "--db-max-age", "1000000h")
			var rep struct {
				Distro struct {
					ID string `json:"id"`
				} `json:"distro"`
				Findings []struct {
					ID        string   `json:"id"`
					Aliases   []string `json:"aliases"`
					Related   []string `json:"related"`
					Ecosystem string   `json:"ecosystem"`
					Package   struct {
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
			got := map[string]bool{}
			for _, f := range rep.Findings {
				if f.Ecosystem != c.eco {
					t.Errorf("%s: ecosystem %s", f.ID, f.Ecosystem)
				}
				for _, id := range append(append([]string{f.ID}, f.Aliases...), f.Related...) {
					if strings.HasPrefix(id, c.prefix) {
						got[f.Package.Name+" "+id] = true
					}
				}
			}
			if fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(want)) || len(want) == 0 {
				t.Errorf("reported %v\nrpm says %v", sortedKeys(got), sortedKeys(want))
			}
			if rep.Coverage.Reason == "UNSUPPORTED_OS" {
				t.Errorf("distro %s, coverage %s", rep.Distro.ID, rep.Coverage.Reason)
			}
			t.Logf("rpm: %v; reported %v", kinds, sortedKeys(got))
		})
	}
}
