package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// clock brackets a call to the store's clock: times the store sets to
// now must fall within [lo, hi] (lo taken down to the millisecond, as
// the stores keep times).
type clock struct{ lo, hi time.Time }

func startClock() *clock { return &clock{lo: time.Now().Truncate(time.Millisecond)} }

func (c *clock) stop() *clock { c.hi = time.Now(); return c }

func (c *clock) check(t *testing.T, what string, got time.Time) {
	t.Helper()
	if got.Before(c.lo) || got.After(c.hi) {
		t.Errorf("%s %v, want now (between %v and %v)", what, got, c.lo, c.hi)
	}
}

func webhookRule(name string) store.EventRule {
	return store.EventRule{
		Name: name, Description: "scans of team/ to the hook",
		EventPattern: json.RawMessage(`{"source":["aws.inspector2"],"detail":{"repository-name":[{"prefix":"team/"}]}}`),
		State:        "ENABLED",
		Targets: []store.Target{
			{ID: "hook", Type: store.TargetWebhook, URL: "https://hooks.example.com/x", Secret: "s3cret",
				InputTransformer: &store.InputTransformer{InputPathsMap: map[string]string{"repo": "$.detail.repository-name"}, InputTemplate: `{"r":<repo>}`},
				RetryPolicy:      &store.RetryPolicy{MaximumEventAgeInSeconds: 600, MaximumRetryAttempts: ptr(0)}},
			{ID: "gate", Type: store.TargetGate},
			{ID: "log", Type: store.TargetLog},
		},
		ManagedBy: "api", CreatedAt: base, UpdatedAt: base,
	}
}

