package cli

// TestScanMatchesOSVScanner holds `vigil scan` to osv-scanner's findings on
// the language fixtures, from the same offline OSV data (Go, PyPI,
// crates.io; the npm and Go findings of the app image are compared live,
// on the shared npm records too, by TestAppImageMatchesOSVScannerAndNVD). The reference is
// osv-scanner's own output, kept in testdata/osv-scanner/*.tsv and rerun
// (and compared with the files) whenever osv-scanner is installed; -update
// rewrites the files from osv-scanner.

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite reference files from the real tools")

// osvDifferences are the findings on which Vigil and osv-scanner v1.9.2
// disagree, each with the reason; the test fails on any other difference
// and on any of these that stops happening.
var osvDifferences = map[string]string{
	// PYSEC-2020-35 lists a GIT range before its ECOSYSTEM range.
	// osv-scanner's rangeAffectsVersion (internal/utility/vulns) returns
	// false at the first range that is neither ECOSYSTEM nor SEMVER, so
	// only the record's versions list is consulted, and it names "2.2",
	// not "2.2.0". By the OSV schema django 2.2.0 is in the range
	// [2.2, 2.2.10) and is affected; Vigil reports it.
	"vigil-only django PYSEC-2020-35": "osv-scanner skips ECOSYSTEM ranges listed after a GIT range",
}

type osvCase struct {
	name string
	// args are osv-scanner's arguments for the case; ref is the Vigil
	// SOURCE.
	args func(t *testing.T) []string
	ref  func(t *testing.T) string
}

func osvCases() []osvCase {
	return []osvCase{
		{
			name: "py-app",
			args: func(t *testing.T) []string { return []string{"-r", testenv.Shared(t, "lang/py-app")} },
			ref:  func(t *testing.T) string { return "dir:" + testenv.Shared(t, "lang/py-app") },
		},
		{
			// The app image holds the Go binary built from lang/gobin.
			// osv-scanner reads images as docker archives only.
			name: "debian-bullseye-app",
			args: func(t *testing.T) []string {
				archive := filepath.Join(t.TempDir(), "app.tar")
				out, err := exec.Command(testenv.Tool(t, "skopeo"), "copy", "-q",
					"oci:"+testenv.Image(t, "debian-bullseye-app")+":latest", "docker-archive:"+archive+":app:latest").CombinedOutput()
				if err != nil {
					t.Fatalf("skopeo: %v\n%s", err, out)
				}
				return []string{"--experimental-oci-image", archive}
			},
			ref: func(t *testing.T) string { return "oci:" + testenv.Image(t, "debian-bullseye-app") + ":latest" },
		},
	}
}

