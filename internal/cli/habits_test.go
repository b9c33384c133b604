package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/testenv"
)

// TestExitCodeFlag: --exit-code N exits N when findings of the --severity
// set remain after ignores, after --fail-on's 3 and before coverage's 6.
// alpine-3.7.3 has two UNTRIAGED findings (musl, musl-utils
// CVE-2019-14697), alpine-3.8.5 none, and alpine-3.20.3's release is not
// in the secdb the database holds (v3.3–v3.11).
func TestExitCodeFlag(t *testing.T) {
	env := alpineDB(t)
	img := "oci:" + testenv.Image(t, "alpine-3.7.3") + ":latest"
	clean := "oci:" + testenv.Image(t, "alpine-3.8.5") + ":latest"
	uncovered := "oci:" + testenv.Image(t, "alpine-3.20.3") + ":latest"
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		name string
		args []string
		want int
		says string
	}{
		{"any finding", []string{img, "--exit-code", "1"}, 1, "2 findings remain (--exit-code 1)"},
		{"of the severity set", []string{img, "--exit-code", "7", "--severity", "UNTRIAGED"}, 7, "2 findings of severity UNTRIAGED remain (--exit-code 7)"},
		{"none of the severity set", []string{img, "--exit-code", "7", "--severity", "HIGH,CRITICAL"}, 0, ""},
		{"ignore-unfixed keeps fixed ones", []string{img, "--exit-code", "5", "--ignore-unfixed"}, 5, "2 findings remain"},
		{"clean image", []string{clean, "--exit-code", "1"}, 0, ""},
		{"--fail-on first", []string{img, "--exit-code", "1", "--fail-on", "untriaged"}, ExitVulnerable, "(--fail-on UNTRIAGED)"},
		{"coverage after", []string{uncovered, "--exit-code", "1"}, ExitPartialCoverage, "coverage is partial"},
		{"coverage allowed", []string{uncovered, "--exit-code", "1", "--allow-partial-coverage"}, 0, ""},
		{"out of range", []string{img, "--exit-code", "200"}, ExitUsage, "want 0 (off) to 125"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runVigilCode(env, append([]string{"scan", "--format", "json"}, tc.args...)...)
			if code != tc.want || !strings.Contains(errs, tc.says) {
				t.Errorf("exit %d, want %d saying %q\n%s", code, tc.want, tc.says, errs)
			}
		})
	}
	// Ignored findings do not count, as with Trivy's .trivyignore.
	os.WriteFile(".trivyignore", []byte("# patched in our build\nCVE-2019-14697\n"), 0o644)
	if code, _, errs := runVigilCode(env, "scan", img, "--format", "json", "--exit-code", "1"); code != 0 {
		t.Errorf("ignored findings: exit %d\n%s", code, errs)
	}
}

// TestQuietFlag: -q leaves standard error to errors alone.
func TestQuietFlag(t *testing.T) {
	env := alpineDB(t)
	img := "oci:" + testenv.Image(t, "alpine-3.7.3") + ":latest"
	uncovered := "oci:" + testenv.Image(t, "alpine-3.20.3") + ":latest"
	t.Chdir(t.TempDir())
	os.WriteFile(".trivyignore", []byte("CVE-0000-0001\n"), 0o644)
	// Without -q: the ignore file read, its rule without a reason, the
	// image not covered.
	_, errs := runVigilEnv(t, env, "scan", uncovered, "--format", "json")
	for _, want := range []string{"ignore rules read", "without a reason", "not fully covered"} {
		if !strings.Contains(errs, want) {
			t.Errorf("without -q, stderr lacks %q:\n%s", want, errs)
		}
	}
	out, errs := runVigilEnv(t, env, "scan", uncovered, "--format", "json", "-q")
	if errs != "" || !json.Valid([]byte(out)) {
		t.Errorf("-q: stderr %q, report valid %v", errs, json.Valid([]byte(out)))
	}
	code, out, errs := runVigilCode(env, "scan", img, "--format", "json", "--quiet", "--exit-code", "1")
	if code != 1 || errs != "vigil: 2 findings remain (--exit-code 1)\n" || len(scanIDs(t, out)) != 2 {
		t.Errorf("--quiet with --exit-code: exit %d, stderr %q", code, errs)
	}
	if _, errs := runVigilEnv(t, env, "sbom", img, "-q"); errs != "" {
		t.Errorf("sbom -q: stderr %q", errs)
	}
}

// TestOutputFlagRemote: the commands that print a report from a server
// take --output; a rejection still writes the report, a failure none.
func TestOutputFlagRemote(t *testing.T) {
	r := newRemote(t).as(store.RoleReadOnly)
	dir := t.TempDir()
	list := filepath.Join(dir, "findings.json")
	out, _ := r.run("findings", "list", "--json", "--output", list)
	var p struct{ Findings []json.RawMessage }
	if data, err := os.ReadFile(list); err != nil || json.Unmarshal(data, &p) != nil || len(p.Findings) != 7 || out != "" {
		t.Errorf("findings list --output: %d findings in the file (%v), stdout %q", len(p.Findings), err, out)
	}
	table := filepath.Join(dir, "images.txt")
	r.run("images", "list", "-o", table)
	if data, _ := os.ReadFile(table); !strings.HasPrefix(string(data), "REPOSITORY") {
		t.Errorf("images list -o: %q", data)
	}
	agg := filepath.Join(dir, "agg.txt")
	r.run("findings", "aggregate", "--by", "repository", "-o", agg)
	if data, _ := os.ReadFile(agg); !strings.Contains(string(data), "team/app") {
		t.Errorf("findings aggregate -o: %q", data)
	}
	for _, args := range [][]string{{"events", "list"}, {"gate", "decisions", "--json"}} {
		file := filepath.Join(dir, args[0]+".out")
		if out, _ := r.run(append(args, "-o", file)...); out != "" {
			t.Errorf("%v -o: stdout %q", args, out)
		}
		if data, err := os.ReadFile(file); err != nil || len(data) == 0 {
			t.Errorf("%v -o: %q %v", args, data, err)
		}
	}
	var first struct{ Findings []struct{ FindingArn string } }
	json.Unmarshal([]byte(mustRead(t, list)), &first)
	if len(first.Findings) == 0 || !strings.HasPrefix(first.Findings[0].FindingArn, "arn:") {
		t.Fatalf("no finding ARN in %s", list)
	}
	one := filepath.Join(dir, "one.json")
	r.run("findings", "get", first.Findings[0].FindingArn, "--json", "-o", one)
	if data := mustRead(t, one); !strings.Contains(data, first.Findings[0].FindingArn) {
		t.Errorf("findings get -o: %s", data)
	}
	// team/app:1.0 has a critical finding: the default policy rejects it.
	check := filepath.Join(dir, "check.txt")
	code, out, errs := runRemote(r.env, "gate", "check", "team/app:1.0", "--output", check)
	data, _ := os.ReadFile(check)
	if code != ExitRejected || !strings.HasPrefix(string(data), "Rejected: team/app@sha256:") || out != "" {
		t.Errorf("gate check --output: exit %d, file %q, stdout %q\n%s", code, data, out, errs)
	}
	// A failure leaves no report behind.
	gone := filepath.Join(dir, "gone.txt")
	if code, _, _ := runRemote(r.env, "gate", "check", "team/nothing:1.0", "--output", gone); code == 0 {
		t.Error("gate check of an unknown image passed")
	}
	if _, err := os.Stat(gone); err == nil {
		t.Error("a failed gate check left its --output file")
	}
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
