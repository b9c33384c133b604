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

// ignoredIDs lists "package id: reason" for every ignored finding.
func ignoredIDs(t *testing.T, out string) []string {
	t.Helper()
	var doc struct {
		Ignored []struct {
			ID             string                `json:"id"`
			IgnoredBecause string                `json:"ignoredBecause"`
			Package        struct{ Name string } `json:"package"`
		} `json:"ignored"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("scan output: %v\n%s", err, out)
	}
	var ids []string
	for _, f := range doc.Ignored {
		ids = append(ids, f.Package.Name+" "+f.ID+": "+f.IgnoredBecause)
	}
	sort.Strings(ids)
	return ids
}

// TestIgnoreFilesOfTrivyAndGrype scans the alpine-3.7.3 image, whose musl
// and musl-utils have CVE-2019-14697 (fixed in 1.1.18-r4 by the secdb),
// with ignore files written as Trivy and Grype document them, found in
// the working directory as those tools find them or named with
// --ignorefile.
func TestIgnoreFilesOfTrivyAndGrype(t *testing.T) {
	env := alpineDB(t)
	img := "oci:" + testenv.Image(t, "alpine-3.7.3") + ":latest"
	fixtures, err := filepath.Abs(filepath.Join("..", "scan", "testdata", "ignore"))
	if err != nil {
		t.Fatal(err)
	}
	both := "musl CVE-2019-14697,musl-utils CVE-2019-14697"
	scanIn := func(t *testing.T, files map[string]string, args ...string) (findings, ignored []string, stderr string) {
		t.Helper()
		dir := t.TempDir()
		t.Chdir(dir)
		for name, content := range files {
			os.MkdirAll(filepath.Dir(name), 0o755)
			if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, errs := runVigilEnv(t, env, append([]string{"scan", img, "--format", "json"}, args...)...)
		return scanIDs(t, out), ignoredIDs(t, out), errs
	}
	docTrivy, err := os.ReadFile(filepath.Join(fixtures, "trivyignore"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("trivyignore as documented", func(t *testing.T) {
		// Trivy's own example ignores CVE-2019-14697 until 2023-01-01:
		// long past, so both findings stay.
		got, ignored, errs := scanIn(t, map[string]string{".trivyignore": string(docTrivy)})
		if strings.Join(got, ",") != both || len(ignored) != 0 {
			t.Errorf("findings %v, ignored %v", got, ignored)
		}
		if !strings.Contains(errs, "file=.trivyignore rules=6") {
			t.Errorf("the file read is not named on stderr:\n%s", errs)
		}
	})
	t.Run("trivyignore before its expiry", func(t *testing.T) {
		later := strings.Replace(string(docTrivy), "CVE-2019-14697 exp:2023-01-01", "CVE-2019-14697 exp:2099-01-01", 1)
		got, ignored, _ := scanIn(t, map[string]string{".trivyignore": later})
		want := []string{
			"musl CVE-2019-14697: ignore file: Accept the risk until 2023-01-01 (.trivyignore line 5)",
			"musl-utils CVE-2019-14697: ignore file: Accept the risk until 2023-01-01 (.trivyignore line 5)",
		}
		if len(got) != 0 || strings.Join(ignored, "\n") != strings.Join(want, "\n") {
			t.Errorf("findings %v, ignored %q", got, ignored)
		}
	})
	t.Run("trivyignore without a reason", func(t *testing.T) {
		got, ignored, errs := scanIn(t, map[string]string{".trivyignore": "CVE-2019-14697\n"})
		if len(got) != 0 || len(ignored) != 2 {
			t.Errorf("findings %v, ignored %v", got, ignored)
		}
		if !strings.Contains(errs, ".trivyignore line 1: CVE-2019-14697 is ignored without a reason") {
			t.Errorf("no warning:\n%s", errs)
		}
	})
	t.Run("trivyignore.yaml with --ignorefile", func(t *testing.T) {
		got, ignored, errs := scanIn(t, map[string]string{"ci/.trivyignore.yaml": `vulnerabilities:
  - id: CVE-2019-14697
    purls:
      - "pkg:apk/alpine/musl-utils"
    statement: Accept the risk
`}, "--ignorefile", "ci/.trivyignore.yaml")
		if strings.Join(got, ",") != "musl CVE-2019-14697" || len(ignored) != 1 || !strings.Contains(ignored[0], "musl-utils CVE-2019-14697: ignore file: Accept the risk (.trivyignore.yaml vulnerabilities entry 1)") {
			t.Errorf("findings %v, ignored %v", got, ignored)
		}
		if strings.Contains(errs, "without a reason") {
			t.Errorf("warned of a rule with a statement:\n%s", errs)
		}
	})
	t.Run("grype.yaml", func(t *testing.T) {
		got, ignored, errs := scanIn(t, map[string]string{".grype.yaml": `ignore:
  - vulnerability: CVE-2019-14697
    package:
      name: musl-utils
      type: apk
  - fix-state: not-fixed
    reason: no fix to take
`})
		if strings.Join(got, ",") != "musl CVE-2019-14697" || len(ignored) != 1 || ignored[0] != "musl-utils CVE-2019-14697: ignore file: no reason given (.grype.yaml ignore rule 1)" {
			t.Errorf("findings %v, ignored %v", got, ignored)
		}
		if !strings.Contains(errs, ".grype.yaml ignore rule 1: vulnerability CVE-2019-14697, package name musl-utils, package type apk is ignored without a reason") ||
			strings.Contains(errs, "rule 2") {
			t.Errorf("warnings:\n%s", errs)
		}
	})
	t.Run("grype fix-state and location", func(t *testing.T) {
		got, ignored, _ := scanIn(t, map[string]string{".grype.yaml": `ignore:
  - fix-state: fixed
    package:
      location: "/lib/apk/db/**"
    reason: fixed upstream; rebuilding
`})
		if len(got) != 0 || len(ignored) != 2 {
			t.Errorf("findings %v, ignored %v", got, ignored)
		}
	})
	t.Run("grype/config.yaml", func(t *testing.T) {
		got, ignored, _ := scanIn(t, map[string]string{".grype/config.yaml": "ignore:\n  - vulnerability: CVE-2019-14697\n    reason: r\n"})
		if len(got) != 0 || len(ignored) != 2 {
			t.Errorf("findings %v, ignored %v", got, ignored)
		}
		got, ignored, _ = scanIn(t, map[string]string{".grype.yml": "ignore:\n  - vulnerability: CVE-2019-14697\n    reason: r\n"})
		if len(got) != 0 || len(ignored) != 2 {
			t.Errorf(".grype.yml: findings %v, ignored %v", got, ignored)
		}
	})
	t.Run("both files, and --ignorefile replaces them", func(t *testing.T) {
		files := map[string]string{
			".trivyignore": "# musl itself is patched in our build\nCVE-2019-14697 exp:2099-01-01\n",
			".grype.yaml":  "ignore:\n  - package:\n      name: musl-utils\n    reason: utilities not run\n",
			"vigil.yaml":   "ignore:\n  - id: CVE-2019-14697\n    package: pkg:apk/alpine/musl\n    reason: own file\n",
		}
		_, ignored, _ := scanIn(t, files)
		if len(ignored) != 2 || !strings.Contains(ignored[0], ".trivyignore line 2") || !strings.Contains(ignored[1], ".trivyignore line 2") {
			t.Errorf("ignored %v", ignored)
		}
		got, ignored, _ := scanIn(t, files, "--ignorefile", "vigil.yaml")
		if strings.Join(got, ",") != "musl-utils CVE-2019-14697" || len(ignored) != 1 || ignored[0] != "musl CVE-2019-14697: ignore file: own file" {
			t.Errorf("--ignorefile vigil.yaml: findings %v, ignored %v", got, ignored)
		}
	})
}
