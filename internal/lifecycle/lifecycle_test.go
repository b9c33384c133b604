package lifecycle

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/store"
)

const (
	testRepo    = "team/app"
	testDigest  = "sha256:4b1f5e8c0f3d1d7a0c1b4a46b7a3d1d5b3c6e2f8a9d0c1b2a3f4e5d6c7b8a9f0"
	testAccount = "123456789012"
	testRegion  = "eu-test-1"
)

// vuln is one real vulnerability of Debian 12's openssl or zlib, with the
// NVD vector and score published for it.
type vuln struct {
	id, pkg, version, source, vector, severity string
	score                                      float64
}

var (
	cve20246119 = vuln{"CVE-2024-6119", "libssl3", "3.0.11-1~deb12u2", "openssl",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "HIGH", 7.5}
	cve202345853 = vuln{"CVE-2023-45853", "zlib1g", "1:1.2.13.dfsg-1", "zlib",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CRITICAL", 9.8}
)

// observe makes what the worker makes of a scan that found vulns.
func observe(t *testing.T, at time.Time, vulns ...vuln) []Observed {
	t.Helper()
	distro := &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}
	layer := inventory.LayerRef{Index: 0, DiffID: "sha256:" + repeat("1"), Digest: "sha256:" + repeat("2")}
	r := &scan.Report{
		Subject: scan.Subject{Name: "vigil.test/" + testRepo + ":1.0", Digest: testDigest, Platform: "linux/amd64",
			Layers: []inventory.LayerRef{layer}},
		Distro: distro, Time: at,
	}
	for _, v := range vulns {
		p := inventory.Package{Name: v.pkg, Version: v.version, Type: inventory.Deb, Arch: "amd64",
			Source: &inventory.Source{Name: v.source, Version: v.version}, Path: "/var/lib/dpkg/status",
			Cataloger: "dpkg", Evidence: inventory.Installed, Layer: layer}
		p.PURL = inventory.PURL(&p, distro)
		r.Packages = append(r.Packages, p)
		pkg := r.Packages[len(r.Packages)-1]
		r.Findings = append(r.Findings, &scan.Finding{
			Finding: &match.Finding{ID: v.id, Ecosystem: "Debian:12", Version: v.version, Fix: match.NotFixed},
			Pkg:     &pkg, Title: v.id + " - " + v.pkg + ", " + v.source, Source: "debian/tracker",
			Score: score.Result{Score: v.score, Severity: v.severity, ScoreSource: score.SourceNVD,
				Base: score.CVSS{Version: "3.1", Vector: v.vector, BaseScore: v.score, Source: "nvd@nist.gov"}},
		})
	}
	obs, err := Observe(r, testRepo, report.Options{AccountID: testAccount, Region: testRegion, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != len(vulns) {
		t.Fatalf("Observe: %d findings for %d vulnerabilities", len(obs), len(vulns))
	}
	return obs
}

func repeat(s string) string {
	out := ""
	for len(out) < 64 {
		out += s
	}
	return out
}

func reconciler(now time.Time) Reconciler {
	return Reconciler{Emitter: events.Emitter{Account: testAccount, Region: testRegion, Now: func() time.Time { return now }},
		Region: testRegion, Account: testAccount}
}

// byVuln indexes findings by vulnerability id.
func byVuln(fs []store.Finding) map[string]store.Finding {
	m := map[string]store.Finding{}
	for _, f := range fs {
		m[f.VulnerabilityID] = f
	}
	return m
}

// merge applies an update to the stored findings, as the store does.
func merge(stored, changed []store.Finding) []store.Finding {
	m := map[string]int{}
	for i, f := range stored {
		m[f.ID] = i
	}
	for _, f := range changed {
		if i, ok := m[f.ID]; ok {
			stored[i] = f
		} else {
			m[f.ID] = len(stored)
			stored = append(stored, f)
		}
	}
	return stored
}

// detail reads the status and times an event carries.
func detail(t *testing.T, e store.Event) (status, first, updated string) {
	t.Helper()
	var env struct {
		DetailType string `json:"detail-type"`
		Detail     struct {
			Status          string `json:"status"`
			FirstObservedAt string `json:"firstObservedAt"`
			UpdatedAt       string `json:"updatedAt"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(e.Envelope, &env); err != nil {
		t.Fatal(err)
	}
	if env.DetailType != events.InspectorFinding {
		t.Fatalf("event detail-type %q, want %q", env.DetailType, events.InspectorFinding)
	}
	return env.Detail.Status, env.Detail.FirstObservedAt, env.Detail.UpdatedAt
}

// TestFindingStates walks one image's findings through Inspector's states:
// first seen ACTIVE, seen again unchanged and silent, gone CLOSED, back
// ACTIVE with its first observation kept, and closed with the image.
func TestFindingStates(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var stored []store.Finding

	// Scan 1: two findings, both new.
	changed, evts, err := reconciler(t0).Scan(nil, observe(t, t0, cve20246119, cve202345853), nil, store.FindingContext{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 2 || len(evts) != 2 {
		t.Fatalf("first scan: %d findings and %d events, want 2 and 2", len(changed), len(evts))
	}
	for _, e := range evts {
		if st, _, _ := detail(t, e); st != store.Active {
			t.Errorf("first scan: event status %q, want ACTIVE", st)
		}
	}
	stored = merge(stored, changed)
	for _, f := range stored {
		if f.Status != store.Active || !f.FirstObservedAt.Equal(t0) || !f.LastObservedAt.Equal(t0) || !f.UpdatedAt.Equal(t0) {
			t.Errorf("%s: status %s first %v last %v updated %v, want ACTIVE at %v", f.VulnerabilityID, f.Status, f.FirstObservedAt, f.LastObservedAt, f.UpdatedAt, t0)
		}
	}
	if c := Counts(stored); c.Critical != 1 || c.High != 1 || c.Total != 2 {
		t.Errorf("counts after first scan: %+v", c)
	}

	// Scan 2, an hour later: the same two findings. No event, first
	// observation and update time kept, last observation moved.
	t1 := t0.Add(time.Hour)
	changed, evts, err = reconciler(t1).Scan(stored, observe(t, t1, cve20246119, cve202345853), nil, store.FindingContext{}, t1)
	if err != nil {
		t.Fatal(err)
	}
	if len(evts) != 0 {
		t.Errorf("unchanged rescan: %d events, want none", len(evts))
	}
	stored = merge(stored, changed)
	for _, f := range stored {
		if !f.FirstObservedAt.Equal(t0) || !f.UpdatedAt.Equal(t0) || !f.LastObservedAt.Equal(t1) {
			t.Errorf("%s after unchanged rescan: first %v updated %v last %v", f.VulnerabilityID, f.FirstObservedAt, f.UpdatedAt, f.LastObservedAt)
		}
	}

	// Scan 3: zlib's finding is gone (zlib upgraded): CLOSED, one event.
	t2 := t1.Add(time.Hour)
	changed, evts, err = reconciler(t2).Scan(stored, observe(t, t2, cve20246119), nil, store.FindingContext{}, t2)
	if err != nil {
		t.Fatal(err)
	}
	if len(evts) != 1 {
		t.Fatalf("scan without zlib's finding: %d events, want 1", len(evts))
	}
	if st, _, _ := detail(t, evts[0]); st != store.Closed {
		t.Errorf("closing event status %q, want CLOSED", st)
	}
	stored = merge(stored, changed)
	if f := byVuln(stored)["CVE-2023-45853"]; f.Status != store.Closed || !f.UpdatedAt.Equal(t2) {
		t.Errorf("gone finding: status %s updated %v, want CLOSED at %v", f.Status, f.UpdatedAt, t2)
	}
	if c := Counts(stored); c.Critical != 0 || c.High != 1 || c.Total != 1 {
		t.Errorf("counts count a CLOSED finding: %+v", c)
	}

	// Scan 4: another scan without it: a CLOSED finding is not closed again.
	t3 := t2.Add(time.Hour)
	_, evts, err = reconciler(t3).Scan(stored, observe(t, t3, cve20246119), nil, store.FindingContext{}, t3)
	if err != nil {
		t.Fatal(err)
	}
	if len(evts) != 0 {
		t.Errorf("closed finding closed again: %d events", len(evts))
	}

	// Scan 5: it is back (a downgrade): ACTIVE again, with its first
	// observation of scan 1, and an event saying so.
	t4 := t3.Add(time.Hour)
	changed, evts, err = reconciler(t4).Scan(stored, observe(t, t4, cve20246119, cve202345853), nil, store.FindingContext{}, t4)
	if err != nil {
		t.Fatal(err)
	}
	if len(evts) != 1 {
		t.Fatalf("reappearing finding: %d events, want 1", len(evts))
	}
	if st, first, _ := detail(t, evts[0]); st != store.Active || first != events.DetailTime(t0) {
		t.Errorf("reappearing event: status %q first observed %q, want ACTIVE and %q", st, first, events.DetailTime(t0))
	}
	stored = merge(stored, changed)
	if f := byVuln(stored)["CVE-2023-45853"]; f.Status != store.Active || !f.FirstObservedAt.Equal(t0) || !f.UpdatedAt.Equal(t4) {
		t.Errorf("reappeared: status %s first %v updated %v", f.Status, f.FirstObservedAt, f.UpdatedAt)
	}

	// The image is deleted: every open finding closes, each with an event.
	t5 := t4.Add(time.Hour)
	changed, evts, err = reconciler(t5).Close(stored, t5)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 2 || len(evts) != 2 {
		t.Fatalf("closing the image: %d findings and %d events, want 2 and 2", len(changed), len(evts))
	}
	stored = merge(stored, changed)
	if c := Counts(stored); c.Total != 0 {
		t.Errorf("counts after closing the image: %+v", c)
	}
	changed, evts, err = reconciler(t5).Close(stored, t5)
	if err != nil || len(changed) != 0 || len(evts) != 0 {
		t.Errorf("closing closed findings again: %d findings, %d events, %v", len(changed), len(evts), err)
	}
}

// TestSeverityChangeIsAnnounced: a rescan that scores a finding
// differently (new vector published) updates it and sends an event.
func TestSeverityChangeIsAnnounced(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	changed, _, err := reconciler(t0).Scan(nil, observe(t, t0, cve20246119), nil, store.FindingContext{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	rescored := cve20246119
	rescored.vector, rescored.score, rescored.severity = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", 5.9, "MEDIUM"
	t1 := t0.Add(time.Hour)
	after, evts, err := reconciler(t1).Scan(changed, observe(t, t1, rescored), nil, store.FindingContext{}, t1)
	if err != nil {
		t.Fatal(err)
	}
	if len(evts) != 1 || len(after) != 1 {
		t.Fatalf("rescored finding: %d findings, %d events, want 1 and 1", len(after), len(evts))
	}
	f := after[0]
	if f.Severity != "MEDIUM" || f.Score == nil || *f.Score != 5.9 || !f.UpdatedAt.Equal(t1) || !f.FirstObservedAt.Equal(t0) {
		t.Errorf("rescored finding: severity %s score %v updated %v first %v", f.Severity, f.Score, f.UpdatedAt, f.FirstObservedAt)
	}
}

// TestSuppressionRules: a SUPPRESS rule makes matching findings
// SUPPRESSED as they are made and when rules change; an expired rule, a
// NONE rule or a deleted rule leaves them ACTIVE. The first matching rule
// by id names the suppression.
func TestSuppressionRules(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	zlibRule := store.Rule{ID: "b-zlib", Action: "SUPPRESS", Reason: "not used",
		Filter: store.FilterCriteria{VulnerabilityID: []store.StringFilter{{Comparison: "EQUALS", Value: "CVE-2023-45853"}}}}
	critical := store.Rule{ID: "a-critical", Action: "SUPPRESS",
		Filter: store.FilterCriteria{Severity: []store.StringFilter{{Comparison: "EQUALS", Value: "CRITICAL"}}}}
	expired := store.Rule{ID: "c-openssl", Action: "SUPPRESS", ExpiresAt: t0.Add(-time.Minute),
		Filter: store.FilterCriteria{VulnerabilityID: []store.StringFilter{{Comparison: "EQUALS", Value: "CVE-2024-6119"}}}}
	none := store.Rule{ID: "d-none", Action: "NONE",
		Filter: store.FilterCriteria{VulnerabilityID: []store.StringFilter{{Comparison: "PREFIX", Value: "CVE-"}}}}

	stored, evts, err := reconciler(t0).Scan(nil, observe(t, t0, cve20246119, cve202345853),
		[]store.Rule{zlibRule, critical, expired, none}, store.FindingContext{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evts) != 2 {
		t.Errorf("%d events, want one per new finding", len(evts))
	}
	got := byVuln(stored)
	if f := got["CVE-2023-45853"]; f.Status != store.Suppressed || f.SuppressedBy != "a-critical" {
		t.Errorf("zlib: status %s by %q, want SUPPRESSED by a-critical (first by id)", f.Status, f.SuppressedBy)
	}
	if f := got["CVE-2024-6119"]; f.Status != store.Active || f.SuppressedBy != "" {
		t.Errorf("openssl under an expired rule: status %s by %q, want ACTIVE", f.Status, f.SuppressedBy)
	}
	if c := Counts(stored); c.Total != 1 || c.Critical != 0 {
		t.Errorf("counts include a suppressed finding: %+v", c)
	}

	// The critical rule is deleted: zlib stays suppressed, now by the
	// zlib rule — a change of rule without a change of status is stored
	// and sends no event.
	t1 := t0.Add(time.Hour)
	changed, evts, err := reconciler(t1).Rules(stored, []store.Rule{zlibRule, expired}, nil, t1)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].SuppressedBy != "b-zlib" || changed[0].Status != store.Suppressed || len(evts) != 0 {
		t.Fatalf("rule replaced: %d changed (%+v), %d events", len(changed), changed, len(evts))
	}
	stored = merge(stored, changed)

	// Every rule is deleted: zlib becomes ACTIVE, with an event.
	t2 := t1.Add(time.Hour)
	changed, evts, err = reconciler(t2).Rules(stored, nil, nil, t2)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].Status != store.Active || len(evts) != 1 {
		t.Fatalf("rules deleted: %d changed, %d events, want 1 and 1", len(changed), len(evts))
	}
	if st, _, _ := detail(t, evts[0]); st != store.Active {
		t.Errorf("event status %q, want ACTIVE", st)
	}
	stored = merge(stored, changed)

	// A rule on the image's tag suppresses through the finding's context;
	// a CLOSED finding is never touched by rules.
	tagRule := store.Rule{ID: "e-tag", Action: "SUPPRESS",
		Filter: store.FilterCriteria{EcrImageTags: []store.StringFilter{{Comparison: "EQUALS", Value: "legacy"}}}}
	closed, _, err := reconciler(t2).Close(stored[:1], t2)
	if err != nil {
		t.Fatal(err)
	}
	stored = merge(stored, closed)
	ctx := map[string]store.FindingContext{testRepo + "@" + testDigest: {Tags: []string{"legacy"}}}
	changed, _, err = reconciler(t2).Rules(stored, []store.Rule{tagRule}, ctx, t2)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].ID == closed[0].ID || changed[0].Status != store.Suppressed {
		t.Errorf("tag rule: changed %+v, want only the open finding suppressed", changed)
	}
}

// TestBadRuleFails: a rule whose filter cannot be evaluated fails the
// reconciliation, naming the rule, instead of leaving findings unjudged.
func TestBadRuleFails(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	bad := store.Rule{ID: "bad-rule", Action: "SUPPRESS",
		Filter: store.FilterCriteria{Severity: []store.StringFilter{{Comparison: "SOUNDS_LIKE", Value: "HIGH"}}}}
	_, _, err := reconciler(t0).Scan(nil, observe(t, t0, cve20246119), []store.Rule{bad}, store.FindingContext{}, t0)
	if err == nil {
		t.Fatal("a rule with an unknown comparison was applied without error")
	}
	if want := "bad-rule"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the rule %q", err, want)
	}
}

// TestIDIsStable: a finding's id depends on repository, image, package
// file and vulnerability, and on nothing else.
func TestIDIsStable(t *testing.T) {
	a := ID("r", "sha256:1", "pkg:deb/debian/zlib1g@1", "/var/lib/dpkg/status", "CVE-1")
	if a != ID("r", "sha256:1", "pkg:deb/debian/zlib1g@1", "/var/lib/dpkg/status", "CVE-1") {
		t.Fatal("ID is not deterministic")
	}
	for _, other := range []string{
		ID("r2", "sha256:1", "pkg:deb/debian/zlib1g@1", "/var/lib/dpkg/status", "CVE-1"),
		ID("r", "sha256:2", "pkg:deb/debian/zlib1g@1", "/var/lib/dpkg/status", "CVE-1"),
		ID("r", "sha256:1", "pkg:deb/debian/zlib1g@2", "/var/lib/dpkg/status", "CVE-1"),
		ID("r", "sha256:1", "pkg:deb/debian/zlib1g@1", "/other", "CVE-1"),
		ID("r", "sha256:1", "pkg:deb/debian/zlib1g@1", "/var/lib/dpkg/status", "CVE-2"),
		// Fields are separated: moving a character between them changes the id.
		ID("r", "sha256:1", "pkg:deb/debian/zlib1g@1", "/var/lib/dpkg/statusC", "VE-1"),
	} {
		if other == a {
			t.Errorf("two different findings share the id %s", a)
		}
	}
	if len(a) != 32 {
		t.Errorf("id %q is not 32 hex digits", a)
	}
}
