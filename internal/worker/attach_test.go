package worker

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/lifecycle"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/store"
)

// TestAttachTriagedVEX: the OpenVEX attached to an image states a finding
// a rule suppresses as not_affected with the rule's justification, one
// whose vulnerable code is not in the image as not_affected,
// vulnerable_code_not_present, one still open as affected, and leaves a
// closed one out.
func TestAttachTriagedVEX(t *testing.T) {
	const repo, digest = "team/app", "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	pkg := func(name, version string) *inventory.Package {
		return &inventory.Package{Name: name, Version: version, Type: inventory.Go, PURL: "pkg:golang/" + name + "@" + version, Path: "usr/bin/app"}
	}
	finding := func(id string, p *inventory.Package, notReachable string) *scan.Finding {
		return &scan.Finding{Finding: &match.Finding{ID: id, Package: p, Fix: match.Fixed, FixedVersion: "v9.9.9"}, Pkg: p, NotReachable: notReachable}
	}
	a, b, c, d := pkg("golang.org/x/net", "v0.1.0"), pkg("golang.org/x/text", "v0.3.0"), pkg("golang.org/x/crypto", "v0.2.0"), pkg("golang.org/x/sys", "v0.1.0")
	r := &scan.Report{
		Subject: scan.Subject{Name: "vigil.test/team/app@" + digest, Digest: digest},
		Findings: []*scan.Finding{
			finding("GO-2023-0001", a, ""),
			finding("GO-2023-0002", b, "govulncheck: no vulnerable symbol of golang.org/x/text is in the binary"),
			finding("GO-2023-0003", c, ""),
			finding("GO-2023-0004", d, ""),
		},
	}
	id := func(f *scan.Finding) string { return lifecycle.ID(repo, digest, f.Pkg.PURL, f.Pkg.Path, f.ID) }
	stored := []store.Finding{
		{ID: id(r.Findings[0]), Status: store.Active},
		{ID: id(r.Findings[1]), Status: store.Active, NotReachable: r.Findings[1].NotReachable},
		{ID: id(r.Findings[2]), Status: store.Suppressed, SuppressedBy: "rule-1"},
		{ID: id(r.Findings[3]), Status: store.Closed},
	}
	rules := []store.Rule{{ID: "rule-1", Name: "no tls", Reason: "inline_mitigations_already_exist: TLS is terminated by the proxy"}}
	var buf bytes.Buffer
	if err := report.WriteOpenVEX(&buf, triaged(r, repo, stored, rules), report.Options{Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statements []struct {
			Vulnerability   struct{ Name string } `json:"vulnerability"`
			Status          string                `json:"status"`
			Justification   string                `json:"justification"`
			StatusNotes     string                `json:"status_notes"`
			ImpactStatement string                `json:"impact_statement"`
		} `json:"statements"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range doc.Statements {
		got[s.Vulnerability.Name] = s.Status + " " + s.Justification
	}
	want := map[string]string{
		"GO-2023-0001": "affected ",
		"GO-2023-0002": "not_affected vulnerable_code_not_present",
		"GO-2023-0003": "not_affected inline_mitigations_already_exist",
	}
	if len(got) != len(want) {
		t.Errorf("statements %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for _, s := range doc.Statements {
		if s.Vulnerability.Name == "GO-2023-0003" && s.StatusNotes != "not affected: suppressed by rule no tls: inline_mitigations_already_exist: TLS is terminated by the proxy" {
			t.Errorf("suppressed statement's notes: %q", s.StatusNotes)
		}
	}
}
