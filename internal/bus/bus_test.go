package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/bus"
	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// receiver is a webhook endpoint that records what it is sent and answers
// with the status its mode gives.
type receiver struct {
	*httptest.Server
	secret string
	status atomic.Int32 // what to answer
	mu     sync.Mutex
	got    []received
}

type received struct {
	eventID, deliveryID, attempt, contentType string
	body                                      []byte
	signatureOK                               bool
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{secret: secret}
	r.status.Store(200)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		err := bus.Verify(r.secret, req.Header.Get(bus.HeaderSignature), body, time.Now(), 5*time.Minute)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Get(bus.HeaderEventID), req.Header.Get(bus.HeaderDeliveryID),
			req.Header.Get(bus.HeaderAttempt), req.Header.Get("Content-Type"), body, err == nil})
		r.mu.Unlock()
		w.WriteHeader(int(r.status.Load()))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// succeeded are the events answered 2xx, in order.
func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// newBus makes a bus whose egress policy allows the test receivers'
// address, 127.0.0.1, which the default policy refuses.
func newBus(st store.Store, owner string) *bus.Bus {
	return &bus.Bus{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Owner: owner, Lease: 5 * time.Second,
		Poll: 10 * time.Millisecond, BackoffBase: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		Egress: allowLoopback()}
}

func allowLoopback() *egress.Policy {
	p, err := egress.New(egress.Options{Allow: []string{"127.0.0.1/32"}})
	if err != nil {
		panic(err)
	}
	return p
}

