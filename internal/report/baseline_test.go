package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilsec/vigil/internal/scan"
)

// TestBaselineRoundTrip: a JSON report read back as a baseline of the
// same report leaves every finding unchanged; with one finding left out
// of it, that finding is new; SARIF states each as its baselineState.
func TestBaselineRoundTrip(t *testing.T) {
	r := testReport(t)
	if len(r.Findings) < 2 {
		t.Fatalf("the test report has %d findings", len(r.Findings))
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r, Options{Tool: "vigil", Now: r.Time}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Findings) != len(r.Findings)+len(r.Ignored) {
		t.Fatalf("baseline has %d findings, the report %d", len(b.Findings), len(r.Findings)+len(r.Ignored))
	}
	dropped := b.Findings[0]
	b.Findings = b.Findings[1:]
	scan.CompareBaseline(r, b)
	added, unchanged, fixed := r.Changes()
	if added != 1 || unchanged != len(r.Findings)-1 || fixed != 0 {
		t.Errorf("changes %d new, %d unchanged, %d fixed; want 1, %d, 0", added, unchanged, fixed, len(r.Findings)-1)
	}
	buf.Reset()
	if err := WriteSARIF(&buf, r, Options{Tool: "vigil", Now: r.Time}); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID        string `json:"ruleId"`
				BaselineState string `json:"baselineState"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, res := range log.Runs[0].Results {
		states[res.BaselineState]++
		if res.BaselineState == "new" && res.RuleID != dropped.ID {
			t.Errorf("SARIF result %s is new; the finding left out of the baseline is %s", res.RuleID, dropped.ID)
		}
	}
	if states["new"] != 1 || states["new"]+states["unchanged"] != len(log.Runs[0].Results) {
		t.Errorf("SARIF baselineStates %v", states)
	}
}
