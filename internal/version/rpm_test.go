package version

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// osvVersions returns every version an OSV all.zip mentions: range events
// (except introduced "0") and affected version lists.
func osvVersions(t *testing.T, rel string) []string {
	t.Helper()
	z, err := zip.OpenReader(testenv.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var vs []string
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Affected []struct {
				Ranges []struct {
					Type   string
					Events []map[string]string
				}
				Versions []string
			}
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, a := range rec.Affected {
			vs = append(vs, a.Versions...)
			for _, r := range a.Ranges {
				if r.Type == "GIT" {
					continue
				}
				for _, e := range r.Events {
					for k, v := range e {
						if !(k == "introduced" && v == "0") && !(k == "limit" && v == "*") {
							vs = append(vs, v)
						}
					}
				}
			}
		}
	}
	if len(vs) == 0 {
		t.Fatalf("%s: no versions", rel)
	}
	return vs
}

// rpmLua compares each "a b" line of the file with rpm.vercmp, which
// parses both as EVRs (rpmverParse) and compares them with rpmverCmp.
const rpmLua = `%%{lua: for line in io.lines("%s") do
local a, b = line:match("^(%%S+) (%%S+)$")
print(rpm.vercmp(a, b) .. "\n")
end}`

// TestRPMAgainstRPM checks the testdata cases, every neighbouring pair of
// AlmaLinux's fixed versions in our order and random pairs of them against
// the real rpm, in one rpm process.
func TestRPMAgainstRPM(t *testing.T) {
	rpm := testenv.Tool(t, "rpm")
	if out, err := exec.Command(rpm, "--eval", `%{lua: print(rpm.vercmp("1:1.0", "2.0"))}`).Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("this rpm's Lua has no EVR-aware rpm.vercmp: %q %v", out, err)
	}
	ps, _ := casePairs(t, "rpm")
	valid, rejected := sortedValid(RPM{}, osvVersions(t, "vulndb/osv/AlmaLinux/all.zip"))
	if len(rejected) > 0 {
		t.Errorf("AlmaLinux versions rejected: %q", rejected)
	}
	t.Logf("%d distinct AlmaLinux versions", len(valid))
	ps = append(ps, samplePairs(valid, -1, 5000)...)
	runBatches(t, ps, 1, func(file string) *exec.Cmd {
		return exec.Command(rpm, "--eval", fmt.Sprintf(rpmLua, file))
	})
	checkAgainst(t, "rpm", RPM{}, ps)
}
