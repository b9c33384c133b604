package score

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

// TestBaseScoreMatchesNVD computes the base score of every CVSS vector in
// the 23 real NVD records and compares it with the baseScore NVD
// published beside it. The one exception is by design: for a CVSS v4.0
// vector that carries threat metrics (E:P), NVD's "baseScore" is the
// CVSS-BT score, while Vigil's base is CVSS-B (threat left to KEV and
// EPSS, see the package documentation); such vectors must score no lower
// than NVD's, since E:P only ever lowers a v4 score.
func TestBaseScoreMatchesNVD(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.Shared(t, "vulndb/nvd/cve"), "CVE-*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no NVD records: %v", err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID      string
			Metrics map[string][]struct {
				Source   string
				CVSSData struct {
					Version      string
					VectorString string
					BaseScore    float64
				} `json:"cvssData"`
			}
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		for kind, ms := range rec.Metrics {
			typ, ok := map[string]string{"cvssMetricV2": vuln.CVSSv2, "cvssMetricV30": vuln.CVSSv3, "cvssMetricV31": vuln.CVSSv3, "cvssMetricV40": vuln.CVSSv4}[kind]
			if !ok {
				continue // ssvc and other non-CVSS metrics
			}
			for _, m := range ms {
				c, err := FromSeverity(vuln.Severity{Type: typ, Score: m.CVSSData.VectorString, Source: m.Source})
				if err != nil {
					t.Errorf("%s %s %s: %v", rec.ID, kind, m.CVSSData.VectorString, err)
					continue
				}
				n++
				if typ == vuln.CVSSv4 && strings.Contains(m.CVSSData.VectorString, "/E:") && !strings.Contains(m.CVSSData.VectorString, "/E:X") {
					if c.BaseScore < m.CVSSData.BaseScore {
						t.Errorf("%s %s: CVSS-B %.1f below NVD's CVSS-BT %.1f", rec.ID, m.CVSSData.VectorString, c.BaseScore, m.CVSSData.BaseScore)
					}
					continue
				}
				if c.BaseScore != m.CVSSData.BaseScore {
					t.Errorf("%s %s (%s): computed %.1f, NVD published %.1f", rec.ID, m.CVSSData.VectorString, m.Source, c.BaseScore, m.CVSSData.BaseScore)
				}
			}
		}
	}
	t.Logf("%d vectors compared", n)
}
