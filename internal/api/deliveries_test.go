package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/store"
)

// seed is a delivery to store: of rule to its target, left pending or
// made dead by a failed attempt.
type seed struct {
	rule, target string
	dead         bool
}

// seedDeliveries stores an event for each seed and a delivery of it, as
// the bus would: AddDeliveries, then, for the dead ones, a claim and a
// failed attempt that ends in the dead-letter list. It returns the
// deliveries as stored, in the order of the seeds.
func seedDeliveries(t *testing.T, h *harness, seeds []seed) []store.Delivery {
	t.Helper()
	ctx := context.Background()
	em := events.Emitter{Account: apitest.Account, Region: apitest.Region, Now: func() time.Time { return apitest.Now }}
	evs := make([]store.Event, len(seeds))
	for i := range seeds {
		ev, err := em.Event("vigil.test", "Test Event", nil, map[string]any{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = ev
	}
	if err := h.Store.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	add := func(dead bool) {
		var ds []store.Delivery
		for i, s := range seeds {
			if s.dead == dead {
				target := s.target
				if target == "" {
					target = "hook"
				}
				ds = append(ds, store.Delivery{EventID: evs[i].ID, Rule: s.rule, Target: target})
			}
		}
		if len(ds) == 0 {
			return
		}
		if err := h.Store.AddDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	add(true)
	toKill := map[string]bool{}
	for i, s := range seeds {
		toKill[evs[i].ID] = s.dead
	}
	// The claim takes every delivery due, those of earlier seeds too;
	// only this call's are finished (the others stay as they were: a
	// claim changes no visible field).
	const owner = "apitest-seed"
	claimed, err := h.Store.ClaimDeliveries(ctx, owner, time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range claimed {
		if !toKill[d.EventID] {
			continue
		}
		if err := h.Store.FinishDelivery(ctx, d.ID, owner, store.DeliveryOutcome{State: store.DeliveryDead, Error: "HTTP 500 from the webhook", Status: 500}); err != nil {
			t.Fatal(err)
		}
	}
	add(false)
	out := make([]store.Delivery, len(seeds))
	for i, ev := range evs {
		ds, err := h.Store.Deliveries(ctx, store.DeliveryQuery{EventID: ev.ID, Limit: 10})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries of seeded event %d: %+v, %v", i, ds, err)
		}
		if want := map[bool]string{true: store.DeliveryDead, false: store.DeliveryPending}[seeds[i].dead]; ds[0].State != want {
			t.Fatalf("seeded delivery %d is %s, want %s", i, ds[0].State, want)
		}
		out[i] = ds[0]
	}
	return out
}

// delivery is a delivery as answered.
type delivery struct {
	ID         int64           `json:"id"`
	EventID    string          `json:"eventId"`
	Rule       string          `json:"rule"`
	Target     string          `json:"target"`
	State      string          `json:"state"`
	Attempts   int             `json:"attempts"`
	LastError  string          `json:"lastError"`
	LastStatus int             `json:"lastStatus"`
	Event      json.RawMessage `json:"event"`
}

type deliveryPage struct {
	Deliveries []delivery `json:"deliveries"`
	NextBefore int64      `json:"nextBefore"`
}

func deliveryIDs(ds []delivery) []int64 {
	var ids []int64
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

// TestListDeliveries checks the filters of the delivery list, the
// dead-letter list among them, and its paging.
func TestListDeliveries(t *testing.T) {
	h := newHarness(t)
	var seeds []seed
	for range 5 {
		seeds = append(seeds, seed{rule: "pager", dead: true})
	}
	seeds = append(seeds, seed{rule: "audit", target: "archive", dead: true}, seed{rule: "audit", target: "archive", dead: true})
	for range 3 {
		seeds = append(seeds, seed{rule: "pager"})
	}
	stored := seedDeliveries(t, h, seeds)
	idsWhere := func(keep func(seed) bool) []int64 {
		var ids []int64
		for i, s := range seeds {
			if keep(s) {
				ids = append(ids, stored[i].ID)
			}
		}
		slices.Sort(ids)
		slices.Reverse(ids) // newest first
		return ids
	}
	list := func(query string) deliveryPage {
		t.Helper()
		var p deliveryPage
		h.call(readOnly, "GET", "/api/v1/deliveries"+query, nil).expect(t, http.StatusOK).decode(t, &p)
		return p
	}

	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"", idsWhere(func(seed) bool { return true })},
		{"?state=dead", idsWhere(func(s seed) bool { return s.dead })},
		{"?state=pending", idsWhere(func(s seed) bool { return !s.dead })},
		{"?state=delivered", nil},
		{"?rule=audit", idsWhere(func(s seed) bool { return s.rule == "audit" })},
		{"?state=dead&rule=pager", idsWhere(func(s seed) bool { return s.dead && s.rule == "pager" })},
		{"?state=pending&rule=audit", nil},
		{"?eventId=" + stored[6].EventID, []int64{stored[6].ID}},
		{"?rule=nobody", nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			p := list(tc.query)
			if got := deliveryIDs(p.Deliveries); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if p.NextBefore != 0 {
				t.Errorf("nextBefore %d on a page that is not full", p.NextBefore)
			}
		})
	}

	// What the dead-letter list says of a dead delivery.
	for _, d := range list("?state=dead").Deliveries {
		if d.State != "dead" || d.Attempts != 1 || d.LastStatus != 500 || d.LastError != "HTTP 500 from the webhook" || d.Rule == "" || d.Target == "" {
			t.Errorf("dead delivery %+v", d)
		}
	}
	for _, d := range list("?state=pending").Deliveries {
		if d.State != "pending" || d.Attempts != 0 || d.LastError != "" {
			t.Errorf("pending delivery %+v", d)
		}
	}

	// Pages of 3 over the 7 dead ones: 3, 3, 1, each older than the last.
	dead := idsWhere(func(s seed) bool { return s.dead })
	var all []int64
	query := "?state=dead&maxResults=3"
	for page := 0; ; page++ {
		if page > 3 {
			t.Fatal("paging does not end")
		}
		p := list(query)
		ids := deliveryIDs(p.Deliveries)
		all = append(all, ids...)
		if len(ids) == 3 {
			if p.NextBefore != ids[2] {
				t.Errorf("page %d: nextBefore %d, want the last id %d", page, p.NextBefore, ids[2])
			}
		} else if p.NextBefore != 0 {
			t.Errorf("page %d (%d deliveries): nextBefore %d", page, len(ids), p.NextBefore)
		}
		if p.NextBefore == 0 {
			break
		}
		query = "?state=dead&maxResults=3&before=" + strconv.FormatInt(p.NextBefore, 10)
	}
	if !slices.Equal(all, dead) {
		t.Errorf("pages gave %v, want %v", all, dead)
	}

	for _, q := range []string{"?state=DEAD", "?state=lost", "?before=-1", "?before=x", "?maxResults=0", "?maxResults=1001", "?status=dead", "?rule=a&rule=b"} {
		h.call(readOnly, "GET", "/api/v1/deliveries"+q, nil).expect(t, http.StatusBadRequest)
	}
}

// TestGetDelivery answers one delivery with its event.
func TestGetDelivery(t *testing.T) {
	h := newHarness(t)
	ds := seedDeliveries(t, h, []seed{{rule: "pager", dead: true}, {rule: "audit", target: "archive"}})
	for i, want := range ds {
		var got delivery
		h.call(readOnly, "GET", "/api/v1/deliveries/"+strconv.FormatInt(want.ID, 10), nil).expect(t, http.StatusOK).decode(t, &got)
		if got.ID != want.ID || got.EventID != want.EventID || got.Rule != want.Rule || got.Target != want.Target || got.State != want.State {
			t.Errorf("delivery %d answered %+v, stored %+v", i, got, want)
		}
		var ev struct {
			ID         string `json:"id"`
			Source     string `json:"source"`
			DetailType string `json:"detail-type"`
			Detail     struct{ N int }
		}
		if err := json.Unmarshal(got.Event, &ev); err != nil {
			t.Fatalf("event %s: %v", got.Event, err)
		}
		if ev.ID != want.EventID || ev.Source != "vigil.test" || ev.DetailType != "Test Event" || ev.Detail.N != i {
			t.Errorf("delivery %d carries the event %s", i, got.Event)
		}
	}
	for _, id := range []string{"999999", "0", "abc", "1.5"} {
		h.call(readOnly, "GET", "/api/v1/deliveries/"+id, nil).expect(t, http.StatusNotFound)
	}
	h.call(readOnly, "GET", "/api/v1/deliveries/"+strconv.FormatInt(ds[0].ID, 10)+"?full=1", nil).expect(t, http.StatusBadRequest)
}

// TestRedrive puts dead deliveries back by ids, by rule and all of them,
// and checks the store after each.
func TestRedrive(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ds := seedDeliveries(t, h, []seed{
		{rule: "pager", dead: true}, {rule: "pager", dead: true}, {rule: "pager", dead: true}, // 0-2
		{rule: "audit", target: "archive", dead: true}, {rule: "audit", target: "archive", dead: true}, // 3-4
		{rule: "pager"}, // 5, pending
	})
	states := func() []string {
		t.Helper()
		var out []string
		for _, d := range ds {
			got, err := h.Store.Delivery(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got.State)
			if got.State == store.DeliveryPending && got.Attempts != 0 {
				t.Errorf("delivery %d is pending with %d attempts", got.ID, got.Attempts)
			}
		}
		return out
	}
	const p, d = store.DeliveryPending, store.DeliveryDead
	for _, step := range []struct {
		name   string
		body   any
		n      int
		states []string
	}{
		// Only dead ones move: the pending 5 is not counted.
		{"by ids", map[string]any{"ids": []int64{ds[0].ID, ds[2].ID, ds[5].ID}}, 2, []string{p, d, p, d, d, p}},
		{"the same ids again", map[string]any{"ids": []int64{ds[0].ID, ds[2].ID}}, 0, []string{p, d, p, d, d, p}},
		{"unknown ids", map[string]any{"ids": []int64{999999}}, 0, []string{p, d, p, d, d, p}},
		{"by rule", map[string]any{"rule": "audit"}, 2, []string{p, d, p, p, p, p}},
		{"by a rule with none dead", map[string]any{"rule": "audit"}, 0, []string{p, d, p, p, p, p}},
		{"all", map[string]any{"all": true}, 1, []string{p, p, p, p, p, p}},
	} {
		t.Run(step.name, func(t *testing.T) {
			wakes := h.Wakes()
			var res struct {
				Redriven *int `json:"redriven"`
			}
			h.call(admin, "POST", "/api/v1/deliveries/redrive", step.body).expect(t, http.StatusOK).decode(t, &res)
			if res.Redriven == nil {
				t.Errorf("no redriven count: want %d", step.n)
			} else if *res.Redriven != step.n {
				t.Errorf("redriven %d, want %d", *res.Redriven, step.n)
			}
			if got := states(); !slices.Equal(got, step.states) {
				t.Errorf("states %v, want %v", got, step.states)
			}
			if h.Wakes() != wakes+1 {
				t.Errorf("Wake called %d times, want once", h.Wakes()-wakes)
			}
		})
	}

	// The dead-letter list is empty now, and a redrive must say what.
	var page deliveryPage
	h.call(readOnly, "GET", "/api/v1/deliveries?state=dead", nil).expect(t, http.StatusOK).decode(t, &page)
	if len(page.Deliveries) != 0 {
		t.Errorf("dead after redriving all: %v", deliveryIDs(page.Deliveries))
	}
	seedDeliveries(t, h, []seed{{rule: "pager", dead: true}})
	wakes := h.Wakes()
	tooMany := make([]int64, 1001)
	for i := range tooMany {
		tooMany[i] = int64(i + 1)
	}
	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"empty object", map[string]any{}, "ids, a rule, or all"},
		{"all false", map[string]any{"all": false, "ids": []int64{}, "rule": ""}, "ids, a rule, or all"},
		{"no body", "", "empty"},
		{"too many ids", map[string]any{"ids": tooMany}, "1000"},
		{"unknown field", map[string]any{"id": 1}, `"id"`},
		{"ids not numbers", `{"ids":["1"]}`, "ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(admin, "POST", "/api/v1/deliveries/redrive", tc.body).expect(t, http.StatusBadRequest)
			if _, msg := r.apiError(t); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not say %q", msg, tc.msg)
			}
		})
	}
	if h.Wakes() != wakes {
		t.Error("a refused redrive woke the background work")
	}
	h.call(readOnly, "POST", "/api/v1/deliveries/redrive", map[string]any{"all": true}).expect(t, http.StatusForbidden)
	h.call(pipeline, "POST", "/api/v1/deliveries/redrive", map[string]any{"all": true}).expect(t, http.StatusForbidden)
	h.call(readOnly, "GET", "/api/v1/deliveries?state=dead", nil).expect(t, http.StatusOK).decode(t, &page)
	if len(page.Deliveries) != 1 {
		t.Errorf("after refused redrives %d dead deliveries, want 1", len(page.Deliveries))
	}
}