func testEventRules(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("put, get, replace, delete", func(t *testing.T) {
		s := open(t)
		r := webhookRule("hook-rule")
		must(t, s.PutEventRule(ctx, r))
		got, err := s.EventRule(ctx, r.Name)
		must(t, err)
		if d := diffJSON(got, r); d != "" {
			t.Errorf("stored rule:\n%s", d)
		}
		if got.Targets[0].Secret != "s3cret" {
			t.Errorf("secret %q not kept", got.Targets[0].Secret)
		}

		// Replacing keeps CreatedAt and takes the rest.
		r2 := r
		r2.Description, r2.State, r2.ManagedBy = "changed", "DISABLED", "config"
		r2.EventPattern = json.RawMessage(`{"source":["aws.ecr"]}`)
		r2.Targets = []store.Target{{ID: "only", Type: store.TargetLog}}
		r2.CreatedAt, r2.UpdatedAt = base.Add(time.Hour), base.Add(2*time.Hour)
		must(t, s.PutEventRule(ctx, r2))
		got, err = s.EventRule(ctx, r.Name)
		must(t, err)
		want := r2
		want.CreatedAt = base
		if d := diffJSON(got, want); d != "" {
			t.Errorf("replaced rule:\n%s", d)
		}
		if all := must2(s.EventRules(ctx)); len(all) != 1 {
			t.Errorf("%d rules after a replace, want 1", len(all))
		}

		must(t, s.DeleteEventRule(ctx, r.Name))
		_, err = s.EventRule(ctx, r.Name)
		wantErr(t, "deleted rule", err, store.ErrNotFound)
		wantErr(t, "delete twice", s.DeleteEventRule(ctx, r.Name), store.ErrNotFound)
		_, err = s.EventRule(ctx, "never")
		wantErr(t, "unknown rule", err, store.ErrNotFound)
	})

	t.Run("defaults", func(t *testing.T) {
		s := open(t)
		c := startClock()
		must(t, s.PutEventRule(ctx, store.EventRule{Name: "bare", EventPattern: json.RawMessage(` {"source":["x"]}`)}))
		c.stop()
		got, err := s.EventRule(ctx, "bare")
		must(t, err)
		if got.State != "ENABLED" {
			t.Errorf("state %q, want ENABLED", got.State)
		}
		if got.Targets == nil || len(got.Targets) != 0 {
			t.Errorf("targets %#v, want empty", got.Targets)
		}
		c.check(t, "created", got.CreatedAt)
		c.check(t, "updated", got.UpdatedAt)
		if string(got.EventPattern) != ` {"source":["x"]}` {
			t.Errorf("pattern %s, want the bytes written", got.EventPattern)
		}
		// A replace without times keeps CreatedAt and updates UpdatedAt.
		time.Sleep(5 * time.Millisecond)
		c2 := startClock()
		must(t, s.PutEventRule(ctx, store.EventRule{Name: "bare", EventPattern: json.RawMessage(`{}`)}))
		c2.stop()
		again, err := s.EventRule(ctx, "bare")
		must(t, err)
		if !again.CreatedAt.Equal(got.CreatedAt) {
			t.Errorf("created %v after a replace, want %v", again.CreatedAt, got.CreatedAt)
		}
		c2.check(t, "updated after replace", again.UpdatedAt)
	})

	t.Run("listed by name", func(t *testing.T) {
		s := open(t)
		names := []string{"b-rule", "A.rule", "a_rule", "0rule", "zz", strings.Repeat("m", 64)}
		for _, n := range names {
			must(t, s.PutEventRule(ctx, webhookRule(n)))
		}
		all, err := s.EventRules(ctx)
		must(t, err)
		var got []string
		for _, r := range all {
			got = append(got, r.Name)
		}
		want := slices.Clone(names)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("rules %v, want %v", got, want)
		}
	})

	t.Run("invalid rules are refused", func(t *testing.T) {
		s := open(t)
		bad := map[string]func(r *store.EventRule){
			"no name":             func(r *store.EventRule) { r.Name = "" },
			"name too long":       func(r *store.EventRule) { r.Name = strings.Repeat("n", 65) },
			"name with a space":   func(r *store.EventRule) { r.Name = "my rule" },
			"name with a slash":   func(r *store.EventRule) { r.Name = "a/b" },
			"pattern not JSON":    func(r *store.EventRule) { r.EventPattern = json.RawMessage(`{"source":`) },
			"pattern an array":    func(r *store.EventRule) { r.EventPattern = json.RawMessage(`[{"source":["x"]}]`) },
			"pattern null":        func(r *store.EventRule) { r.EventPattern = json.RawMessage(`null`) },
			"no pattern":          func(r *store.EventRule) { r.EventPattern = nil },
			"unknown state":       func(r *store.EventRule) { r.State = "PAUSED" },
			"target without id":   func(r *store.EventRule) { r.Targets[1].ID = "" },
			"duplicate target":    func(r *store.EventRule) { r.Targets[2].ID = r.Targets[0].ID },
			"unknown type":        func(r *store.EventRule) { r.Targets[2].Type = "lambda" },
			"webhook without url": func(r *store.EventRule) { r.Targets[0].URL = "" },
		}
		for name, change := range bad {
			r := webhookRule("rule-" + strings.ReplaceAll(name, " ", "-"))
			r.Targets = slices.Clone(r.Targets)
			change(&r)
			wantErr(t, name, s.PutEventRule(ctx, r), store.ErrInvalid)
		}
		if all := must2(s.EventRules(ctx)); len(all) != 0 {
			t.Errorf("refused rules were stored: %d", len(all))
		}
		// The refused replacement leaves the stored rule as it was.
		good := webhookRule("kept")
		must(t, s.PutEventRule(ctx, good))
		bad2 := good
		bad2.State = "OFF"
		wantErr(t, "bad replacement", s.PutEventRule(ctx, bad2), store.ErrInvalid)
		if got := must2(s.EventRule(ctx, "kept")); got.State != "ENABLED" {
			t.Errorf("state %q after a refused replacement", got.State)
		}
	})
}

// allDeliveries pages through deliveries, a few at a time, checking that
// they come newest first.
func allDeliveries(t *testing.T, s store.Store, q store.DeliveryQuery) []store.Delivery {
	t.Helper()
	q.Limit = 7
	var out []store.Delivery
	for {
		ds, err := s.Deliveries(context.Background(), q)
		if err != nil {
			t.Fatalf("deliveries: %v", err)
		}
		out = append(out, ds...)
		if len(ds) < q.Limit {
			break
		}
		q.Before = ds[len(ds)-1].ID
	}
	for i := 1; i < len(out); i++ {
		if out[i].ID >= out[i-1].ID {
			t.Fatalf("deliveries not newest first: %d after %d", out[i].ID, out[i-1].ID)
		}
	}
	return out
}

// appendEvents appends events id0…id(n-1), one a transaction, and returns
// them as stored.
func appendEvents(t *testing.T, s store.Store, prefix string, n int) []store.Event {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		e := event(fmt.Sprintf("%s%d", prefix, i), "T")
		e.Time = base.Add(time.Duration(i) * time.Second)
		must(t, s.AppendEvents(ctx, []store.Event{e}))
	}
	evs, err := s.Events(ctx, store.EventQuery{Limit: 1000})
	must(t, err)
	var out []store.Event
	for _, e := range evs {
		if strings.HasPrefix(e.ID, prefix) {
			out = append(out, e)
		}
	}
	if len(out) != n {
		t.Fatalf("%d events with prefix %s, want %d", len(out), prefix, n)
	}
	return out
}

