package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/scan"
)

// partialReport is the test report, with a coverage that has an
// uncovered ecosystem, a skipped file and a limited release.
func partialReport(t *testing.T) *scan.Report {
	r := testReport(t)
	r.Coverage = coverage.New([]coverage.Scope{
		{Name: "debian 12", Ecosystem: "Debian:12", OS: true, Packages: 3, Covered: true, Sources: []string{"debian-dsa"}, Note: "DSA/DLA lists only"},
		{Name: "npm", Ecosystem: "npm", Packages: 55, Note: "no feed"},
	}, []coverage.File{{Layer: 1, Path: "app/package-lock.json", WantedBy: "npm", Message: "npm: 9000000 bytes: too large"}})
	return r
}

// Every format states a coverage that is not full, and stays valid.
func TestCoverageInEveryFormat(t *testing.T) {
	r := partialReport(t)
	gaps := []string{"npm: 55 packages, no feed", "layer 1: /app/package-lock.json: not read (npm): npm: 9000000 bytes: too large"}

	table := string(render(t, WriteTable, r, testOptions()))
	if !strings.Contains(table, "Coverage: PARTIAL (INCOMPLETE_INVENTORY), not assessed:\n  "+gaps[0]+"\n  "+gaps[1]+"\n") ||
		!strings.Contains(table, "Coverage limited:\n  debian 12: DSA/DLA lists only") {
		t.Errorf("table:\n%s", table)
	}

	var doc struct {
		Coverage struct {
			Full   bool
			Reason string
			Gaps   []string
		}
	}
	decodeJSON(t, render(t, WriteJSON, r, testOptions()), &doc)
	if doc.Coverage.Full || doc.Coverage.Reason != "INCOMPLETE_INVENTORY" || strings.Join(doc.Coverage.Gaps, "|") != strings.Join(gaps, "|") {
		t.Errorf("json coverage %+v", doc.Coverage)
	}

	out := render(t, WriteSARIF, r, testOptions())
	validate(t, compileSARIF(t), out, "version")
	for _, g := range gaps {
		if !bytes.Contains(out, []byte(`"text": "not assessed: `+g+`"`)) {
			t.Errorf("sarif lacks %q", g)
		}
	}

	out = render(t, WriteCycloneDX, r, testOptions())
	validate(t, compileCycloneDX(t), out, "specVersion")
	var bom struct {
		Metadata struct {
			Properties []struct{ Name, Value string }
		}
	}
	decodeJSON(t, out, &bom)
	var props []string
	for _, p := range bom.Metadata.Properties {
		if strings.HasPrefix(p.Name, "vigil:coverage") {
			props = append(props, p.Name+"="+p.Value)
		}
	}
	want := "vigil:coverage=PARTIAL|vigil:coverage:reason=INCOMPLETE_INVENTORY|vigil:coverage:gap=" + gaps[0] + "|vigil:coverage:gap=" + gaps[1] + "|vigil:coverage:limit=debian 12: DSA/DLA lists only"
	if strings.Join(props, "|") != want {
		t.Errorf("cyclonedx properties\n%s\nwant\n%s", strings.Join(props, "|"), want)
	}

	var cov InspectorCoverage
	decodeJSON(t, render(t, WriteInspectorCoverage, r, testOptions()), &cov)
	if len(cov.CoveredResources) != 1 || cov.CoveredResources[0].ScanStatus != (ScanStatus{"ACTIVE", "INCOMPLETE_INVENTORY"}) {
		t.Errorf("inspector coverage %+v", cov)
	}
}

func TestInspectorScanStatus(t *testing.T) {
	for _, c := range []struct {
		cov  *coverage.Coverage
		want ScanStatus
	}{
		{nil, ScanStatus{"ACTIVE", "SUCCESSFUL"}},
		{coverage.New(nil, nil), ScanStatus{"ACTIVE", "SUCCESSFUL"}},
		{coverage.New([]coverage.Scope{{Name: "alpine 3.20", OS: true}}, nil), ScanStatus{"INACTIVE", "UNSUPPORTED_OS"}},
		{coverage.New([]coverage.Scope{{Name: "npm"}}, nil), ScanStatus{"ACTIVE", "PARTIAL_COVERAGE"}},
	} {
		if got := InspectorScanStatus(c.cov); got != c.want {
			b, _ := json.Marshal(c.cov)
			t.Errorf("%s: %+v, want %+v", b, got, c.want)
		}
	}
}
