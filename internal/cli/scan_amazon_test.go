package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// rpmPkg is one package installed in a test root.
type rpmPkg struct{ name, epoch, version, release string }

func (p rpmPkg) evr() string {
	evr := p.version + "-" + p.release
	if p.epoch != "" && p.epoch != "0" {
		evr = p.epoch + ":" + evr
	}
	return evr
}

// buildRPMRoot builds a tiny noarch RPM for each package with rpmbuild
// and records them with rpm into a new root's database (SQLite, the only
// backend Debian's rpm writes), beside the release's real os-release.
func buildRPMRoot(t *testing.T, osRelease string, pkgs []rpmPkg) string {
	t.Helper()
	rpmbuild, rpmBin := testenv.Tool(t, "rpmbuild"), testenv.Tool(t, "rpm")
	top := t.TempDir()
	var files []string
	for _, p := range pkgs {
		spec := filepath.Join(top, p.name+".spec")
		epoch := ""
		if p.epoch != "" && p.epoch != "0" {
			epoch = "Epoch: " + p.epoch + "\n"
		}
		text := fmt.Sprintf("Name: %s\n%sVersion: %s\nRelease: %s\nSummary: test package\nLicense: MIT\nBuildArch: noarch\n\n%%description\ntest package\n\n%%files\n",
			p.name, epoch, p.version, p.release)
		if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(rpmbuild, "-bb", "--quiet", "--define", "_topdir "+top, spec).CombinedOutput()
		if err != nil {
			t.Fatalf("rpmbuild %s: %v\n%s", p.name, err, out)
		}
		files = append(files, filepath.Join(top, "RPMS", "noarch", fmt.Sprintf("%s-%s-%s.noarch.rpm", p.name, p.version, p.release)))
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(osRelease)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "os-release"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--justdb", "--noscripts"}, files...)
	if out, err := exec.Command(rpmBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "var", "lib", "rpm", "rpmdb.sqlite")); err != nil {
		t.Fatal(err)
	}
	return root
}

