package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

type scanJSON struct {
	Findings []struct {
		ID      string   `json:"id"`
		Aliases []string `json:"aliases"`
		Fix     struct {
			State, Version string
		} `json:"fix"`
		Severity string `json:"severity"`
		Package  struct {
			Name, Type, Version, Path string
		} `json:"package"`
	} `json:"findings"`
	Ignored []struct {
		ID             string `json:"id"`
		IgnoredBecause string `json:"ignoredBecause"`
	} `json:"ignored"`
}

func scanIDs(t *testing.T, out string) []string {
	t.Helper()
	var doc scanJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("scan output: %v\n%s", err, out)
	}
	var ids []string
	for _, f := range doc.Findings {
		ids = append(ids, f.Package.Name+" "+f.ID)
	}
	sort.Strings(ids)
	return ids
}

// alpineDB makes a cache directory whose database holds the Alpine secdb.
func alpineDB(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	runVigilEnv(t, env, "db", "import", testenv.Shared(t, "vulndb/alpine-secdb"))
	return env
}

func TestScanAlpineImage(t *testing.T) {
	env := alpineDB(t)
	img := "oci:" + testenv.Image(t, "alpine-3.7.3") + ":latest"
	out, _ := runVigilEnv(t, env, "scan", img, "--format", "json")
	want := []string{"musl CVE-2019-14697", "musl-utils CVE-2019-14697"}
	if got := scanIDs(t, out); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("findings %v, want %v", got, want)
	}

	// The same image through its SBOM: the distribution comes from the
	// SBOM's operating-system component and purl qualifiers.
	sbomFile := filepath.Join(t.TempDir(), "alpine.cdx.json")
	runVigilEnv(t, env, "sbom", img, "--format", "cyclonedx", "--output", sbomFile)
	out, _ = runVigilEnv(t, env, "scan", "sbom:"+sbomFile, "--format", "json")
	if got := scanIDs(t, out); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("from the SBOM: findings %v, want %v", got, want)
	}
	spdxFile := filepath.Join(t.TempDir(), "alpine.spdx.json")
	runVigilEnv(t, env, "sbom", img, "--format", "spdx", "--output", spdxFile)
	out, _ = runVigilEnv(t, env, "scan", "sbom:"+spdxFile, "--format", "json")
	if got := scanIDs(t, out); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("from the SPDX SBOM: findings %v, want %v", got, want)
	}
}