func testDispatch(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	// perEvent makes one delivery per event, without EventSeq, so that
	// the store must fill it in.
	perEvent := func(seen *[]string) func([]store.Event) ([]store.Delivery, error) {
		return func(evs []store.Event) ([]store.Delivery, error) {
			var ds []store.Delivery
			for _, e := range evs {
				*seen = append(*seen, e.ID)
				ds = append(ds, store.Delivery{EventID: e.ID, Rule: "r", Target: "t"})
			}
			return ds, nil
		}
	}

	t.Run("no events", func(t *testing.T) {
		s := open(t)
		called := false
		n, err := s.DispatchEvents(ctx, 10, func([]store.Event) ([]store.Delivery, error) { called = true; return nil, nil })
		must(t, err)
		if n != 0 || called {
			t.Errorf("dispatch of nothing: %d events, callback called %v", n, called)
		}
	})

	t.Run("moves the cursor in order", func(t *testing.T) {
		s := open(t)
		evs := appendEvents(t, s, "e", 5)
		var seen []string
		var batches [][]store.Event
		fn := func(b []store.Event) ([]store.Delivery, error) {
			batches = append(batches, b)
			return perEvent(&seen)(b)
		}
		c := startClock()
		for _, want := range []int{3, 2, 0} {
			n, err := s.DispatchEvents(ctx, 3, fn)
			must(t, err)
			if n != want {
				t.Errorf("dispatch read %d events, want %d", n, want)
			}
		}
		c.stop()
		if !slices.Equal(seen, eventIDs(evs)) {
			t.Errorf("callback saw %v, want %v once each in order", seen, eventIDs(evs))
		}
		if len(batches) != 2 {
			t.Fatalf("%d callback calls, want 2 (none for an empty batch)", len(batches))
		}
		for i, e := range batches[0] {
			if e.Seq != evs[i].Seq || string(e.Envelope) != string(evs[i].Envelope) || !e.Time.Equal(evs[i].Time) || e.DetailType != "T" {
				t.Errorf("callback event %d: %+v, want %+v", i, e, evs[i])
			}
		}
		ds := allDeliveries(t, s, store.DeliveryQuery{})
		if len(ds) != len(evs) {
			t.Fatalf("%d deliveries, want %d", len(ds), len(evs))
		}
		bySeq := map[string]store.Event{}
		for _, e := range evs {
			bySeq[e.ID] = e
		}
		for _, d := range ds {
			e := bySeq[d.EventID]
			if d.EventSeq != e.Seq || string(d.Envelope) != string(e.Envelope) {
				t.Errorf("delivery of %s: seq %d envelope %s, want %d %s", d.EventID, d.EventSeq, d.Envelope, e.Seq, e.Envelope)
			}
			if d.State != store.DeliveryPending || d.Attempts != 0 || d.Rule != "r" || d.Target != "t" || d.Owner != "" {
				t.Errorf("delivery %+v", d)
			}
			if !d.WindowStart.Equal(e.Time) {
				t.Errorf("window start %v, want the event's time %v", d.WindowStart, e.Time)
			}
			c.check(t, "next attempt", d.NextAttemptAt)
			c.check(t, "created", d.CreatedAt)
			c.check(t, "updated", d.UpdatedAt)
		}

		// Events appended later are dispatched next, and only they.
		must(t, s.AppendEvents(ctx, []store.Event{event("late", "T")}))
		seen = nil
		n, err := s.DispatchEvents(ctx, 100, perEvent(&seen))
		must(t, err)
		if n != 1 || !slices.Equal(seen, []string{"late"}) {
			t.Errorf("after a new event: read %d, saw %v", n, seen)
		}
	})

	t.Run("a failing callback writes nothing", func(t *testing.T) {
		s := open(t)
		evs := appendEvents(t, s, "f", 4)
		boom := errors.New("boom")
		n, err := s.DispatchEvents(ctx, 10, func(b []store.Event) ([]store.Delivery, error) {
			return []store.Delivery{{EventID: b[0].ID, Target: "t"}}, boom
		})
		if !errors.Is(err, boom) || n != 0 {
			t.Errorf("dispatch with a failing callback: %d, %v; want 0, boom", n, err)
		}
		// A delivery that is not valid fails the batch the same way.
		for name, d := range map[string]store.Delivery{
			"no target":     {EventID: evs[0].ID},
			"no event":      {Target: "t"},
			"unknown event": {EventID: "nope", Target: "t"},
			"bad state":     {EventID: evs[0].ID, Target: "t", State: "lost"},
		} {
			_, err := s.DispatchEvents(ctx, 10, func(b []store.Event) ([]store.Delivery, error) {
				return []store.Delivery{{EventID: b[1].ID, Target: "ok"}, d}, nil
			})
			wantErr(t, name, err, store.ErrInvalid)
		}
		if ds := allDeliveries(t, s, store.DeliveryQuery{}); len(ds) != 0 {
			t.Errorf("failed dispatches wrote %d deliveries", len(ds))
		}
		// The cursor did not move: the next dispatch reads them all.
		var seen []string
		n, err = s.DispatchEvents(ctx, 10, perEvent(&seen))
		must(t, err)
		if n != len(evs) || !slices.Equal(seen, eventIDs(evs)) {
			t.Errorf("after failures: read %d, saw %v; want every event", n, seen)
		}
	})

	t.Run("deliveries fn makes", func(t *testing.T) {
		s := open(t)
		old := appendEvents(t, s, "old", 1)[0]
		_, err := s.DispatchEvents(ctx, 10, func([]store.Event) ([]store.Delivery, error) { return nil, nil })
		must(t, err)
		evs := appendEvents(t, s, "new", 2)
		next := base.Add(48 * time.Hour)
		n, err := s.DispatchEvents(ctx, 10, func(b []store.Event) ([]store.Delivery, error) {
			return []store.Delivery{
				// EventSeq is the store's to set, whatever fn says.
				{EventID: b[0].ID, EventSeq: 999999, Rule: "r", Target: "a", NextAttemptAt: next, WindowStart: base.Add(time.Hour)},
				{EventID: b[0].ID, Rule: "r", Target: "b"},
				// An event of an earlier batch may be named too.
				{EventID: old.ID, Rule: "r2", Target: "c"},
			}, nil
		})
		must(t, err)
		if n != 2 {
			t.Errorf("read %d, want 2", n)
		}
		ds := allDeliveries(t, s, store.DeliveryQuery{})
		if len(ds) != 3 {
			t.Fatalf("%d deliveries, want 3", len(ds))
		}
		a, b, c := ds[2], ds[1], ds[0]
		if a.Target != "a" || a.EventSeq != evs[0].Seq || !a.NextAttemptAt.Equal(next) || !a.WindowStart.Equal(base.Add(time.Hour)) {
			t.Errorf("delivery a %+v", a)
		}
		if b.Target != "b" || b.EventSeq != evs[0].Seq || !b.WindowStart.Equal(evs[0].Time) {
			t.Errorf("delivery b %+v", b)
		}
		if c.Target != "c" || c.EventID != old.ID || c.EventSeq != old.Seq || string(c.Envelope) != string(old.Envelope) {
			t.Errorf("delivery c %+v", c)
		}
	})

	t.Run("concurrent dispatchers deliver each event once", func(t *testing.T) {
		s := open(t)
		dispatchConcurrently(t, []store.Store{s, s, s, s, s})
	})
}

