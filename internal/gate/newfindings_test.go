package gate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
)

// withFindings writes a completed scan of digest with findings named
// "package vulnerability severity", without an event.
func (w *world) withFindings(repo, digest string, fs ...string) {
	w.t.Helper()
	var out []store.Finding
	for i, f := range fs {
		p := strings.Fields(f)
		out = append(out, store.Finding{ID: fmt.Sprintf("%028x%04d", w.n, i), Repository: repo, ImageDigest: digest,
			VulnerabilityID: p[1], Title: p[1], Severity: p[2], Status: store.Active, FixAvailable: "YES", ExploitAvailable: "NO",
			PackageName: p[0], PackageVersion: "1", FirstObservedAt: w.now, LastObservedAt: w.now, UpdatedAt: w.now,
			Data: json.RawMessage(`{"findingArn":"arn:aws:inspector2:local:000000000000:finding/` + p[1] + `"}`)})
		w.n++
	}
	err := w.st.UpdateFindings(context.Background(), repo, digest, func([]store.Finding) (store.FindingsUpdate, error) {
		return store.FindingsUpdate{Findings: out, Image: &store.ImageUpdate{Repository: repo, Digest: digest, ScanStatus: store.ScanComplete,
			ScanReason: "SUCCESSFUL", ScannedAt: w.now, DBVersion: "20261202T120000Z-0123456789ab"}}, nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// index pushes an image index of one linux/amd64 image with findings.
func (w *world) index(repo string, fs ...string) (index, child string) {
	w.t.Helper()
	ctx := context.Background()
	child, index = w.digest(), w.digest()
	must := func(err error) {
		if err != nil {
			w.t.Fatal(err)
		}
	}
	must(w.st.RecordPush(ctx, store.Push{Repository: repo, Digest: child, At: w.now, Platform: "linux/amd64",
		MediaType: "application/vnd.oci.image.manifest.v1+json"}))
	must(w.st.RecordPush(ctx, store.Push{Repository: repo, Digest: index, At: w.now, MediaType: "application/vnd.oci.image.index.v1+json",
		Children: []store.Child{{Digest: child, Platform: "linux/amd64"}}}))
	w.withFindings(repo, child, fs...)
	return index, child
}

// TestBaselineNewFindingsOnlyIndexes: under newFindingsOnly an index's
// image is compared with the image for its platform of the last index
// approved for the stage, never with its own index; the decision names
// the database version its findings were matched with.
func TestBaselineNewFindingsOnlyIndexes(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	zero := 0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.st.PutGatePolicy(ctx, store.GatePolicy{Name: "p", Repository: "team/app", OnScanFailure: gate.Reject, OnUnsupported: gate.Reject, OnTimeout: gate.Reject}))
	first, _ := w.index("team/app", "openssl CVE-2024-0001 HIGH", "zlib CVE-2023-45853 CRITICAL")
	_, d1 := w.get(w.request(gate.RequestInput{Image: "team/app@" + first, Stage: "prod"}).ID)
	if d1 == nil || d1.Decision != store.Approved || d1.DBVersion != "20261202T120000Z-0123456789ab" {
		t.Fatalf("first index: %+v", d1)
	}
	must(w.st.PutGatePolicy(ctx, store.GatePolicy{Name: "p", Repository: "team/app", MaxCritical: &zero, MaxHigh: &zero, NewFindingsOnly: true,
		OnScanFailure: gate.Reject, OnUnsupported: gate.Reject, OnTimeout: gate.Reject}))

	// The first index judged again: it is not its own predecessor.
	j, err := w.g.JudgeWith(ctx, "team/app", first, gate.JudgeOptions{Stage: "prod"})
	must(err)
	if j.Decision != store.Rejected || j.BaselineDigest != "" || !strings.Contains(j.Reason, "no other image of team/app was approved") {
		t.Errorf("the approved index judged again: %s %q (compared with %q)", j.Decision, j.Reason, j.BaselineDigest)
	}

	w.now = w.now.Add(time.Minute)
	same, _ := w.index("team/app", "openssl CVE-2024-0001 HIGH", "zlib CVE-2023-45853 CRITICAL")
	_, d2 := w.get(w.request(gate.RequestInput{Image: "team/app@" + same, Stage: "prod"}).ID)
	if d2 == nil || d2.Decision != store.Approved || d2.BaselineDigest != first || d2.Counts.Total != 0 {
		t.Errorf("an index with its predecessor's findings: %+v", d2)
	}
	w.now = w.now.Add(time.Minute)
	worse, _ := w.index("team/app", "openssl CVE-2024-0001 HIGH", "zlib CVE-2023-45853 CRITICAL", "zlib CVE-2026-0002 CRITICAL")
	_, d3 := w.get(w.request(gate.RequestInput{Image: "team/app@" + worse, Stage: "prod"}).ID)
	if d3 == nil || d3.Decision != store.Rejected || len(d3.Findings) != 1 || d3.Findings[0].VulnerabilityID != "CVE-2026-0002" || d3.BaselineDigest != same {
		t.Errorf("an index with one new critical: %+v", d3)
	}
}