// rpmVercmp asks rpm itself to order each pair, in one run of its Lua
// rpm.vercmp (which compares whole [epoch:]version-release strings).
func rpmVercmp(t *testing.T, pairs [][2]string) []int {
	t.Helper()
	var lua strings.Builder
	for _, p := range pairs {
		fmt.Fprintf(&lua, "print(rpm.vercmp(%q, %q) .. \" \") ", p[0], p[1])
	}
	out, err := exec.Command(testenv.Tool(t, "rpm"), "--eval", "%{lua: "+lua.String()+"}").CombinedOutput()
	if err != nil {
		t.Fatalf("rpm --eval: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) != len(pairs) {
		t.Fatalf("rpm gave %d answers for %d pairs:\n%s", len(fields), len(pairs), out)
	}
	res := make([]int, len(fields))
	for i, f := range fields {
		if _, err := fmt.Sscan(f, &res[i]); err != nil {
			t.Fatalf("rpm answered %q", f)
		}
	}
	return res
}

// TestScanAmazonLinux builds Amazon Linux 2 and 2023 roots whose packages
// are named and versioned as in the shared ALAS records — some older than
// a fix, some equal, some newer, some by epoch alone — scans them against
// the updateinfo documents converted from those records, and checks that
// each package is reported for exactly the advisories whose fixed version
// rpm orders after the installed one.
func TestScanAmazonLinux(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	mirror := filepath.Join(dir, "mirror")
	for from, to := range map[string]string{
		"../vulndb/updateinfo/testdata/amazon/2/updateinfo.xml.gz": "amazon/2/updateinfo.xml.gz",
		"../vulndb/updateinfo/testdata/amazon/2023/updateinfo.xml": "amazon/2023/updateinfo.xml",
	} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(mirror, to)), 0o755)
		if err := os.WriteFile(filepath.Join(mirror, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runVigilEnv(t, env, "db", "import", mirror)
	status, _ := runVigilEnv(t, env, "db", "status")
	// Each release's data is as old as its newest issued or updated date.
	for _, release := range []string{"2", "2023"} {
		files, _ := filepath.Glob(filepath.Join(testenv.Shared(t, "vulndb/amazon/"+release), "*.json"))
		newest := ""
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var rec struct{ Issued, Updated struct{ Date string } }
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			newest = max(newest, rec.Issued.Date, rec.Updated.Date) // "YYYY-MM-DD hh:mm:ss" sorts as text
		}
		found := false
		for _, line := range strings.Split(status, "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && f[0] == "amazon/"+release && f[1] == "updateinfo" && f[2] == fmt.Sprint(len(files)) && strings.Contains(line, newest[:10]+" (") {
				found = true
			}
		}
		if len(files) == 0 || !found {
			t.Errorf("db status lacks amazon/%s with %d records and data as of %s:\n%s", release, len(files), newest, status)
		}
	}

	for _, c := range []struct {
		release, osRelease string
		pkgs               []rpmPkg
	}{
		{"2", "amzn-2", []rpmPkg{
			{"openssl-libs", "1", "1.0.2k", "16.amzn2.1.1"},  // = ALAS2-2019-1188's fix
			{"openssl", "0", "1.0.2k", "19.amzn2.0.1"},       // the version of the newest fix, without its epoch
			{"openssl-devel", "1", "1.0.2k", "19.amzn2.0.2"}, // newer than every fix
			{"systemd", "0", "219", "78.amzn2.0.20"},
			{"systemd-libs", "0", "219", "57.amzn2.0.6"},
			{"systemd-sysv", "0", "219", "78.amzn2.0.22"},
			{"vigil-unrelated", "0", "1.0", "1"},
		}},
		{"2023", "amzn-2023", []rpmPkg{
			{"systemd-networkd", "0", "252.16", "1.amzn2023.0.1"},
			{"systemd-resolved", "0", "252.4", "1161.amzn2023.0.1"},
			{"systemd-rpm-macros", "2", "252.4", "1"},
			{"python3", "0", "3.9.16", "1.amzn2023.0.1"},
			{"python3-libs", "0", "3.9.21", "1.amzn2023.0.2"},
			{"vigil-unrelated", "0", "1.0", "1"},
		}},
	} {
		t.Run(c.release, func(t *testing.T) {
			root := buildRPMRoot(t, "../vulndb/updateinfo/testdata/os-release/"+c.osRelease, c.pkgs)

			// The expected set, from the JSON records and rpm's ordering.
			files, _ := filepath.Glob(filepath.Join(testenv.Shared(t, "vulndb/amazon/"+c.release), "*.json"))
			type cand struct{ pkg, id string }
			var cands []cand
			var pairs [][2]string
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var rec struct {
					ID       string `json:"id"`
					Packages []struct{ Name, Epoch, Version, Release string }
				}
				if err := json.Unmarshal(b, &rec); err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, fp := range rec.Packages {
					for _, p := range c.pkgs {
						fixed := rpmPkg{fp.Name, fp.Epoch, fp.Version, fp.Release}.evr()
						if p.name != fp.Name || seen[p.name+fixed] {
							continue
						}
						seen[p.name+fixed] = true
						cands = append(cands, cand{p.name, rec.ID})
						pairs = append(pairs, [2]string{p.evr(), fixed})
					}
				}
			}
			want := map[string]bool{}
			kinds := map[int]int{}
			for i, r := range rpmVercmp(t, pairs) {
				kinds[r]++
				if r < 0 {
					want[cands[i].pkg+" "+cands[i].id] = true
				}
			}
			// The roots must hold every case: older, equal and newer.
			if kinds[-1] == 0 || kinds[0] == 0 || kinds[1] == 0 {
				t.Fatalf("rpm's answers %v lack a case", kinds)
			}

			out, errs := runVigilEnv(t, env, "scan", "dir:"+root, "--format", "json", "--db-max-age", "100000h")
			var doc struct {
				Distro struct {
					ID        string `json:"id"`
					VersionID string `json:"versionId"`
				} `json:"distro"`
				Findings []struct {
					ID        string   `json:"id"`
					Aliases   []string `json:"aliases"`
					Related   []string `json:"related"`
					Ecosystem string   `json:"ecosystem"`
					SourceURL string   `json:"sourceUrl"`
					Package   struct {
						Name string `json:"name"`
					} `json:"package"`
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%v\n%s", err, errs)
			}
			got := map[string]bool{}
			pages := 0
			for _, f := range doc.Findings {
				if f.Ecosystem != "Amazon Linux:"+c.release {
					t.Errorf("%s %s: ecosystem %s", f.Package.Name, f.ID, f.Ecosystem)
				}
				// An ALAS reported under its own id links its Security
				// Center page, named as Amazon's RSS names it (ALAS-…).
				prefix := map[string]string{"2": "ALAS2-", "2023": "ALAS2023-"}[c.release]
				if rest, ok := strings.CutPrefix(f.ID, prefix); ok {
					pages++
					if want := "https://alas.aws.amazon.com/AL" + c.release + "/ALAS-" + rest + ".html"; f.SourceURL != want {
						t.Errorf("%s: sourceUrl %s, want %s", f.ID, f.SourceURL, want)
					}
				}
				for _, id := range append(append([]string{f.ID}, f.Aliases...), f.Related...) {
					if strings.HasPrefix(id, "ALAS") {
						got[f.Package.Name+" "+id] = true
					}
				}
			}
			if fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(want)) {
				t.Errorf("reported:\n%s\nrpm says:\n%s", strings.Join(sortedKeys(got), "\n"), strings.Join(sortedKeys(want), "\n"))
			}
			t.Logf("rpm: %d older, %d equal, %d newer; reported %d (package, advisory) pairs, %d under an ALAS id", kinds[-1], kinds[0], kinds[1], len(got), pages)
			if pages == 0 {
				t.Error("no finding under an ALAS id: its page link is untested")
			}
			if len(want) == 0 {
				t.Error("nothing to report: the test would prove nothing")
			}
		})
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