// dispatchConcurrently appends events from several writers while
// dispatchers on the stores move the cursor, then checks that every
// event was passed to exactly one callback and has exactly one delivery.
func dispatchConcurrently(t *testing.T, stores []store.Store) {
	t.Helper()
	ctx := context.Background()
	const writers, each = 3, 30
	var mu sync.Mutex
	seen := map[string]int{}
	fn := func(evs []store.Event) ([]store.Delivery, error) {
		mu.Lock()
		defer mu.Unlock()
		var ds []store.Delivery
		for _, e := range evs {
			seen[e.ID]++
			ds = append(ds, store.Delivery{EventID: e.ID, Rule: "r", Target: "t"})
		}
		return ds, nil
	}
	var wg, dispatchers sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := stores[w%len(stores)].AppendEvents(ctx, []store.Event{event(fmt.Sprintf("cw%d-%d", w, i), "C")}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for _, s := range stores {
		dispatchers.Add(1)
		go func() {
			defer dispatchers.Done()
			for {
				n, err := s.DispatchEvents(ctx, 4, fn)
				if err != nil {
					t.Errorf("dispatch: %v", err)
					return
				}
				if n == 0 {
					select {
					case <-done:
						return
					default:
						time.Sleep(time.Millisecond)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done) // dispatchers stop at their next empty batch
	dispatchers.Wait()
	evs, err := stores[0].Events(ctx, store.EventQuery{Limit: 1000})
	must(t, err)
	written := 0
	for _, e := range evs {
		if strings.HasPrefix(e.ID, "cw") {
			written++
		}
	}
	if written != writers*each {
		t.Fatalf("%d events written, want %d", written, writers*each)
	}
	per := map[string]int{}
	for _, d := range allDeliveries(t, stores[0], store.DeliveryQuery{}) {
		per[d.EventID]++
	}
	for _, e := range evs {
		if seen[e.ID] != 1 || per[e.ID] != 1 {
			t.Errorf("event %s: dispatched %d times, %d deliveries; want 1 and 1", e.ID, seen[e.ID], per[e.ID])
		}
	}
}

func testDeliveries(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("add, get, list", func(t *testing.T) {
		s := open(t)
		evs := appendEvents(t, s, "e", 3)
		c := startClock()
		must(t, s.AddDeliveries(ctx, []store.Delivery{
			{EventID: evs[0].ID, Rule: "a", Target: "t1"},
			{EventID: evs[1].ID, Rule: "b", Target: "t1", State: store.DeliveryDead, Attempts: 3, LastError: "gone", LastStatus: 410},
			{EventID: evs[0].ID, Rule: "a", Target: "t2", State: store.DeliveryDelivered, DeliveredAt: base.Add(time.Minute)},
			{EventID: evs[2].ID, Target: "callback/req-1", CreatedAt: base, UpdatedAt: base.Add(time.Second)},
		}))
		c.stop()
		all := allDeliveries(t, s, store.DeliveryQuery{})
		if len(all) != 4 {
			t.Fatalf("%d deliveries, want 4", len(all))
		}
		first, err := s.Delivery(ctx, all[3].ID)
		must(t, err)
		if first.EventID != evs[0].ID || first.EventSeq != evs[0].Seq || first.Target != "t1" || first.State != store.DeliveryPending ||
			string(first.Envelope) != string(evs[0].Envelope) || !first.WindowStart.Equal(evs[0].Time) {
			t.Errorf("delivery %+v", first)
		}
		c.check(t, "created", first.CreatedAt)
		c.check(t, "next attempt", first.NextAttemptAt)
		dead := all[2]
		if dead.State != store.DeliveryDead || dead.Attempts != 3 || dead.LastError != "gone" || dead.LastStatus != 410 {
			t.Errorf("dead delivery %+v", dead)
		}
		if all[1].State != store.DeliveryDelivered || !all[1].DeliveredAt.Equal(base.Add(time.Minute)) {
			t.Errorf("delivered delivery %+v", all[1])
		}
		if cb := all[0]; cb.Rule != "" || !cb.CreatedAt.Equal(base) || !cb.UpdatedAt.Equal(base.Add(time.Second)) {
			t.Errorf("callback delivery %+v", cb)
		}
		_, err = s.Delivery(ctx, all[0].ID+100)
		wantErr(t, "unknown delivery", err, store.ErrNotFound)

		ids := func(ds []store.Delivery) []int64 {
			var out []int64
			for _, d := range ds {
				out = append(out, d.ID)
			}
			return out
		}
		for _, c := range []struct {
			q    store.DeliveryQuery
			want []store.Delivery
		}{
			{store.DeliveryQuery{State: store.DeliveryPending}, []store.Delivery{all[0], all[3]}},
			{store.DeliveryQuery{State: store.DeliveryDead}, []store.Delivery{all[2]}},
			{store.DeliveryQuery{Rule: "a"}, []store.Delivery{all[1], all[3]}},
			{store.DeliveryQuery{Rule: "a", State: store.DeliveryDelivered}, []store.Delivery{all[1]}},
			{store.DeliveryQuery{EventID: evs[0].ID}, []store.Delivery{all[1], all[3]}},
			{store.DeliveryQuery{Before: all[1].ID}, []store.Delivery{all[2], all[3]}},
			{store.DeliveryQuery{Limit: 2}, []store.Delivery{all[0], all[1]}},
			{store.DeliveryQuery{Rule: "none"}, nil},
		} {
			got, err := s.Deliveries(ctx, c.q)
			must(t, err)
			if !slices.Equal(ids(got), ids(c.want)) {
				t.Errorf("deliveries %+v: %v, want %v", c.q, ids(got), ids(c.want))
			}
			for _, d := range got {
				if len(d.Envelope) == 0 {
					t.Errorf("delivery %d listed without its event", d.ID)
				}
			}
		}
		_, err = s.Deliveries(ctx, store.DeliveryQuery{State: "lost"})
		wantErr(t, "unknown state", err, store.ErrInvalid)
	})

	t.Run("invalid deliveries add nothing", func(t *testing.T) {
		s := open(t)
		evs := appendEvents(t, s, "e", 1)
		ok := store.Delivery{EventID: evs[0].ID, Target: "t"}
		for name, d := range map[string]store.Delivery{
			"no event id":      {Target: "t"},
			"no target":        {EventID: evs[0].ID},
			"unknown event":    {EventID: "missing", Target: "t"},
			"unknown state":    {EventID: evs[0].ID, Target: "t", State: "sent"},
			"negative attempt": {EventID: evs[0].ID, Target: "t", Attempts: -1},
		} {
			wantErr(t, name, s.AddDeliveries(ctx, []store.Delivery{ok, d}), store.ErrInvalid)
		}
		if ds := allDeliveries(t, s, store.DeliveryQuery{}); len(ds) != 0 {
			t.Errorf("refused batches added %d deliveries", len(ds))
		}
		must(t, s.AddDeliveries(ctx, nil))
	})

	t.Run("claim, finish", func(t *testing.T) {
		s := open(t)
		evs := appendEvents(t, s, "e", 1)
		at := func(d time.Duration) store.Delivery {
			return store.Delivery{EventID: evs[0].ID, Rule: "r", Target: fmt.Sprint(d), NextAttemptAt: base.Add(d)}
		}
		future := store.Delivery{EventID: evs[0].ID, Rule: "r", Target: "future", NextAttemptAt: time.Now().Add(time.Hour)}
		dead := store.Delivery{EventID: evs[0].ID, Rule: "r", Target: "dead", State: store.DeliveryDead, NextAttemptAt: base}
		must(t, s.AddDeliveries(ctx, []store.Delivery{at(3 * time.Minute), at(time.Minute), future, at(2 * time.Minute), at(time.Minute), dead}))
		all := allDeliveries(t, s, store.DeliveryQuery{})
		byTarget := map[string][]int64{}
		for _, d := range slices.Backward(all) {
			byTarget[d.Target] = append(byTarget[d.Target], d.ID)
		}

		for name, f := range map[string]func() error{
			"no owner": func() error { _, err := s.ClaimDeliveries(ctx, "", time.Minute, 1); return err },
			"no lease": func() error { _, err := s.ClaimDeliveries(ctx, "alice", 0, 1); return err },
			"no count": func() error { _, err := s.ClaimDeliveries(ctx, "alice", time.Minute, 0); return err },
		} {
			wantErr(t, name, f(), store.ErrInvalid)
		}

		c := startClock()
		a, err := s.ClaimDeliveries(ctx, "alice", time.Minute, 2)
		must(t, err)
		c.stop()
		// Oldest due first, then by id: the two due at base+1m.
		if len(a) != 2 || a[0].ID != byTarget["1m0s"][0] || a[1].ID != byTarget["1m0s"][1] {
			t.Fatalf("alice claimed %+v, want the two due first", a)
		}
		for _, d := range a {
			if d.Owner != "alice" || string(d.Envelope) != string(evs[0].Envelope) || d.EventSeq != evs[0].Seq {
				t.Errorf("claimed %+v", d)
			}
			if d.LeaseUntil.Before(c.lo.Add(time.Minute)) || d.LeaseUntil.After(c.hi.Add(time.Minute)) {
				t.Errorf("lease until %v, want a minute from now", d.LeaseUntil)
			}
		}
		b, err := s.ClaimDeliveries(ctx, "bob", time.Minute, 10)
		must(t, err)
		if len(b) != 2 || b[0].Target != "2m0s" || b[1].Target != "3m0s" {
			t.Fatalf("bob claimed %+v, want the other two due, not alice's, the future or the dead one", b)
		}
		if none, err := s.ClaimDeliveries(ctx, "carol", time.Minute, 10); err != nil || len(none) != 0 {
			t.Errorf("carol claimed %+v, %v; want nothing", none, err)
		}

		out := store.DeliveryOutcome{State: store.DeliveryPending, NextAttemptAt: time.Now().Add(time.Hour).Truncate(time.Millisecond), Error: "503 Service Unavailable", Status: 503}
		wantErr(t, "finish by another owner", s.FinishDelivery(ctx, a[0].ID, "bob", out), store.ErrNotFound)
		wantErr(t, "finish an unknown delivery", s.FinishDelivery(ctx, all[0].ID+100, "alice", out), store.ErrNotFound)
		wantErr(t, "finish without owner", s.FinishDelivery(ctx, a[0].ID, "", out), store.ErrInvalid)
		wantErr(t, "finish with an unknown state", s.FinishDelivery(ctx, a[0].ID, "alice", store.DeliveryOutcome{State: "ok"}), store.ErrInvalid)
		wantErr(t, "finish an unclaimed one", s.FinishDelivery(ctx, byTarget["future"][0], "alice", out), store.ErrNotFound)
		if d := must2(s.Delivery(ctx, a[0].ID)); d.Attempts != 0 || d.Owner != "alice" {
			t.Errorf("refused finishes changed the delivery: %+v", d)
		}

		c = startClock()
		must(t, s.FinishDelivery(ctx, a[0].ID, "alice", out))
		c.stop()
		d := must2(s.Delivery(ctx, a[0].ID))
		if d.State != store.DeliveryPending || d.Attempts != 1 || !d.NextAttemptAt.Equal(out.NextAttemptAt) ||
			d.LastError != out.Error || d.LastStatus != 503 || d.Owner != "" || !d.LeaseUntil.IsZero() || !d.DeliveredAt.IsZero() {
			t.Errorf("after a failed attempt: %+v", d)
		}
		c.check(t, "updated", d.UpdatedAt)
		wantErr(t, "finish twice", s.FinishDelivery(ctx, a[0].ID, "alice", out), store.ErrNotFound)

		c = startClock()
		must(t, s.FinishDelivery(ctx, a[1].ID, "alice", store.DeliveryOutcome{State: store.DeliveryDelivered, Status: 204}))
		c.stop()
		d = must2(s.Delivery(ctx, a[1].ID))
		if d.State != store.DeliveryDelivered || d.Attempts != 1 || d.LastStatus != 204 || d.Owner != "" {
			t.Errorf("after delivery: %+v", d)
		}
		c.check(t, "delivered", d.DeliveredAt)
		wantErr(t, "finish a delivered one", s.FinishDelivery(ctx, a[1].ID, "alice", out), store.ErrNotFound)

		must(t, s.FinishDelivery(ctx, b[0].ID, "bob", store.DeliveryOutcome{State: store.DeliveryDead, Error: "410 Gone", Status: 410}))
		if d := must2(s.Delivery(ctx, b[0].ID)); d.State != store.DeliveryDead || d.Attempts != 1 || d.LastError != "410 Gone" {
			t.Errorf("after a permanent failure: %+v", d)
		}
		// A retry without a time is due at once, and counts its attempts.
		must(t, s.FinishDelivery(ctx, b[1].ID, "bob", store.DeliveryOutcome{State: store.DeliveryPending, Error: "timeout"}))
		again, err := s.ClaimDeliveries(ctx, "carol", time.Minute, 10)
		must(t, err)
		if len(again) != 1 || again[0].ID != b[1].ID || again[0].Attempts != 1 {
			t.Fatalf("carol claimed %+v, want bob's retry", again)
		}
		must(t, s.FinishDelivery(ctx, b[1].ID, "carol", store.DeliveryOutcome{State: store.DeliveryPending, Error: "timeout"}))
		if d := must2(s.Delivery(ctx, b[1].ID)); d.Attempts != 2 {
			t.Errorf("attempts %d after two, want 2", d.Attempts)
		}
	})

	t.Run("an expired lease is claimed again", func(t *testing.T) {
		s := open(t)
		evs := appendEvents(t, s, "e", 1)
		must(t, s.AddDeliveries(ctx, []store.Delivery{{EventID: evs[0].ID, Target: "t"}}))
		a, err := s.ClaimDeliveries(ctx, "alice", 50*time.Millisecond, 5)
		must(t, err)
		if len(a) != 1 {
			t.Fatalf("alice claimed %d", len(a))
		}
		if b, err := s.ClaimDeliveries(ctx, "bob", time.Minute, 5); err != nil || len(b) != 0 {
			t.Fatalf("bob claimed a held delivery: %+v, %v", b, err)
		}
		time.Sleep(80 * time.Millisecond)
		b, err := s.ClaimDeliveries(ctx, "bob", time.Minute, 5)
		must(t, err)
		if len(b) != 1 || b[0].ID != a[0].ID || b[0].Owner != "bob" {
			t.Fatalf("bob claimed %+v, want alice's expired delivery", b)
		}
		ok := store.DeliveryOutcome{State: store.DeliveryDelivered}
		wantErr(t, "finish after losing the lease", s.FinishDelivery(ctx, a[0].ID, "alice", ok), store.ErrNotFound)
		must(t, s.FinishDelivery(ctx, b[0].ID, "bob", ok))
	})

	t.Run("concurrent claimers never share a delivery", func(t *testing.T) {
		s := open(t)
		claimConcurrently(t, []store.Store{s, s, s, s, s, s})
	})

	t.Run("redrive", func(t *testing.T) {
		s := open(t)
		evs := appendEvents(t, s, "e", 1)
		mk := func(rule, target, state string) store.Delivery {
			return store.Delivery{EventID: evs[0].ID, Rule: rule, Target: target, State: state, Attempts: 4,
				LastError: "boom", LastStatus: 500, NextAttemptAt: base, WindowStart: base}
		}
		must(t, s.AddDeliveries(ctx, []store.Delivery{
			mk("a", "dead-a1", store.DeliveryDead), mk("a", "dead-a2", store.DeliveryDead), mk("b", "dead-b", store.DeliveryDead),
			mk("a", "pending-a", store.DeliveryPending), mk("a", "done-a", store.DeliveryDelivered),
		}))
		id := map[string]int64{}
		for _, d := range allDeliveries(t, s, store.DeliveryQuery{}) {
			id[d.Target] = d.ID
		}
		redrive := func(ids []int64, rule string, want int) {
			t.Helper()
			n, err := s.RedriveDeliveries(ctx, ids, rule)
			must(t, err)
			if n != want {
				t.Errorf("redrive %v %q: moved %d, want %d", ids, rule, n, want)
			}
		}
		c := startClock()
		redrive([]int64{id["dead-a1"], id["pending-a"], id["done-a"], id["dead-a1"], 9999}, "", 1)
		c.stop()
		redrive([]int64{id["dead-b"]}, "a", 0) // ids and rule together: both must hold
		redrive(nil, "b", 1)
		redrive(nil, "", 1) // dead-a2, the last dead one
		redrive(nil, "", 0)
		d := must2(s.Delivery(ctx, id["dead-a1"]))
		if d.State != store.DeliveryPending || d.Attempts != 0 || d.Owner != "" || d.LastError != "boom" {
			t.Errorf("redriven %+v", d)
		}
		c.check(t, "next attempt after redrive", d.NextAttemptAt)
		c.check(t, "window start after redrive", d.WindowStart)
		for _, name := range []string{"pending-a", "done-a"} {
			d := must2(s.Delivery(ctx, id[name]))
			if d.Attempts != 4 || !d.WindowStart.Equal(base) {
				t.Errorf("%s was moved by a redrive: %+v", name, d)
			}
		}
		if ds := must2(s.Deliveries(ctx, store.DeliveryQuery{State: store.DeliveryDead})); len(ds) != 0 {
			t.Errorf("%d dead deliveries after redriving all", len(ds))
		}
		// Redriven, they are claimable again.
		got, err := s.ClaimDeliveries(ctx, "w", time.Minute, 10)
		must(t, err)
		if len(got) != 4 { // three redriven and the pending one
			t.Errorf("claimed %d after the redrive, want 4", len(got))
		}
	})
}

// claimConcurrently adds due deliveries and claims them from the stores
// at once until none is left: each must be claimed exactly once.
func claimConcurrently(t *testing.T, stores []store.Store) {
	t.Helper()
	ctx := context.Background()
	s := stores[0]
	must(t, s.AppendEvents(ctx, []store.Event{event("claimed", "T")}))
	const n = 60
	var ds []store.Delivery
	for i := range n {
		ds = append(ds, store.Delivery{EventID: "claimed", Target: fmt.Sprint(i), NextAttemptAt: base.Add(time.Duration(i%7) * time.Second)})
	}
	must(t, s.AddDeliveries(ctx, ds))
	// Every pending delivery is due, those of earlier tests included.
	want := len(allDeliveries(t, s, store.DeliveryQuery{State: store.DeliveryPending}))
	if want < n {
		t.Fatalf("%d pending deliveries, want at least %d", want, n)
	}
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("worker-%d", w)
			for {
				got, err := s.ClaimDeliveries(ctx, owner, time.Minute, 4)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					if prev, ok := claimed[d.ID]; ok {
						t.Errorf("delivery %d claimed by %s and %s", d.ID, prev, owner)
					}
					if d.Owner != owner {
						t.Errorf("delivery %d returned to %s with owner %s", d.ID, owner, d.Owner)
					}
					claimed[d.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != want {
		t.Errorf("%d deliveries claimed, want %d", len(claimed), want)
	}
	for id, owner := range claimed {
		if d := must2(s.Delivery(ctx, id)); d.Owner != owner {
			t.Errorf("delivery %d held by %q, claimed by %s", id, d.Owner, owner)
		}
	}
}
