package scan

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/vuln"
)

func wireReport() *Report {
	r := &Report{
		Subject:  Subject{Name: "app", Digest: "sha256:0123"},
		Distro:   &inventory.Distro{ID: "alpine", VersionID: "3.7.3"},
		Packages: []inventory.Package{{Name: "musl", Version: "1.1.18-r3", Type: inventory.APK, PURL: "pkg:apk/alpine/musl@1.1.18-r3", Path: "/lib/apk/db/installed"}},
		Time:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	p := &r.Packages[0]
	r.Findings = []*Finding{{
		Finding: &match.Finding{ID: "CVE-2019-14697", Package: p, Ecosystem: "Alpine:v3.7", Version: p.Version, Fix: match.Fixed, FixedVersion: "1.1.18-r4",
			Advisories: []*vuln.Advisory{{ID: "CVE-2019-14697", Source: "alpine-secdb", VendorSeverity: "high"}}},
		Pkg: p, Title: "CVE-2019-14697 - musl", Source: "alpine-secdb",
		Score: score.Result{Score: 9.8, Severity: score.Critical, ScoreSource: score.SourceNVD},
	}}
	r.Skipped = []match.Skip{{Package: p, PURL: p.PURL, Reason: "test"}}
	return r
}

// TestWireRoundTrip: a report through its wire form links each finding
// and skip to the package of the inventory (the same pointer), keeps the
// advisories' ids, feeds and vendor severities, and the rest as it was.
func TestWireRoundTrip(t *testing.T) {
	r := wireReport()
	data, err := json.Marshal(EncodeWire(r))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeWire(data)
	if err != nil {
		t.Fatal(err)
	}
	f := got.Findings[0]
	if f.Pkg != &got.Packages[0] || f.Finding.Package != &got.Packages[0] || got.Skipped[0].Package != &got.Packages[0] {
		t.Error("the finding or skip is not linked to the inventory's package")
	}
	if a := f.Advisories; len(a) != 1 || a[0].Source != "alpine-secdb" || a[0].VendorSeverity != "high" {
		t.Errorf("advisories %+v", a)
	}
	if !reflect.DeepEqual(f.Score, r.Findings[0].Score) || f.FixedVersion != "1.1.18-r4" || !got.Time.Equal(r.Time) || !reflect.DeepEqual(got.Packages, r.Packages) {
		t.Errorf("round trip changed the report:\n%+v\n%+v", f, r.Findings[0])
	}
}

// FuzzDecodeWire: whatever a server answers, DecodeWire returns a report
// or an error, never panics, and a report's findings all have a package.
func FuzzDecodeWire(f *testing.F) {
	data, _ := json.Marshal(EncodeWire(wireReport()))
	f.Add(data)
	f.Add([]byte(`{"packages":[],"findings":[{"id":"x","packageIndex":3}]}`))
	f.Add([]byte(`{"findings":[null]}`))
	f.Add([]byte(`{"skipped":[{"packageIndex":-1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeWire(b)
		if err != nil {
			return
		}
		for _, fd := range r.Findings {
			if fd.Pkg == nil || fd.Finding == nil || fd.Finding.Package == nil {
				t.Fatalf("a finding without package: %+v", fd)
			}
		}
	})
}
