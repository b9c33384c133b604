package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// appOSVEcosystems are the OSV zips of the shared data that osv-scanner
// and Vigil both read for the app image.
var appOSVEcosystems = []string{"Go", "npm", "PyPI", "Maven", "crates.io"}

// appDifferences are the npm and Go findings on the app image on which
// Vigil and osv-scanner v1.9.2 disagree, each with its reason, keyed
// "side ecosystem package id"; the test fails on any other difference and
// on any of these that stops happening. There are none today: on the 55
// real npm advisories both report the same 19 findings (withdrawn
// records, last_affected events, explicit versions lists and the
// capitalised "Axios" package name included), and the same 7 Go ones.
var appDifferences = map[string]string{}

// runOSVScannerOn runs osv-scanner v1.9.2 offline on a docker archive of
// the app image, with the shared zips as its database, and returns its
// findings as "ecosystem package id" keys with their aliases. osv-scanner
// also complains that it has no Debian:11 database, and goes on.
func runOSVScannerOn(t *testing.T, bin, archive string) map[string][]string {
	t.Helper()
	cache := t.TempDir()
	for _, eco := range appOSVEcosystems {
		dir := filepath.Join(cache, "osv-scanner", eco)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(testenv.Shared(t, "vulndb/osv/"+eco+"/all.zip"), filepath.Join(dir, "all.zip")); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "scan", "--format", "json", "--experimental-offline-vulnerabilities", "--experimental-oci-image", archive)
	cmd.Env = append(os.Environ(), "OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="+cache)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 1) {
		t.Fatalf("osv-scanner: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Results []struct {
			Packages []struct {
				Package struct {
					Name, Ecosystem string
				}
				Vulnerabilities []struct {
					ID      string
					Aliases []string
				}
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("osv-scanner output: %v\n%s", err, stderr.String())
	}
	found := map[string][]string{}
	for _, r := range doc.Results {
		for _, p := range r.Packages {
			for _, v := range p.Vulnerabilities {
				found[p.Package.Ecosystem+" "+p.Package.Name+" "+v.ID] = v.Aliases
			}
		}
	}
	return found
}

type appFinding struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases"`
	Package struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"package"`
	Score struct {
		Severity string `json:"severity"`
		Source   string `json:"source"`
		Base     struct {
			Vector    string  `json:"vector"`
			BaseScore float64 `json:"baseScore"`
			Source    string  `json:"source"`
		} `json:"base"`
	} `json:"score"`
}

// TestAppImageMatchesOSVScannerAndNVD scans the app image with the shared
// data and holds it to two references: osv-scanner v1.9.2, run live on
// the same OSV zips, for its npm and Go findings; and the baseScore in the
// real NVD records, for the Go findings NVD scores (the Go database
// carries no CVSS, so NVD is their score source). What nothing scores
// stays UNTRIAGED and the table says so.
func TestAppImageMatchesOSVScannerAndNVD(t *testing.T) {
	bin := osvScanner()
	if bin == "" {
		if os.Getenv("VIGIL_REQUIRE_TESTDATA") != "" {
			t.Fatal("osv-scanner is not installed (go install github.com/google/osv-scanner/cmd/osv-scanner@v1.9.2)")
		}
		t.Skip("osv-scanner is not installed")
	}
	image := testenv.Image(t, "debian-bullseye-app")
	archive := filepath.Join(t.TempDir(), "app.tar")
	if out, err := exec.Command(testenv.Tool(t, "skopeo"), "copy", "-q", "oci:"+image+":latest", "docker-archive:"+archive+":app:latest").CombinedOutput(); err != nil {
		t.Fatalf("skopeo: %v\n%s", err, out)
	}
	ref := runOSVScannerOn(t, bin, archive)

	cache := t.TempDir()
	var paths []string
	for _, eco := range appOSVEcosystems {
		paths = append(paths, testenv.Shared(t, "vulndb/osv/"+eco+"/all.zip"))
	}
	paths = append(paths, testenv.Shared(t, "vulndb/nvd/cves-page-0.json"))
	runVigilIn(t, cache, append([]string{"db", "import"}, paths...)...)
	out, _ := runVigilIn(t, cache, "scan", "oci:"+image+":latest", "--format", "json", "--no-layer-cache")
	var doc struct {
		Findings []appFinding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}

	// Vigil's npm and Go findings against osv-scanner's.
	eco := map[string]string{"npm": "npm", "golang": "Go"}
	covered := map[string]bool{}
	seen := map[string]bool{}
	npm := 0
	for _, f := range doc.Findings {
		e, ok := eco[f.Package.Type]
		if !ok {
			continue
		}
		if e == "npm" {
			npm++
		}
		hit := false
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if _, ok := ref[e+" "+f.Package.Name+" "+id]; ok {
				covered[e+" "+f.Package.Name+" "+id] = true
				hit = true
			}
		}
		if !hit {
			key := "vigil-only " + e + " " + f.Package.Name + " " + f.ID
			if _, known := appDifferences[key]; known {
				seen[key] = true
				continue
			}
			t.Errorf("Vigil reports %s %s %s (aliases %v); osv-scanner does not", e, f.Package.Name, f.ID, f.Aliases)
		}
	}
	var refKeys []string
	for k := range ref {
		refKeys = append(refKeys, k)
	}
	sort.Strings(refKeys)
	refNPM := 0
	for _, k := range refKeys {
		if strings.HasPrefix(k, "npm ") {
			refNPM++
		}
		if !covered[k] {
			if _, known := appDifferences["osv-only "+k]; known {
				seen["osv-only "+k] = true
				continue
			}
			t.Errorf("osv-scanner reports %s; Vigil does not", k)
		}
	}
	for k, why := range appDifferences {
		if !seen[k] {
			t.Errorf("the known difference %q (%s) no longer happens: remove it", k, why)
		}
	}
	if refNPM == 0 || npm == 0 {
		t.Errorf("npm findings: osv-scanner %d, Vigil %d; the app image has vulnerable npm packages", refNPM, npm)
	}
	t.Logf("npm: osv-scanner %d findings, Vigil %d; all: osv-scanner %d", refNPM, npm, len(ref))

	// Go findings: NVD's published base score where NVD has the CVE.
	nvdScored, untriaged := 0, []string{}
	for _, f := range doc.Findings {
		if f.Package.Type != "golang" {
			continue
		}
		want, ok := nvdBaseScore(t, f.ID)
		switch {
		case ok:
			nvdScored++
			if f.Score.Source != "NVD" || f.Score.Base.BaseScore != want.score || f.Score.Base.Vector != want.vector {
				t.Errorf("%s: base %.1f %s from %q, want NVD's published %.1f %s", f.ID, f.Score.Base.BaseScore, f.Score.Base.Vector, f.Score.Source, want.score, want.vector)
			}
		case f.Score.Severity != "UNTRIAGED":
			t.Errorf("%s has no NVD record and no vector in the Go database, yet scored %s from %q", f.ID, f.Score.Severity, f.Score.Source)
		default:
			untriaged = append(untriaged, f.ID)
		}
	}
	if nvdScored == 0 {
		t.Error("no Go finding was scored from NVD")
	}
	t.Logf("Go: %d findings scored from NVD, untriaged: %v", nvdScored, untriaged)

	// GHSA-wf5p-g6vw-rhxx (axios, CVE-2023-45857) has no CVSS vector, and
	// NVD's record of the CVE is "Awaiting Analysis" without metrics:
	// GitHub's own rating, database_specific.severity MODERATE, scores it.
	for _, f := range doc.Findings {
		if f.ID == "CVE-2023-45857" && (f.Score.Source != "VENDOR_SEVERITY" || f.Score.Severity != "MEDIUM") {
			t.Errorf("axios CVE-2023-45857 scored %s from %q, want MEDIUM from GitHub's severity", f.Score.Severity, f.Score.Source)
		}
	}

	// The table lists what stays untriaged, and says why.
	table, _ := runVigilIn(t, cache, "scan", "oci:"+image+":latest", "--no-layer-cache")
	for _, id := range untriaged {
		if !strings.Contains(table, id) {
			t.Errorf("table does not list untriaged %s", id)
		}
	}
	if len(untriaged) > 0 && !strings.Contains(table, "for want of a score source") {
		t.Errorf("table does not say why findings are untriaged:\n%s", table)
	}
}

type nvdScore struct {
	score  float64
	vector string
}

// nvdBaseScore reads the CVE's real NVD record and picks the score the
// documented rule picks: NVD's own (Primary) CVSS v3.1, else v3.0, else a
// CNA's (Secondary) v3.x.
func nvdBaseScore(t *testing.T, cve string) (nvdScore, bool) {
	b, err := os.ReadFile(filepath.Join(testenv.Shared(t, "vulndb/nvd/cve"), cve+".json"))
	if err != nil {
		return nvdScore{}, false
	}
	var rec struct {
		Metrics struct {
			V31 []nvdMetric `json:"cvssMetricV31"`
			V30 []nvdMetric `json:"cvssMetricV30"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"Primary", "Secondary"} {
		for _, list := range [][]nvdMetric{rec.Metrics.V31, rec.Metrics.V30} {
			for _, m := range list {
				if m.Type == typ {
					return nvdScore{m.CVSSData.BaseScore, m.CVSSData.VectorString}, true
				}
			}
		}
	}
	return nvdScore{}, false
}

type nvdMetric struct {
	Type     string `json:"type"`
	CVSSData struct {
		VectorString string  `json:"vectorString"`
		BaseScore    float64 `json:"baseScore"`
	} `json:"cvssData"`
}
