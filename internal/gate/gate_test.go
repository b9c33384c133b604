package gate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
)

// world is a store with a gate, a clock the test moves, and helpers that
// do to the store what the registry and the workers do.
type world struct {
	t   *testing.T
	st  store.Store
	g   *gate.Gate
	em  events.Emitter
	now time.Time
	n   int
}

func newWorld(t *testing.T) *world {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{t: t, st: st, now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	w.em = events.Emitter{Now: func() time.Time { return w.now }}
	w.g = &gate.Gate{Store: st, Emitter: w.em, Timeout: 10 * time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return w.now }}
	return w
}

func (w *world) digest() string {
	w.n++
	return fmt.Sprintf("sha256:%064x", w.n)
}

// push records a push of repo:tag, as the registry does, and hands its
// event to the gate, as the built-in rule does.
func (w *world) push(repo, tag string) string {
	w.t.Helper()
	d := w.digest()
	ev, err := w.em.PushEvent("PUSH", events.ImageAction{RepositoryName: repo, ImageDigest: d, ImageTag: tag,
		ManifestMediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactMediaType: "application/vnd.oci.image.config.v1+json"})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.st.RecordPush(context.Background(), store.Push{Repository: repo, Digest: d, Tag: tag, At: w.now,
		MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/vnd.oci.image.config.v1+json", Events: []store.Event{ev}}); err != nil {
		w.t.Fatal(err)
	}
	w.deliver(ev)
	return d
}

func (w *world) deliver(ev store.Event) {
	w.t.Helper()
	if err := w.g.HandleEvent(context.Background(), ev.Envelope); err != nil {
		w.t.Fatal(err)
	}
}

// scanned writes a completed scan of the image with findings of the
// given severities, and hands the Scan event to the gate.
func (w *world) scanned(repo, digest, status string, sevs ...string) {
	w.t.Helper()
	var fs []store.Finding
	for i, s := range sevs {
		id := fmt.Sprintf("%s-%d", strings.TrimPrefix(digest, "sha256:")[50:], i)
		fs = append(fs, store.Finding{ID: fmt.Sprintf("%032x", i+1) + digest[len(digest)-4:], Repository: repo, ImageDigest: digest,
			VulnerabilityID: "CVE-2026-" + id, Title: "CVE " + id, Severity: s, Status: store.Active, FixAvailable: "YES", ExploitAvailable: "NO",
			PackageName: "pkg", PackageVersion: "1", FirstObservedAt: w.now, LastObservedAt: w.now, UpdatedAt: w.now,
			Data: json.RawMessage(`{"findingArn":"arn:aws:inspector2:local:000000000000:finding/` + id + `"}`)})
	}
	var ev store.Event
	err := w.st.UpdateFindings(context.Background(), repo, digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
		keep := map[string]bool{}
		for _, f := range fs {
			keep[f.ID] = true
		}
		for _, f := range existing {
			if !keep[f.ID] {
				f.Status = store.Closed
				fs = append(fs, f)
			}
		}
		c := store.Counts{}
		for _, s := range sevs {
			if s == "CRITICAL" {
				c.Critical++
			}
			c.Total++
		}
		var err error
		ev, err = w.em.ScanEvent(status, repo, digest, nil, c)
		return store.FindingsUpdate{Findings: fs, Events: []store.Event{ev},
			Image: &store.ImageUpdate{Repository: repo, Digest: digest, ScanStatus: store.ScanComplete, ScanReason: "SUCCESSFUL", ScannedAt: w.now}}, err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.deliver(ev)
}

func (w *world) failed(repo, digest, status, reason, msg string) {
	w.t.Helper()
	ev, err := w.em.CoverageEvent(repo, digest, events.CoverageInactive, reason)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.st.UpdateImage(context.Background(), store.ImageUpdate{Repository: repo, Digest: digest, ScanStatus: status, ScanReason: reason, ScanMessage: msg}, []store.Event{ev}); err != nil {
		w.t.Fatal(err)
	}
	w.deliver(ev)
}

func (w *world) request(in gate.RequestInput) *store.GateRequest {
	w.t.Helper()
	if in.Pipeline == "" {
		in.Pipeline = "p"
	}
	r, err := w.g.Request(context.Background(), in)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *world) get(id string) (*store.GateRequest, *store.GateDecision) {
	w.t.Helper()
	r, err := w.st.GateRequest(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	if r.DecisionID == "" {
		return r, nil
	}
	d, err := w.st.GateDecision(context.Background(), r.DecisionID)
	if err != nil {
		w.t.Fatal(err)
	}
	return r, d
}

func (w *world) decisionEvents() []gate.DecisionDetail {
	w.t.Helper()
	evs, err := w.st.Events(context.Background(), store.EventQuery{DetailType: gate.DecisionType, Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []gate.DecisionDetail
	for _, e := range evs {
		var env struct {
			Source string              `json:"source"`
			Detail gate.DecisionDetail `json:"detail"`
		}
		if err := json.Unmarshal(e.Envelope, &env); err != nil || env.Source != gate.Source {
			w.t.Fatalf("decision event %s: %v", e.Envelope, err)
		}
		out = append(out, env.Detail)
	}
	return out
}

// TestRequestBeforePush: the request waits for its tag, the push binds
// it, the scan decides it; the decision is an event and a callback.
func TestRequestBeforePush(t *testing.T) {
	w := newWorld(t)
	r := w.request(gate.RequestInput{Image: "vigil.example.com:5000/team/app:1.0", Pipeline: "deploy", Stage: "prod", CallbackURL: "https://ci.example.com/hook"})
	if r.State != store.GatePending || r.Digest != "" || r.Repository != "team/app" || r.Tag != "1.0" {
		t.Fatalf("request %+v", r)
	}
	d := w.push("team/app", "1.0")
	if r, _ = w.get(r.ID); r.Digest != d || r.State != store.GatePending {
		t.Fatalf("after the push: %+v", r)
	}
	w.scanned("team/app", d, events.ScanInitialDone, "CRITICAL", "LOW")
	r, dec := w.get(r.ID)
	if r.State != store.GateDecided || dec.Decision != store.Rejected || dec.Trigger != gate.TriggerScan || dec.Policy != "default" ||
		len(dec.Findings) != 1 || dec.Findings[0].Severity != "CRITICAL" || dec.Findings[0].Rule != "maxCritical" {
		t.Fatalf("decision %+v", dec)
	}
	evs := w.decisionEvents()
	if len(evs) != 1 || evs[0].Decision != "Rejected" || evs[0].RequestID != r.ID || evs[0].Pipeline != "deploy" || evs[0].ImageDigest != d ||
		len(evs[0].Findings) != 1 || evs[0].Counts["CRITICAL"] != 1 {
		t.Errorf("events %+v", evs)
	}
	ds, err := w.st.Deliveries(context.Background(), store.DeliveryQuery{Limit: 10})
	if err != nil || len(ds) != 1 || ds[0].Target != "callback/"+r.ID {
		t.Fatalf("callback deliveries %+v %v", ds, err)
	}
	url, body, key, err := w.g.Callback(context.Background(), r.ID, ds[0].Envelope)
	if err != nil || url != "https://ci.example.com/hook" || key == "" || !strings.Contains(string(body), `"approvalToken":"`+key+`"`) {
		t.Errorf("callback %s %s %s %v", url, body, key, err)
	}
	// Handing the same event to the gate again changes nothing.
	w.scanned("team/app", d, events.ScanInitialDone, "CRITICAL", "LOW")
	if n := len(w.decisionEvents()); n != 1 {
		t.Errorf("%d decisions after a repeated event", n)
	}
}

// TestRequestForScannedImage is decided at once.
func TestRequestForScannedImage(t *testing.T) {
	w := newWorld(t)
	d := w.push("team/app", "1.0")
	w.scanned("team/app", d, events.ScanInitialDone, "MEDIUM", "LOW")
	r := w.request(gate.RequestInput{Image: "team/app@" + d})
	_, dec := w.get(r.ID)
	if r.State != store.GateDecided || dec.Decision != store.Approved || dec.Trigger != gate.TriggerRequest {
		t.Fatalf("request %+v decision %+v", r, dec)
	}
	// By tag, with newPush: the existing image is not the one waited for.
	r = w.request(gate.RequestInput{Image: "team/app:1.0", NewPush: true})
	if r.State != store.GatePending || r.Digest != "" {
		t.Fatalf("newPush request %+v", r)
	}
	w.now = w.now.Add(time.Minute)
	d2 := w.push("team/app", "1.0")
	w.scanned("team/app", d2, events.ScanInitialDone)
	if r, dec = w.get(r.ID); r.Digest != d2 || dec == nil || dec.Decision != store.Approved {
		t.Fatalf("newPush after the push: %+v %+v", r, dec)
	}
}

// TestFailClosed: failed and unsupported scans and timeouts are
// rejected with their reason, unless the policy approves them.
func TestFailClosed(t *testing.T) {
	w := newWorld(t)
	d := w.push("team/a", "1")
	r := w.request(gate.RequestInput{Image: "team/a:1"})
	w.failed("team/a", d, store.ScanFailed, events.ReasonInternal, "layer 2: unexpected EOF")
	_, dec := w.get(r.ID)
	if dec == nil || dec.Decision != store.Rejected || dec.Trigger != gate.TriggerScanFailed || !strings.Contains(dec.Reason, "layer 2: unexpected EOF") {
		t.Fatalf("failed scan: %+v", dec)
	}
	d = w.push("team/b", "1")
	r = w.request(gate.RequestInput{Image: "team/b:1"})
	w.failed("team/b", d, store.ScanUnsupported, events.ReasonUnsupported, "the image's operating system has no vulnerability data in Vigil")
	if _, dec = w.get(r.ID); dec == nil || dec.Decision != store.Rejected || dec.Trigger != gate.TriggerUnsupport {
		t.Fatalf("unsupported: %+v", dec)
	}
	// A policy may approve what cannot be scanned.
	if err := w.st.PutGatePolicy(context.Background(), store.GatePolicy{Name: "lenient", Repository: "team/c", OnUnsupported: gate.Approve,
		OnScanFailure: gate.Reject, OnTimeout: gate.Approve, CreatedAt: w.now, UpdatedAt: w.now}); err != nil {
		t.Fatal(err)
	}
	d = w.push("team/c", "1")
	r = w.request(gate.RequestInput{Image: "team/c:1"})
	w.failed("team/c", d, store.ScanUnsupported, events.ReasonUnsupported, "")
	if _, dec = w.get(r.ID); dec == nil || dec.Decision != store.Approved || dec.Policy != "lenient" {
		t.Fatalf("lenient unsupported: %+v", dec)
	}
	// Timeouts: the reconciler decides at the deadline, by the policy.
	late := w.request(gate.RequestInput{Image: "team/never:1", TimeoutSeconds: 60})
	lenient := w.request(gate.RequestInput{Image: "team/c:2", TimeoutSeconds: 60})
	w.now = w.now.Add(59 * time.Second)
	if err := w.g.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, _ := w.get(late.ID); r.State != store.GatePending {
		t.Fatalf("decided before its deadline: %+v", r)
	}
	w.now = w.now.Add(2 * time.Second)
	if err := w.g.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, dec = w.get(late.ID); dec == nil || dec.Decision != store.Rejected || dec.Trigger != gate.TriggerTimeout || !strings.Contains(dec.Reason, "team/never:1 to be pushed") {
		t.Fatalf("timeout: %+v", dec)
	}
	if _, dec = w.get(lenient.ID); dec == nil || dec.Decision != store.Approved || dec.Trigger != gate.TriggerTimeout {
		t.Fatalf("lenient timeout: %+v", dec)
	}
}

// TestReconcileWithoutEvents: with no event ever reaching the gate (the
// rule deleted), the reconciler still resolves and decides.
func TestReconcileWithoutEvents(t *testing.T) {
	w := newWorld(t)
	r := w.request(gate.RequestInput{Image: "team/app:1"})
	d := w.digest()
	if err := w.st.RecordPush(context.Background(), store.Push{Repository: "team/app", Digest: d, Tag: "1", At: w.now,
		MediaType: "application/vnd.oci.image.manifest.v1+json"}); err != nil {
		t.Fatal(err)
	}
	if err := w.st.UpdateImage(context.Background(), store.ImageUpdate{Repository: "team/app", Digest: d, ScanStatus: store.ScanComplete}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.g.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, dec := w.get(r.ID); dec == nil || dec.Decision != store.Approved {
		t.Fatalf("decision %+v", dec)
	}
}

// TestRedecideOnRescan: an approved image that a rescan finds failing is
// decided again, and the new decision supersedes the old; a rescan that
// changes nothing decides nothing.
func TestRedecideOnRescan(t *testing.T) {
	w := newWorld(t)
	d := w.push("team/app", "1")
	w.scanned("team/app", d, events.ScanInitialDone, "LOW")
	r := w.request(gate.RequestInput{Image: "team/app:1"})
	_, first := w.get(r.ID)
	if first.Decision != store.Approved {
		t.Fatalf("first %+v", first)
	}
	w.scanned("team/app", d, events.ScanRescanDone, "LOW")
	if n := len(w.decisionEvents()); n != 1 {
		t.Fatalf("%d decisions after a rescan that changed nothing", n)
	}
	w.scanned("team/app", d, events.ScanRescanDone, "LOW", "HIGH")
	_, second := w.get(r.ID)
	if second.Decision != store.Rejected || second.Supersedes != first.ID || second.Trigger != gate.TriggerChanged {
		t.Fatalf("second %+v", second)
	}
	evs := w.decisionEvents()
	if len(evs) != 2 || evs[1].Supersedes != first.ID {
		t.Errorf("events %+v", evs)
	}
	all, _, err := w.st.GateDecisions(context.Background(), store.GateDecisionQuery{RequestID: r.ID})
	if err != nil || len(all) != 2 {
		t.Errorf("decisions %+v %v", all, err)
	}
}

func TestRequestInvalid(t *testing.T) {
	w := newWorld(t)
	for _, in := range []gate.RequestInput{
		{Image: "", Pipeline: "p"},
		{Image: "team/app:1"},
		{Image: "team/app:1", Pipeline: "p", CallbackURL: "ftp://x"},
		{Image: "team/app:1", Pipeline: "p", TimeoutSeconds: 90000},
		{Image: "team/app@sha256:" + strings.Repeat("a", 64), Pipeline: "p", NewPush: true},
	} {
		if _, err := w.g.Request(context.Background(), in); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%+v: %v", in, err)
		}
	}
}

// brokenImages is a store whose image lookups fail.
type brokenImages struct{ store.Store }

var errBrokenStore = errors.New("store unavailable")

func (brokenImages) Image(context.Context, string, string) (*store.Image, error) {
	return nil, errBrokenStore
}

// TestStoreErrorIsNotSwallowed: when the store cannot say what an image
// is, the Scan event's handling fails, so that the bus delivers it
// again, rather than passing as handled.
func TestStoreErrorIsNotSwallowed(t *testing.T) {
	w := newWorld(t)
	d := w.digest()
	ev, err := w.em.ScanEvent(events.ScanInitialDone, "team/app", d, nil, store.Counts{})
	if err != nil {
		t.Fatal(err)
	}
	g := *w.g
	g.Store = brokenImages{w.st}
	if err := g.HandleEvent(context.Background(), ev.Envelope); !errors.Is(err, errBrokenStore) {
		t.Fatalf("HandleEvent: %v, want the store's error", err)
	}
	// An image that does not exist is no error: nothing to decide.
	if err := w.g.HandleEvent(context.Background(), ev.Envelope); err != nil {
		t.Fatalf("HandleEvent for an unknown image: %v", err)
	}
}

// TestPartialCoverage: a completed scan that could not assess the whole
// image (its release without advisories, a wanted file not read) is not
// approved on its findings unless the policy allows partial coverage.
func TestPartialCoverage(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		reason, message string
		allow           bool
		want            string
	}{
		{"UNSUPPORTED_OS", "alpine 3.20: no advisory feed (have v3.3–v3.11)", false, store.Rejected},
		{"INCOMPLETE_INVENTORY", "layer 0: /var/lib/dpkg/status: not read (dpkg): too large", false, store.Rejected},
		{"PARTIAL_COVERAGE", "npm: 55 packages, no feed", false, store.Rejected},
		{"UNSUPPORTED_OS", "alpine 3.20: no advisory feed (have v3.3–v3.11)", true, store.Approved},
		{"SUCCESSFUL", "", false, store.Approved},
	} {
		t.Run(fmt.Sprintf("%s/allow=%v", c.reason, c.allow), func(t *testing.T) {
			w := newWorld(t)
			if err := w.st.PutGatePolicy(ctx, store.GatePolicy{Name: "p", Repository: "team/a", MaxCritical: intp(0), AllowPartialCoverage: c.allow}); err != nil {
				t.Fatal(err)
			}
			d := w.digest()
			if err := w.st.RecordPush(ctx, store.Push{Repository: "team/a", Digest: d, Tag: "1", At: w.now, MediaType: "application/vnd.oci.image.manifest.v1+json"}); err != nil {
				t.Fatal(err)
			}
			if err := w.st.UpdateImage(ctx, store.ImageUpdate{Repository: "team/a", Digest: d, ScanStatus: store.ScanComplete,
				ScanReason: c.reason, ScanMessage: c.message, ScannedAt: w.now}, nil); err != nil {
				t.Fatal(err)
			}
			j, err := w.g.Judge(ctx, "team/a", d)
			if err != nil {
				t.Fatal(err)
			}
			if !j.Ready || j.Decision != c.want {
				t.Fatalf("decision %s (%s), want %s", j.Decision, j.Reason, c.want)
			}
			if c.reason != "SUCCESSFUL" && (!strings.Contains(j.Reason, c.reason) || !strings.Contains(j.Reason, c.message)) {
				t.Errorf("reason %q does not say why", j.Reason)
			}
		})
	}
}

func intp(n int) *int { return &n }
