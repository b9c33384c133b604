package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

type coverageJSON struct {
	Findings []json.RawMessage `json:"findings"`
	Coverage *struct {
		Full   bool   `json:"full"`
		Reason string `json:"reason"`
		Scopes []struct {
			Name     string   `json:"name"`
			OS       bool     `json:"os"`
			Packages int      `json:"packages"`
			Covered  bool     `json:"covered"`
			Sources  []string `json:"sources"`
			Note     string   `json:"note"`
		} `json:"scopes"`
		Files []struct {
			Path     string `json:"path"`
			WantedBy string `json:"wantedBy"`
		} `json:"files"`
		Gaps []string `json:"gaps"`
	} `json:"coverage"`
}

func coverageOf(t *testing.T, out string) coverageJSON {
	t.Helper()
	var doc coverageJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("scan output: %v\n%s", err, out)
	}
	if doc.Coverage == nil {
		t.Fatalf("the JSON report has no coverage\n%s", out)
	}
	return doc
}

// The Alpine secdb in the shared data has branches v3.3 to v3.11 only: an
// Alpine 3.20 image cannot be assessed, and saying "no vulnerabilities"
// of it would be false.
func TestScanCoverageAlpineWithoutItsBranch(t *testing.T) {
	env := alpineDB(t)
	img := "oci:" + testenv.Image(t, "alpine-3.20.3") + ":latest"

	code, out, errs := runVigilCode(env, "scan", img, "--fail-on", "HIGH")
	if code != ExitPartialCoverage {
		t.Errorf("--fail-on HIGH: exit %d, want %d\n%s", code, ExitPartialCoverage, errs)
	}
	if !strings.Contains(out, "alpine 3.20: no advisory feed (have v3.3–v3.11)") || !strings.Contains(out, "Coverage: PARTIAL (UNSUPPORTED_OS)") {
		t.Errorf("the table does not say what is not covered:\n%s", out)
	}
	if strings.Contains(out, "No vulnerabilities found.") {
		t.Errorf("the table calls an unassessed image clean:\n%s", out)
	}
	if !strings.Contains(errs, "UNSUPPORTED_OS") {
		t.Errorf("the error does not give the reason: %s", errs)
	}

	code, out, errs = runVigilCode(env, "scan", img, "--fail-on", "HIGH", "--allow-partial-coverage", "--format", "json")
	if code != 0 {
		t.Errorf("--allow-partial-coverage: exit %d, want 0\n%s", code, errs)
	}
	doc := coverageOf(t, out)
	if len(doc.Findings) != 0 {
		t.Errorf("findings %d, want none", len(doc.Findings))
	}
	c := doc.Coverage
	if c.Full || c.Reason != "UNSUPPORTED_OS" || len(c.Scopes) != 1 || c.Scopes[0].Covered || !c.Scopes[0].OS || c.Scopes[0].Packages != 14 {
		t.Errorf("coverage %+v", c)
	}

	// Without a threshold the scan only reports.
	if code, _, errs := runVigilCode(env, "scan", img, "--format", "json"); code != 0 {
		t.Errorf("no threshold: exit %d, want 0\n%s", code, errs)
	}

	// Inspector's coverage of the image, SARIF and CycloneDX say it too.
	out, _ = runVigilEnv(t, env, "scan", img, "--format", "inspector-coverage")
	var cov struct {
		CoveredResources []struct {
			ResourceType string `json:"resourceType"`
			ScanType     string `json:"scanType"`
			ScanStatus   struct{ StatusCode, Reason string }
		} `json:"coveredResources"`
	}
	if err := json.Unmarshal([]byte(out), &cov); err != nil || len(cov.CoveredResources) != 1 {
		t.Fatalf("inspector-coverage: %v\n%s", err, out)
	}
	if r := cov.CoveredResources[0]; r.ScanStatus.StatusCode != "INACTIVE" || r.ScanStatus.Reason != "UNSUPPORTED_OS" || r.ResourceType != "AWS_ECR_CONTAINER_IMAGE" || r.ScanType != "PACKAGE" {
		t.Errorf("inspector coverage %+v", r)
	}
	out, _ = runVigilEnv(t, env, "scan", img, "--format", "sarif")
	var sarif struct {
		Runs []struct {
			Invocations []struct {
				Notifications []struct {
					Level   string `json:"level"`
					Message struct{ Text string }
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
			Properties map[string]string `json:"properties"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || len(sarif.Runs) != 1 || len(sarif.Runs[0].Invocations) != 1 {
		t.Fatalf("sarif: %v\n%s", err, out)
	}
	run := sarif.Runs[0]
	if run.Properties["coverage"] != "PARTIAL" || run.Properties["coverageReason"] != "UNSUPPORTED_OS" ||
		len(run.Invocations[0].Notifications) != 1 || run.Invocations[0].Notifications[0].Level != "warning" ||
		!strings.Contains(run.Invocations[0].Notifications[0].Message.Text, "alpine 3.20: no advisory feed") {
		t.Errorf("sarif coverage: %+v", run)
	}
	out, _ = runVigilEnv(t, env, "scan", img, "--format", "cyclonedx")
	if !strings.Contains(out, `"name": "vigil:coverage:reason",
        "value": "UNSUPPORTED_OS"`) || !strings.Contains(out, `"value": "alpine 3.20: no advisory feed (have v3.3–v3.11)"`) {
		t.Errorf("cyclonedx carries no coverage:\n%.3000s", out)
	}

	// A release the database has is covered, and its clean scan passes.
	clean := "oci:" + testenv.Image(t, "alpine-3.8.5") + ":latest"
	code, out, errs = runVigilCode(env, "scan", clean, "--fail-on", "HIGH", "--format", "json")
	if code != 0 {
		t.Errorf("alpine 3.8.5: exit %d, want 0\n%s", code, errs)
	}
	if c := coverageOf(t, out).Coverage; !c.Full || c.Reason != "SUCCESSFUL" || len(c.Scopes) != 1 || !c.Scopes[0].Covered || strings.Join(c.Scopes[0].Sources, ",") != "alpine-secdb" {
		t.Errorf("alpine 3.8.5 coverage %+v", c)
	}
	out, _ = runVigilEnv(t, env, "scan", clean)
	if !strings.Contains(out, "No vulnerabilities found.") || strings.Contains(out, "Coverage:") {
		t.Errorf("alpine 3.8.5 table:\n%s", out)
	}
}

// The app image's npm packages are not assessed by a database without
// an npm feed; with one they are.
func TestScanCoverageWithoutNPMFeed(t *testing.T) {
	dir := t.TempDir()
	feeds := []string{"vulndb/debian", "vulndb/osv/Go", "vulndb/osv/PyPI", "vulndb/osv/Maven"}
	args := []string{"db", "import"}
	for _, f := range feeds {
		args = append(args, testenv.Shared(t, f))
	}
	runVigilIn(t, dir, args...)
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	img := "oci:" + testenv.Image(t, "debian-bullseye-app") + ":latest"

	code, out, errs := runVigilCode(env, "scan", img, "--max-critical", "100")
	if code != ExitPartialCoverage {
		t.Errorf("--max-critical 100: exit %d, want %d\n%s", code, ExitPartialCoverage, errs)
	}
	if !strings.Contains(out, "npm: 55 packages, no feed") || !strings.Contains(out, "Coverage: PARTIAL (PARTIAL_COVERAGE)") {
		t.Errorf("the table does not name the npm packages:\n%s", out)
	}
	// Findings over a threshold come first: the Go findings are
	// UNTRIAGED offline.
	if code, _, errs := runVigilCode(env, "scan", img, "--fail-on", "untriaged", "--format", "json"); code != ExitVulnerable {
		t.Errorf("--fail-on untriaged: exit %d, want %d\n%s", code, ExitVulnerable, errs)
	}
	// Debian's DSA/DLA lists cover the release, and the report says
	// what they leave out.
	if !strings.Contains(out, "debian 11: DSA/DLA lists only") {
		t.Errorf("the table does not state the limit of Debian's coverage:\n%s", out)
	}

	runVigilIn(t, dir, "db", "import", testenv.Shared(t, "vulndb/osv/npm"))
	out, _ = runVigilEnv(t, env, "scan", img, "--format", "json")
	c := coverageOf(t, out).Coverage
	for _, s := range c.Scopes {
		if s.Name == "npm" && (!s.Covered || s.Packages != 55) {
			t.Errorf("with the npm feed: %+v", s)
		}
	}
	for _, g := range c.Gaps {
		if strings.HasPrefix(g, "npm:") {
			t.Errorf("with the npm feed, gap %q", g)
		}
	}
}

// A dpkg status file padded past the cataloger's limit is skipped: the
// scan must say the image is not fully assessed rather than pass it.
func TestScanCoveragePaddedDpkgStatus(t *testing.T) {
	dir := t.TempDir()
	runVigilIn(t, dir, "db", "import", testenv.Shared(t, "vulndb/debian"))
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	plain := testenv.DebianRootfs(t, "debian-bullseye", 0, nil)
	padded := testenv.DebianRootfs(t, "debian-bullseye", 65<<20, nil)
	if fi, err := os.Stat(padded); err != nil || fi.Size() < 65<<20 {
		t.Fatalf("padded rootfs: %v, %v", fi, err)
	}

	code, out, errs := runVigilCode(env, "scan", "rootfs:"+plain, "--fail-on", "HIGH", "--format", "json")
	if code != 0 {
		t.Errorf("plain status: exit %d, want 0\n%s", code, errs)
	}
	if c := coverageOf(t, out).Coverage; !c.Full || len(c.Scopes) != 1 || c.Scopes[0].Packages != 96 {
		t.Errorf("plain status: coverage %+v", c)
	}

	code, out, errs = runVigilCode(env, "scan", "rootfs:"+padded, "--fail-on", "HIGH", "--format", "json")
	if code != ExitPartialCoverage {
		t.Errorf("padded status: exit %d, want %d\n%s", code, ExitPartialCoverage, errs)
	}
	c := coverageOf(t, out).Coverage
	if c.Full || c.Reason != "INCOMPLETE_INVENTORY" || len(c.Files) != 1 || c.Files[0].Path != "var/lib/dpkg/status" || c.Files[0].WantedBy != "dpkg" {
		t.Errorf("padded status: coverage %+v", c)
	}
	out, _ = runVigilEnv(t, env, "scan", "rootfs:"+padded)
	if strings.Contains(out, "No vulnerabilities found.") || !strings.Contains(out, "/var/lib/dpkg/status: not read (dpkg)") {
		t.Errorf("padded status table:\n%s", out)
	}
}
