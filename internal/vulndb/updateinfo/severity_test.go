package updateinfo

import (
	"testing"

	"github.com/vigilsec/vigil/internal/score"
)

// TestSeverityInspector: every ALAS severity of the converted records, in
// whatever case Amazon wrote it, reaches Inspector's band for it
// (critical → CRITICAL, important → HIGH, medium → MEDIUM, low → LOW).
func TestSeverityInspector(t *testing.T) {
	bands := map[string]string{"Critical": "CRITICAL", "Important": "HIGH", "Medium": "MEDIUM", "Low": "LOW"}
	seen := map[string]bool{}
	for _, f := range []struct{ file, eco string }{
		{"testdata/amazon/2/updateinfo.xml.gz", "Amazon Linux:2"},
		{"testdata/amazon/2023/updateinfo.xml", "Amazon Linux:2023"},
	} {
		advs, _ := parseFile(t, f.file, f.eco)
		for _, a := range advs {
			want, ok := bands[a.VendorSeverity]
			if !ok {
				t.Errorf("%s: severity %q", a.ID, a.VendorSeverity)
				continue
			}
			seen[a.VendorSeverity] = true
			if got := score.Score(score.Input{VendorSeverity: a.VendorSeverity}).Severity; got != want {
				t.Errorf("%s: %s scored %s, want %s", a.ID, a.VendorSeverity, got, want)
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("the records give only %v", seen)
	}
}