func TestScanExitCodes(t *testing.T) {
	env := alpineDB(t)
	img := "oci:" + testenv.Image(t, "alpine-3.7.3") + ":latest"
	clean := "oci:" + testenv.Image(t, "alpine-3.8.5") + ":latest"

	// The musl finding has no CVSS in the secdb: it is UNTRIAGED, which
	// fails only when asked for.
	if code, _, errs := runVigilCode(env, "scan", img, "--fail-on", "low", "--format", "json"); code != 0 {
		t.Errorf("--fail-on low: exit %d, want 0 for UNTRIAGED findings\n%s", code, errs)
	}
	if code, _, errs := runVigilCode(env, "scan", img, "--fail-on", "untriaged", "--format", "json"); code != ExitVulnerable || !strings.Contains(errs, "2 findings") {
		t.Errorf("--fail-on untriaged: exit %d, want %d\n%s", code, ExitVulnerable, errs)
	}
	if code, _, _ := runVigilCode(env, "scan", clean, "--fail-on", "untriaged", "--format", "json"); code != 0 {
		t.Errorf("clean image: exit %d, want 0", code)
	}
	if code, _, _ := runVigilCode(env, "scan", img, "--fail-on", "bogus"); code != ExitUsage {
		t.Errorf("bad --fail-on: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := runVigilCode(env, "scan", img, "--format", "yaml"); code != ExitUsage {
		t.Errorf("bad --format: exit %d, want %d", code, ExitUsage)
	}

	// No database at all.
	empty := t.TempDir()
	if code, _, errs := runVigilCode(map[string]string{"VIGIL_CACHE_DIR": empty, "HOME": empty}, "scan", img); code != ExitStaleDB || !strings.Contains(errs, "vigil db update") {
		t.Errorf("no database: exit %d, want %d\n%s", code, ExitStaleDB, errs)
	}
	// The secdb carries no dates and was imported, not downloaded (no
	// Last-Modified): its age is unknown, a warning, or with
	// --fail-on-stale-db a refusal, since it cannot be shown fresh.
	code, _, errs := runVigilCode(env, "scan", img, "--db-max-age", "1ns", "--format", "json")
	if code != 0 || !strings.Contains(errs, "alpine/v3.7/main") || !strings.Contains(errs, "is unknown") {
		t.Errorf("data of unknown age: exit %d, want 0 and a warning\n%s", code, errs)
	}
	code, _, errs = runVigilCode(env, "scan", img, "--db-max-age", "1ns", "--fail-on-stale-db", "--format", "json")
	if code != ExitStaleDB || !strings.Contains(errs, "alpine/v3.7/main") {
		t.Errorf("--fail-on-stale-db: exit %d, want %d\n%s", code, ExitStaleDB, errs)
	}
}

func TestScanIgnoreAndVEX(t *testing.T) {
	env := alpineDB(t)
	img := "oci:" + testenv.Image(t, "alpine-3.7.3") + ":latest"
	dir := t.TempDir()
	ignore := filepath.Join(dir, "ignore.yaml")
	os.WriteFile(ignore, []byte(`ignore:
  - id: CVE-2019-14697
    package: pkg:apk/alpine/musl-utils
    reason: the utilities are not run
  - id: CVE-2019-14697
    reason: expired rule, must not apply
    expires: 2020-01-01
`), 0o644)
	out, _ := runVigilEnv(t, env, "scan", img, "--format", "json", "--ignorefile", ignore)
	if got := scanIDs(t, out); strings.Join(got, ",") != "musl CVE-2019-14697" {
		t.Errorf("with ignore file: %v", got)
	}
	var doc scanJSON
	json.Unmarshal([]byte(out), &doc)
	if len(doc.Ignored) != 1 || !strings.Contains(doc.Ignored[0].IgnoredBecause, "the utilities are not run") {
		t.Errorf("ignored %+v", doc.Ignored)
	}

	vex := filepath.Join(dir, "musl.openvex.json")
	os.WriteFile(vex, []byte(`{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "security@example.com",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2019-14697"},
    "products": [{"@id": "pkg:apk/alpine/musl"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}`), 0o644)
	out, _ = runVigilEnv(t, env, "scan", img, "--format", "json", "--vex", vex)
	if got := scanIDs(t, out); strings.Join(got, ",") != "musl-utils CVE-2019-14697" {
		t.Errorf("with VEX: %v", got)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("ignore:\n  - id: CVE-1\n"), 0o644)
	if code, _, errs := runVigilCode(env, "scan", img, "--ignorefile", bad); code != ExitError || !strings.Contains(errs, "rule 1: needs a reason") {
		t.Errorf("ignore rule without a reason: exit %d\n%s", code, errs)
	}
	out, _ = runVigilEnv(t, env, "scan", img, "--format", "json", "--ignore-unfixed")
	if got := scanIDs(t, out); len(got) != 2 {
		t.Errorf("--ignore-unfixed dropped fixed findings: %v", got)
	}
}

// TestScanDebianImages scans the built Debian images with the DSA and DLA
// lists: every fix they list predates the installed versions, so there
// must be no findings at all.
func TestScanDebianImages(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	runVigilEnv(t, env, "db", "import", testenv.Shared(t, "vulndb/debian"))
	for _, name := range []string{"debian-bookworm-minbase", "debian-bullseye-app"} {
		t.Run(name, func(t *testing.T) {
			out, _ := runVigilEnv(t, env, "scan", "oci:"+testenv.Image(t, name)+":latest", "--format", "json")
			if got := scanIDs(t, out); len(got) != 0 {
				t.Errorf("false positives: %v", got)
			}
		})
	}
}

// TestScanReachableOnly: with --reachable-only, the findings of the app
// image's Go binary whose code the binary does not contain are listed as
// ignored, and the OpenVEX output states them not_affected with
// vulnerable_code_not_present; the one in code the binary holds stays
// affected. Which is which the reach package checks against govulncheck.
func TestScanReachableOnly(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	runVigilEnv(t, env, "db", "import", testenv.Shared(t, "vulndb/osv/Go"))
	img := "oci:" + testenv.Image(t, "debian-bullseye-app") + ":latest"

	var plain struct {
		Findings []struct {
			ID           string `json:"id"`
			Severity     string `json:"severity"`
			NotReachable string `json:"notReachable"`
		} `json:"findings"`
	}
	out, _ := runVigilEnv(t, env, "scan", img, "--format", "json")
	if err := json.Unmarshal([]byte(out), &plain); err != nil {
		t.Fatal(err)
	}
	unreachable, reachable, why := map[string]bool{}, map[string]bool{}, map[string]string{}
	for _, f := range plain.Findings {
		if f.NotReachable != "" {
			unreachable[f.ID], why[f.ID] = true, f.NotReachable
		} else {
			reachable[f.ID] = true
		}
	}
	if len(unreachable) == 0 || !reachable["CVE-2021-38561"] || unreachable["CVE-2021-38561"] {
		t.Fatalf("reachable %v, unreachable %v", reachable, unreachable)
	}
	// With only the Go database nothing scores these findings: the reason
	// is all that says their code is not in the binary.
	unscored := 0
	for _, f := range plain.Findings {
		if f.NotReachable != "" && f.Severity == "UNTRIAGED" {
			unscored++
		}
	}
	if unscored == 0 {
		t.Errorf("no unscored finding carries notReachable; findings %+v", plain.Findings)
	}

	out, _ = runVigilEnv(t, env, "scan", img, "--format", "json", "--reachable-only")
	var filtered scanJSON
	if err := json.Unmarshal([]byte(out), &filtered); err != nil {
		t.Fatal(err)
	}
	if len(filtered.Findings) != len(reachable) || len(filtered.Ignored) != len(unreachable) {
		t.Errorf("--reachable-only: %d findings, %d ignored; want %d and %d", len(filtered.Findings), len(filtered.Ignored), len(reachable), len(unreachable))
	}
	for _, f := range filtered.Ignored {
		if !unreachable[f.ID] || f.IgnoredBecause != "reachability: vulnerable code not present: "+why[f.ID] {
			t.Errorf("ignored %s: %q", f.ID, f.IgnoredBecause)
		}
	}

	out, _ = runVigilEnv(t, env, "scan", img, "--format", "openvex", "--reachable-only")
	var vex struct {
		Statements []struct {
			Vulnerability struct{ Name string } `json:"vulnerability"`
			Status        string                `json:"status"`
			Justification string                `json:"justification"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &vex); err != nil {
		t.Fatalf("openvex: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, s := range vex.Statements {
		id := s.Vulnerability.Name
		seen[id] = true
		switch {
		case unreachable[id]:
			if s.Status != "not_affected" || s.Justification != "vulnerable_code_not_present" {
				t.Errorf("%s: %s %s", id, s.Status, s.Justification)
			}
		case reachable[id]:
			if s.Status != "affected" {
				t.Errorf("%s: %s", id, s.Status)
			}
		}
	}
	for id := range unreachable {
		if !seen[id] {
			t.Errorf("no statement for %s", id)
		}
	}
}