// osvScanner finds the osv-scanner binary, or "".
func osvScanner() string {
	if p, err := exec.LookPath("osv-scanner"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "osv-scanner")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// runOSVScanner returns "package\tid" lines from osv-scanner, offline, with
// the shared OSV zips as its local database.
func runOSVScanner(t *testing.T, bin string, args []string) string {
	t.Helper()
	cache := t.TempDir()
	for _, eco := range []string{"Go", "PyPI", "crates.io"} {
		dir := filepath.Join(cache, "osv-scanner", eco)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(testenv.Shared(t, "vulndb/osv/"+eco+"/all.zip"), filepath.Join(dir, "all.zip")); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, append([]string{"scan", "--format", "json", "--experimental-offline-vulnerabilities"}, args...)...)
	cmd.Env = append(os.Environ(), "OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="+cache)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// Exit status 1 means vulnerabilities were found.
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 1) {
		t.Fatalf("osv-scanner: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Results []struct {
			Packages []struct {
				Package struct {
					Name, Ecosystem string
				}
				Vulnerabilities []struct{ ID string }
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("osv-scanner output: %v", err)
	}
	var lines []string
	for _, r := range doc.Results {
		for _, p := range r.Packages {
			for _, v := range p.Vulnerabilities {
				lines = append(lines, normalizeName(p.Package.Ecosystem, p.Package.Name)+"\t"+v.ID)
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func normalizeName(ecosystem, name string) string {
	if strings.EqualFold(ecosystem, "PyPI") || strings.EqualFold(ecosystem, "pypi") {
		return inventory.NormalizePyPI(name)
	}
	return name
}

func TestScanMatchesOSVScanner(t *testing.T) {
	cache := t.TempDir()
	var paths []string
	for _, eco := range []string{"Go", "PyPI", "crates.io"} {
		paths = append(paths, testenv.Shared(t, "vulndb/osv/"+eco+"/all.zip"))
	}
	runVigilIn(t, cache, append([]string{"db", "import"}, paths...)...)
	bin := osvScanner()
	seen := map[string]bool{}
	for _, tc := range osvCases() {
		t.Run(tc.name, func(t *testing.T) {
			golden := filepath.Join("testdata", "osv-scanner", tc.name+".tsv")
			if bin != "" {
				live := runOSVScanner(t, bin, tc.args(t))
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(live), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if g, err := os.ReadFile(golden); err != nil || string(g) != live {
					t.Fatalf("%s differs from what osv-scanner reports now; rerun with -update", golden)
				}
			} else if os.Getenv("VIGIL_REQUIRE_TESTDATA") != "" {
				t.Fatal("osv-scanner is not installed (go install github.com/google/osv-scanner/cmd/osv-scanner@v1.9.2)")
			}
			data, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			// osv-scanner's findings: package → its vulnerability ids.
			ref := map[string]map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if line == "" {
					continue
				}
				pkg, id, _ := strings.Cut(line, "\t")
				if ref[pkg] == nil {
					ref[pkg] = map[string]bool{}
				}
				ref[pkg][id] = true
			}

			out, _ := runVigilIn(t, cache, "scan", tc.ref(t), "--format", "json", "--no-layer-cache")
			var doc struct {
				Findings []struct {
					ID      string   `json:"id"`
					Aliases []string `json:"aliases"`
					Package struct {
						Name string `json:"name"`
						Type string `json:"type"`
					} `json:"package"`
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			matched := map[string]bool{} // osv-scanner's pkg\tid covered by a Vigil finding
			for _, f := range doc.Findings {
				if f.Package.Type == "deb" {
					continue // osv-scanner has no Debian data offline
				}
				pkg := normalizeName(f.Package.Type, f.Package.Name)
				hit := false
				for _, id := range append([]string{f.ID}, f.Aliases...) {
					if ref[pkg][id] {
						matched[pkg+"\t"+id] = true
						hit = true
					}
				}
				if !hit {
					key := "vigil-only " + pkg + " " + strings.Join(append([]string{f.ID}, f.Aliases...), " ")
					if reason, known := knownDifference(key); known {
						seen[reason] = true
						continue
					}
					t.Errorf("Vigil reports %s %s (aliases %v); osv-scanner does not", pkg, f.ID, f.Aliases)
				}
			}
			for pkg, ids := range ref {
				for id := range ids {
					if !matched[pkg+"\t"+id] {
						key := "osv-only " + pkg + " " + id
						if reason, known := knownDifference(key); known {
							seen[reason] = true
							continue
						}
						t.Errorf("osv-scanner reports %s %s; Vigil does not", pkg, id)
					}
				}
			}
			if len(doc.Findings) == 0 && len(ref) > 0 {
				t.Error("Vigil found nothing")
			}
		})
	}
	for key, reason := range osvDifferences {
		if !seen[reason] {
			t.Errorf("the known difference %q (%s) no longer happens: remove it", key, reason)
		}
	}
}

// knownDifference looks a difference up in osvDifferences; keys list the
// side, the package and the ids, and an entry matches if its key's ids are
// among them.
func knownDifference(key string) (string, bool) {
	for k, reason := range osvDifferences {
		f := strings.Fields(k)
		if len(f) < 3 {
			continue
		}
		g := strings.Fields(key)
		if len(g) < 3 || g[0] != f[0] || g[1] != f[1] {
			continue
		}
		for _, id := range g[2:] {
			if id == f[2] {
				return reason, true
			}
		}
	}
	return "", false
}

// runVigilIn runs vigil with its cache in dir.
func runVigilIn(t *testing.T, dir string, args ...string) (string, string) {
	t.Helper()
	return runVigilEnv(t, map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}, args...)
}
