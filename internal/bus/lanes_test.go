package bus_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/bus"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/store"
)

// isolationBound is the most the fast target's deliveries may take, from
// the event's write to the request's arrival, at the 99th percentile. It
// is generous (a delivery takes milliseconds here) and well below the
// slow target's 5 s, which a fast target queued behind it would show.
const isolationBound = 2 * time.Second

// TestSlowTargetIsolation: a target that takes 5 s to answer delays only
// its own deliveries; a fast target's arrive as quickly as when it is
// alone, while the slow one is still busy, and the slow one never has
// more requests at once than its lane allows.
func TestSlowTargetIsolation(t *testing.T) {
	alone := measureFast(t, false)
	withSlow := measureFast(t, true)
	t.Logf("fast target, 20 events 100 ms apart: alone p50 %s p99 %s; beside a target answering in 5 s: p50 %s p99 %s",
		alone[0], alone[1], withSlow[0], withSlow[1])
}

// measureFast returns the p50 and p99 of the fast target's delivery
// latency.
func measureFast(t *testing.T, slowNeighbour bool) [2]time.Duration {
	st := openStore(t)
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e events.Envelope
		json.NewDecoder(r.Body).Decode(&e)
		mu.Lock()
		if _, ok := arrived[e.ID]; !ok {
			arrived[e.ID] = time.Now()
		}
		mu.Unlock()
	}))
	t.Cleanup(fast.Close)
	var slowNow, slowMax, slowDone atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server notices when the client goes
		n := slowNow.Add(1)
		defer slowNow.Add(-1)
		for {
			m := slowMax.Load()
			if n <= m || slowMax.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			slowDone.Add(1)
		}
	}))
	t.Cleanup(slow.Close)
	putRule(t, st, store.EventRule{Name: "fast", EventPattern: scanPattern(),
		Targets: []store.Target{{ID: "w", Type: store.TargetWebhook, URL: fast.URL}}})
	if slowNeighbour {
		putRule(t, st, store.EventRule{Name: "slow", EventPattern: scanPattern(),
			Targets: []store.Target{{ID: "w", Type: store.TargetWebhook, URL: slow.URL}}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b := newBus(st, "a")
	go func() { b.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	const n = 20
	written := map[string]time.Time{}
	for i := range n {
		e := emit(t, st, events.InspectorScan, map[string]any{"i": i})
		written[e.ID] = time.Now()
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, "the fast target's deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrived) == n
	})
	var lat []time.Duration
	mu.Lock()
	for id, at := range written {
		lat = append(lat, arrived[id].Sub(at))
	}
	mu.Unlock()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[(len(lat)*99+99)/100-1]
	if p99 > isolationBound {
		t.Errorf("slow neighbour %v: fast target p99 %s (p50 %s), want under %s", slowNeighbour, p99, p50, isolationBound)
	}
	if slowNeighbour {
		if d := slowDone.Load(); d >= n {
			t.Errorf("the slow target answered all %d already: the test shows nothing", d)
		}
		if m := slowMax.Load(); m < 1 || m > 4 {
			t.Errorf("the slow target had %d requests at once, want 1 to 4 (its lane's bound)", m)
		}
	}
	return [2]time.Duration{p50, p99}
}

// TestTimeoutIsRetried: an attempt that gets no answer within the
// per-target timeout fails, and is retried by the retry policy until one
// is answered in time.
func TestTimeoutIsRetried(t *testing.T) {
	st := openStore(t)
	var calls atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if calls.Add(1) <= 2 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	putRule(t, st, store.EventRule{Name: "hook", EventPattern: scanPattern(),
		Targets: []store.Target{{ID: "w", Type: store.TargetWebhook, URL: rcv.URL}}})
	emit(t, st, events.InspectorScan, map[string]any{})
	b := newBus(st, "a")
	b.Timeout = 200 * time.Millisecond
	run(t, b)
	waitFor(t, "the delivery", func() bool {
		return len(deliveries(t, st, store.DeliveryQuery{State: store.DeliveryDelivered})) == 1
	})
	if d := deliveries(t, st, store.DeliveryQuery{})[0]; d.Attempts != 3 {
		t.Errorf("delivered after %d attempts, want 3 (two timed out)", d.Attempts)
	}
}

// TestRefusedWhenConnecting: a rule whose target names a host that
// resolves to a loopback address (stored without the API's check, as
// before the policy existed) is refused when connecting, under the
// default policy: the delivery is dead with the reason, and nothing
// reaches the address.
func TestRefusedWhenConnecting(t *testing.T) {
	st := openStore(t)
	rcv := newReceiver(t, "k")
	_, port, _ := net.SplitHostPort(rcv.Listener.Addr().String())
	putRule(t, st, store.EventRule{Name: "hook", EventPattern: scanPattern(),
		Targets: []store.Target{{ID: "w", Type: store.TargetWebhook, URL: "http://localhost:" + port + "/internal-admin", Secret: "k"}}})
	emit(t, st, events.InspectorScan, map[string]any{})
	b := newBus(st, "a")
	b.Egress = nil // the default policy
	run(t, b)
	waitFor(t, "the dead-letter list", func() bool { return len(deliveries(t, st, store.DeliveryQuery{State: store.DeliveryDead})) == 1 })
	d := deliveries(t, st, store.DeliveryQuery{})[0]
	if !strings.Contains(d.LastError, "127.0.0.1, a loopback address") || d.Attempts != 1 {
		t.Errorf("dead delivery: %d attempts, %q", d.Attempts, d.LastError)
	}
	if n := rcv.count(); n != 0 {
		t.Errorf("%d requests reached the loopback receiver", n)
	}
}

// TestCallbackRefusedWhenConnecting: a gate callback to a loopback
// address (a request stored before the policy existed) is refused when
// connecting, like a webhook.
func TestCallbackRefusedWhenConnecting(t *testing.T) {
	st := openStore(t)
	rcv := newReceiver(t, "request-token")
	e := emit(t, st, "Vigil Gate Decision", map[string]any{"decision": "Approved"})
	if err := st.AddDeliveries(context.Background(), []store.Delivery{{EventID: e.ID, Target: bus.CallbackPrefix + "r1"}}); err != nil {
		t.Fatal(err)
	}
	b := newBus(st, "a")
	b.Egress = nil // the default policy
	b.Callbacks = callbacks{url: rcv.URL + "/internal-admin", key: "request-token"}
	run(t, b)
	waitFor(t, "the dead-letter list", func() bool { return len(deliveries(t, st, store.DeliveryQuery{State: store.DeliveryDead})) == 1 })
	if d := deliveries(t, st, store.DeliveryQuery{})[0]; !strings.Contains(d.LastError, "127.0.0.1, a loopback address") {
		t.Errorf("dead callback: %q", d.LastError)
	}
	if n := rcv.count(); n != 0 {
		t.Errorf("%d callbacks reached the loopback receiver", n)
	}
}