func run(t *testing.T, b *bus.Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func emit(t *testing.T, st store.Store, detailType string, detail any) store.Event {
	t.Helper()
	e, err := events.Emitter{}.Event(events.SourceInspector, detailType, []string{"arn:aws:ecr:local:000000000000:repository/team/app"}, detail)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(context.Background(), []store.Event{e}); err != nil {
		t.Fatal(err)
	}
	return e
}

func putRule(t *testing.T, st store.Store, r store.EventRule) {
	t.Helper()
	if r.State == "" {
		r.State = "ENABLED"
	}
	now := time.Now().UTC()
	r.CreatedAt, r.UpdatedAt = now, now
	if err := bus.Validate(&r); err != nil {
		t.Fatal(err)
	}
	if err := st.PutEventRule(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func scanPattern() json.RawMessage {
	return json.RawMessage(`{"source":["aws.inspector2"],"detail-type":["Inspector2 Scan"]}`)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func deliveries(t *testing.T, st store.Store, q store.DeliveryQuery) []store.Delivery {
	t.Helper()
	q.Limit = 1000
	ds, err := st.Deliveries(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestWebhookRecovers: a receiver that is down for a while gets every
// event, signed, once it is back; attempts back off and then stop.
func TestWebhookRecovers(t *testing.T) {
	st := openStore(t)
	rcv := newReceiver(t, "s3cret")
	rcv.status.Store(503)
	putRule(t, st, store.EventRule{Name: "hook", EventPattern: scanPattern(),
		Targets: []store.Target{{ID: "w", Type: store.TargetWebhook, URL: rcv.URL + "/hook", Secret: "s3cret"}}})
	var sent []store.Event
	for i := 0; i < 3; i++ {
		sent = append(sent, emit(t, st, events.InspectorScan, map[string]any{"n": i}))
	}
	emit(t, st, events.InspectorFinding, map[string]any{"not": "matched"})
	run(t, newBus(st, "a"))
	waitFor(t, "failing attempts", func() bool { return rcv.count() >= 9 })
	rcv.status.Store(204)
	waitFor(t, "all delivered", func() bool {
		return len(deliveries(t, st, store.DeliveryQuery{State: store.DeliveryDelivered})) == 3
	})
	byEvent := map[string][]received{}
	for _, r := range rcv.received() {
		if !r.signatureOK {
			t.Errorf("a delivery of %s was not signed correctly", r.eventID)
		}
		if r.contentType != "application/json" {
			t.Errorf("content type %q", r.contentType)
		}
		byEvent[r.eventID] = append(byEvent[r.eventID], r)
	}
	for _, e := range sent {
		rs := byEvent[e.ID]
		if len(rs) < 2 {
			t.Fatalf("event %s: %d attempts, want the failures and the success", e.ID, len(rs))
		}
		last := rs[len(rs)-1]
		var env events.Envelope
		if err := json.Unmarshal(last.body, &env); err != nil || env.ID != e.ID {
			t.Errorf("event %s: body %s", e.ID, last.body)
		}
		if last.attempt != fmt.Sprint(len(rs)) {
			t.Errorf("event %s: attempt header %s on attempt %d", e.ID, last.attempt, len(rs))
		}
	}
	if len(byEvent) != 3 {
		t.Errorf("events received: %d, want the 3 matching ones", len(byEvent))
	}
	for _, d := range deliveries(t, st, store.DeliveryQuery{}) {
		if d.State != store.DeliveryDelivered || d.Attempts < 2 || d.LastError == "" && d.Attempts > 1 && d.LastStatus != 200 {
			t.Errorf("delivery %+v", d)
		}
	}
	// Nothing more arrives once delivered.
	n := rcv.count()
	time.Sleep(200 * time.Millisecond)
	if rcv.count() != n {
		t.Errorf("%d more requests after every delivery succeeded", rcv.count()-n)
	}
}

// TestDeadLetterAndRedrive: a receiver that never recovers ends in the
// dead-letter list after the retry policy's attempts; a redrive, once it
// is fixed, delivers.
func TestDeadLetterAndRedrive(t *testing.T) {
	st := openStore(t)
	rcv := newReceiver(t, "k")
	rcv.status.Store(500)
	two := 2
	putRule(t, st, store.EventRule{Name: "hook", EventPattern: scanPattern(),
		Targets: []store.Target{{ID: "w", Type: store.TargetWebhook, URL: rcv.URL, Secret: "k",
			RetryPolicy: &store.RetryPolicy{MaximumRetryAttempts: &two}}}})
	e := emit(t, st, events.InspectorScan, map[string]any{})
	run(t, newBus(st, "a"))
	waitFor(t, "the dead-letter list", func() bool { return len(deliveries(t, st, store.DeliveryQuery{State: store.DeliveryDead})) == 1 })
	dead := deliveries(t, st, store.DeliveryQuery{State: store.DeliveryDead})[0]
	if dead.Attempts != 3 || dead.LastStatus != 500 || !strings.Contains(dead.LastError, "gave up after 3 attempts") || dead.EventID != e.ID {
		t.Errorf("dead delivery %+v", dead)
	}
	if n := rcv.count(); n != 3 {
		t.Errorf("%d attempts reached the receiver, want 1 + 2 retries", n)
	}
	rcv.status.Store(200)
	n, err := st.RedriveDeliveries(context.Background(), []int64{dead.ID}, "")
	if err != nil || n != 1 {
		t.Fatalf("redrive: %d, %v", n, err)
	}
	waitFor(t, "the redriven delivery", func() bool {
		d, err := st.Delivery(context.Background(), dead.ID)
		return err == nil && d.State == store.DeliveryDelivered
	})
	got := rcv.received()
	if last := got[len(got)-1]; last.eventID != e.ID || !last.signatureOK {
		t.Errorf("redriven delivery %+v", last)
	}
}

// TestPermanentFailure: a receiver that refuses the event (a 4xx other
// than 408 and 429) is not asked again.
func TestPermanentFailure(t *testing.T) {
	st := openStore(t)
	rcv := newReceiver(t, "k")
	rcv.status.Store(422)
	putRule(t, st, store.EventRule{Name: "hook", EventPattern: scanPattern(),
		Targets: []store.Target{{ID: "w", Type: store.TargetWebhook, URL: rcv.URL, Secret: "k"}}})
	emit(t, st, events.InspectorScan, map[string]any{})
	run(t, newBus(st, "a"))
	waitFor(t, "the dead-letter list", func() bool { return len(deliveries(t, st, store.DeliveryQuery{State: store.DeliveryDead})) == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := rcv.count(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// TestDispatch: each event goes to each target of each enabled rule whose
// pattern matches, and only there; the input transformer shapes what a
// webhook receives.
func TestDispatch(t *testing.T) {
	st := openStore(t)
	rcv := newReceiver(t, "k")
	gate := &recordingGate{}
	putRule(t, st, store.EventRule{Name: "critical", EventPattern: json.RawMessage(
		`{"detail-type":["Inspector2 Scan"],"detail":{"finding-severity-counts":{"CRITICAL":[{"numeric":[">",0]}]}}}`),
		Targets: []store.Target{
			{ID: "w", Type: store.TargetWebhook, URL: rcv.URL, Secret: "k", InputTransformer: &store.InputTransformer{
				InputPathsMap: map[string]string{"n": "$.detail.finding-severity-counts.CRITICAL", "repo": "$.detail.repository-name"},
				InputTemplate: `{"text": "<n> critical findings in <repo>", "rule": <aws.events.rule-name>}`}},
			{ID: "g", Type: store.TargetGate},
		}})
	putRule(t, st, store.EventRule{Name: "off", State: "DISABLED", EventPattern: scanPattern(),
		Targets: []store.Target{{ID: "g", Type: store.TargetGate}}})
	putRule(t, st, store.EventRule{Name: "findings", EventPattern: json.RawMessage(`{"detail-type":["Inspector2 Finding"]}`),
		Targets: []store.Target{{ID: "log", Type: store.TargetLog}}})
	crit := emit(t, st, events.InspectorScan, map[string]any{"repository-name": "team/app", "finding-severity-counts": map[string]int{"CRITICAL": 2}})
	emit(t, st, events.InspectorScan, map[string]any{"finding-severity-counts": map[string]int{"CRITICAL": 0}})
	fnd := emit(t, st, events.InspectorFinding, map[string]any{})
	b := newBus(st, "a")
	b.Gate = gate
	run(t, b)
	waitFor(t, "three deliveries", func() bool { return len(deliveries(t, st, store.DeliveryQuery{State: store.DeliveryDelivered})) == 3 })
	var got []string
	for _, d := range deliveries(t, st, store.DeliveryQuery{}) {
		got = append(got, d.Rule+"/"+d.Target+" "+d.EventID)
	}
	sort.Strings(got)
	want := []string{"critical/g " + crit.ID, "critical/w " + crit.ID, "findings/log " + fnd.ID}
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("deliveries %v, want %v", got, want)
	}
	rs := rcv.received()
	if len(rs) != 1 || string(rs[0].body) != `{"text": "2 critical findings in team/app", "rule": "critical"}` || !rs[0].signatureOK {
		t.Errorf("webhook got %+v", rs)
	}
	if ids := gate.ids(); len(ids) != 1 || ids[0] != crit.ID {
		t.Errorf("gate got %v", ids)
	}
}

type recordingGate struct {
	mu   sync.Mutex
	seen []string
	fail atomic.Int32 // fail this many times first
}

func (g *recordingGate) HandleEvent(_ context.Context, env []byte) error {
	if g.fail.Add(-1) >= 0 {
		return fmt.Errorf("not now")
	}
	var e events.Envelope
	json.Unmarshal(env, &e)
	g.mu.Lock()
	g.seen = append(g.seen, e.ID)
	g.mu.Unlock()
	return nil
}

func (g *recordingGate) ids() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.seen...)
}

// TestSharedBus: two processes' buses on one store deliver every event,
// and the gate target is retried when it fails.
func TestSharedBus(t *testing.T) {
	st := openStore(t)
	gate := &recordingGate{}
	gate.fail.Store(3)
	putRule(t, st, store.EventRule{Name: "g", EventPattern: scanPattern(), Targets: []store.Target{{ID: "g", Type: store.TargetGate}}})
	a, b := newBus(st, "a"), newBus(st, "b")
	a.Gate, b.Gate = gate, gate
	run(t, a)
	run(t, b)
	want := map[string]bool{}
	for i := 0; i < 50; i++ {
		want[emit(t, st, events.InspectorScan, map[string]any{"i": i}).ID] = true
	}
	waitFor(t, "every event at the gate", func() bool {
		n := 0
		seen := map[string]bool{}
		for _, id := range gate.ids() {
			if want[id] && !seen[id] {
				seen[id] = true
				n++
			}
		}
		return n == len(want)
	})
	ds := deliveries(t, st, store.DeliveryQuery{})
	if len(ds) != len(want) {
		t.Errorf("%d deliveries for %d events", len(ds), len(want))
	}
}

// TestCallback: a gate callback delivery is POSTed to the URL the
// pipeline gave, signed with the key the gate returns.
func TestCallback(t *testing.T) {
	st := openStore(t)
	rcv := newReceiver(t, "request-token")
	e := emit(t, st, "Vigil Gate Decision", map[string]any{"decision": "Approved"})
	if err := st.AddDeliveries(context.Background(), []store.Delivery{{EventID: e.ID, Target: bus.CallbackPrefix + "r1"}}); err != nil {
		t.Fatal(err)
	}
	b := newBus(st, "a")
	b.Callbacks = callbacks{url: rcv.URL, key: "request-token"}
	run(t, b)
	waitFor(t, "the callback", func() bool { return rcv.count() == 1 })
	r := rcv.received()[0]
	if !r.signatureOK || !strings.Contains(string(r.body), `"requestId":"r1"`) || !strings.Contains(string(r.body), e.ID) {
		t.Errorf("callback %+v %s", r, r.body)
	}
}

type callbacks struct{ url, key string }

func (c callbacks) Callback(_ context.Context, id string, env []byte) (string, []byte, string, error) {
	body, _ := json.Marshal(map[string]any{"requestId": id, "event": json.RawMessage(env)})
	return c.url, body, c.key, nil
}
