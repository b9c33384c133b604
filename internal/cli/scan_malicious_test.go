package cli

import (
	"archive/zip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// maliciousTree is the shared npm fixture (lodash 4.17.15, minimist
// 1.2.0 … with their real vulnerabilities) with one more installed
// package, 0-dns, which the real OpenSSF record MAL-2022-9 names as
// malware in every version. Only its package.json is written: the npm
// registry removed the package.
func maliciousTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	app := filepath.Join(root, "app")
	if err := os.CopyFS(app, os.DirFS(testenv.Shared(t, "lang/npm-app"))); err != nil {
		t.Fatal(err)
	}
	mal := filepath.Join(app, "node_modules", "0-dns")
	os.MkdirAll(mal, 0o755)
	if err := os.WriteFile(filepath.Join(mal, "package.json"), []byte(`{"name": "0-dns", "version": "1.0.0"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// maliciousDB imports the shared npm OSV records with the real MAL-2022-9
// record added to their zip, as osv.dev's npm/all.zip holds the MAL-
// records beside the vulnerabilities.
func maliciousDB(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	feeds := filepath.Join(dir, "feeds")
	os.MkdirAll(filepath.Join(feeds, "npm"), 0o755)
	zr, err := zip.OpenReader(testenv.Shared(t, "vulndb/osv/npm/all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := os.Create(filepath.Join(feeds, "npm", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	mal, err := os.ReadFile("../vulndb/osv/testdata/malicious/MAL-2022-9.json")
	if err != nil {
		t.Fatal(err)
	}
	w, err := zw.Create("MAL-2022-9.json")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(mal)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	runVigilEnv(t, env, "db", "import", feeds)
	return env
}

// TestScanMalicious: a package an OpenSSF MAL- record names is reported
// as a malicious package — its own finding type in JSON and Inspector
// JSON, its own section of the table, apart from the vulnerabilities —
// and fails a scan with any threshold, however lax, even when an ignore
// file names it.
func TestScanMalicious(t *testing.T) {
	env := maliciousDB(t)
	root := maliciousTree(t)

	out, _ := runVigilEnv(t, env, "scan", root, "--format", "json")
	var doc struct {
		Findings []struct {
			ID, Type string
			Package  struct{ Name, Version, Path string }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var mal, vulns []string
	for _, f := range doc.Findings {
		switch f.Type {
		case "MALICIOUS_PACKAGE":
			mal = append(mal, f.ID+" "+f.Package.Name+" "+f.Package.Version+" "+f.Package.Path)
		case "PACKAGE_VULNERABILITY":
			if f.Package.Name == "0-dns" || strings.HasPrefix(f.ID, "MAL-") {
				t.Errorf("malware reported as a vulnerability: %+v", f)
			}
			vulns = append(vulns, f.Package.Name+" "+f.ID)
		default:
			t.Errorf("finding %s of type %q", f.ID, f.Type)
		}
	}
	if want := "MAL-2022-9 0-dns 1.0.0 /app/node_modules/0-dns/package.json"; strings.Join(mal, "|") != want {
		t.Errorf("malicious %q, want %q", mal, want)
	}
	if !strings.Contains(strings.Join(vulns, "|"), "lodash ") {
		t.Errorf("the fixture's lodash vulnerabilities are missing: %v", vulns)
	}

	insp, _ := runVigilEnv(t, env, "scan", root, "--format", "inspector")
	if !strings.Contains(insp, `"type": "MALICIOUS_PACKAGE"`) || !strings.Contains(insp, `"type": "PACKAGE_VULNERABILITY"`) {
		t.Errorf("inspector output lacks one of the types")
	}

	table, _ := runVigilEnv(t, env, "scan", root)
	head, rest, ok := strings.Cut(table, "MALICIOUS PACKAGES: 1 ")
	if !ok || !strings.Contains(rest, "MAL-2022-9  0-dns 1.0.0  /app/node_modules/0-dns/package.json") {
		t.Fatalf("no malicious section in the table:\n%s", table)
	}
	if strings.Contains(head, "lodash") {
		t.Errorf("the malicious section is not first:\n%s", table)
	}
	// The vulnerability table never lists the malware.
	for _, line := range strings.Split(rest, "\n") {
		if strings.Contains(line, "MAL-2022-9") && !strings.HasPrefix(line, "  MAL-2022-9  0-dns") {
			t.Errorf("MAL-2022-9 again in %q", line)
		}
	}

	// Neither a VEX statement nor --ignore-unfixed or --severity hides it.
	vex := filepath.Join(t.TempDir(), "mal.openvex.json")
	os.WriteFile(vex, []byte(`{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "security@example.com",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "MAL-2022-9"},
    "products": [{"@id": "pkg:npm/0-dns"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}`), 0o644)
	out, _ = runVigilEnv(t, env, "scan", root, "--format", "json", "--vex", vex, "--ignore-unfixed", "--severity", "CRITICAL")
	var filtered struct {
		Findings, Ignored []struct{ ID, Type string }
	}
	if err := json.Unmarshal([]byte(out), &filtered); err != nil {
		t.Fatal(err)
	}
	kept := false
	for _, f := range filtered.Findings {
		kept = kept || f.ID == "MAL-2022-9" && f.Type == "MALICIOUS_PACKAGE"
	}
	for _, f := range filtered.Ignored {
		if f.ID == "MAL-2022-9" {
			kept = false
		}
	}
	if !kept {
		t.Errorf("VEX, --ignore-unfixed or --severity hid MAL-2022-9: %+v", filtered)
	}

	ignore := filepath.Join(t.TempDir(), "ignore.yaml")
	os.WriteFile(ignore, []byte("ignore:\n  - id: MAL-2022-9\n    reason: not affected, we trust it\n"), 0o644)
	code, _, errs := runVigilCode(env, "scan", root, "--max-critical", "1000", "--allow-partial-coverage", "--ignorefile", ignore)
	if code != ExitVulnerable || !strings.Contains(errs, "1 malicious packages (MAL-2022-9 0-dns)") {
		t.Errorf("exit %d, want %d naming the malicious package:\n%s", code, ExitVulnerable, errs)
	}
}
