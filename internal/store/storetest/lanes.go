package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// testDeliveryLanes: a claim by lane takes no more of a lane than its
// bound leaves room for and no more of a rule than the rule's bound,
// passes over full lanes and rules, serves idle lanes first and then the
// lane held least, the longest due first within a lane, and holds what it
// takes as ClaimDeliveries does.
func testDeliveryLanes(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	s := open(t)
	evs := appendEvents(t, s, "lane", 1)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }
	var ds []store.Delivery
	for i := range 10 {
		ds = append(ds, store.Delivery{EventID: evs[0].ID, Rule: "r", Target: "slow", NextAttemptAt: at(i)})
	}
	for i := range 3 {
		ds = append(ds, store.Delivery{EventID: evs[0].ID, Rule: "r", Target: "fast", NextAttemptAt: at(20 + i)})
	}
	for i := range 5 {
		ds = append(ds, store.Delivery{EventID: evs[0].ID, Target: fmt.Sprintf("callback/%d", i), NextAttemptAt: at(30 + i)})
	}
	ds = append(ds,
		store.Delivery{EventID: evs[0].ID, Rule: "r", Target: "fast", NextAttemptAt: time.Now().Add(time.Hour)},
		store.Delivery{EventID: evs[0].ID, Rule: "r", Target: "fast", State: store.DeliveryDead, NextAttemptAt: at(1)})
	must(t, s.AddDeliveries(ctx, ds))
	slow := store.DeliveryLane{Rule: "r", Target: "slow"}
	count := func(got []store.Delivery) map[string]int {
		m := map[string]int{}
		for _, d := range got {
			k := d.Rule + "/" + d.Target
			if d.Rule == "" {
				k = "callback"
			}
			m[k]++
		}
		return m
	}

	got, err := s.ClaimDeliveryLanes(ctx, store.LaneClaim{Owner: "a", Lease: time.Minute, N: 100, PerLane: 4,
		Held: map[store.DeliveryLane]int{slow: 2}, PerRule: map[string]int{"": 2}})
	must(t, err)
	if c := count(got); len(got) != 7 || c["r/slow"] != 2 || c["r/fast"] != 3 || c["callback"] != 2 {
		t.Fatalf("first claim: %v, want 2 slow (4 less the 2 held), 3 fast and 2 callbacks", c)
	}
	for i, d := range got {
		if d.Owner != "a" || len(d.Envelope) == 0 {
			t.Errorf("claimed %+v", d)
		}
		if i > 0 && d.NextAttemptAt.Before(got[i-1].NextAttemptAt) {
			t.Errorf("claims out of order: %v after %v", d.NextAttemptAt, got[i-1].NextAttemptAt)
		}
	}
	if !got[0].NextAttemptAt.Equal(at(0)) || !got[1].NextAttemptAt.Equal(at(1)) {
		t.Errorf("the slow lane's oldest were not taken first: %v, %v", got[0].NextAttemptAt, got[1].NextAttemptAt)
	}
	// Full lanes and rules are passed over; N bounds the rest.
	got, err = s.ClaimDeliveryLanes(ctx, store.LaneClaim{Owner: "b", Lease: time.Minute, N: 2, PerLane: 4,
		Held: map[store.DeliveryLane]int{slow: 4}, PerRule: map[string]int{"": 0}})
	must(t, err)
	if len(got) != 0 {
		t.Errorf("claim with the slow lane full and no room for callbacks: %v", count(got))
	}
	got, err = s.ClaimDeliveryLanes(ctx, store.LaneClaim{Owner: "b", Lease: time.Minute, N: 2})
	must(t, err)
	if c := count(got); len(got) != 2 || c["r/slow"] != 1 || c["callback"] != 1 {
		t.Errorf("unbounded claim of 2: %v, want one of each of the two lanes due first (slow, a callback)", c)
	}
	// A lane whose backlog fills every candidate row does not keep the
	// others from the next claim, once it is full.
	var backlog []store.Delivery
	for i := range 300 {
		backlog = append(backlog, store.Delivery{EventID: evs[0].ID, Rule: "big", Target: "t", NextAttemptAt: at(-1000 + i)})
	}
	backlog = append(backlog, store.Delivery{EventID: evs[0].ID, Rule: "other", Target: "t", NextAttemptAt: at(-1)})
	must(t, s.AddDeliveries(ctx, backlog))
	big := store.DeliveryLane{Rule: "big", Target: "t"}
	held := map[store.DeliveryLane]int{slow: 4}
	var other []store.Delivery
	for range 3 {
		got, err = s.ClaimDeliveryLanes(ctx, store.LaneClaim{Owner: "c", Lease: time.Minute, N: 2, PerLane: 1, Held: held, PerRule: map[string]int{"": 0}})
		must(t, err)
		for _, d := range got {
			l := store.DeliveryLane{Rule: d.Rule, Target: d.Target}
			held[l]++
			if held[l] > 1 {
				t.Errorf("lane %v: %d held, bound 1", l, held[l])
			}
			if d.Rule == "other" {
				other = append(other, d)
			}
		}
	}
	if held[big] != 1 || len(other) != 1 {
		t.Errorf("after claims with the backlog: big %d, other %d; want 1 and 1", held[big], len(other))
	}
	// A lane the claimer holds nothing of goes first, however long the
	// others' backlogs.
	must(t, s.AddDeliveries(ctx, []store.Delivery{{EventID: evs[0].ID, Rule: "r", Target: "idle", NextAttemptAt: at(100)}}))
	got, err = s.ClaimDeliveryLanes(ctx, store.LaneClaim{Owner: "d", Lease: time.Minute, N: 2, PerLane: 8,
		Held: map[store.DeliveryLane]int{slow: 3, big: 5}, PerRule: map[string]int{"": 0}})
	must(t, err)
	if c := count(got); len(got) != 2 || c["r/idle"] != 1 || c["big/t"] != 1 {
		t.Errorf("claim of 2 with 3 slow and 5 big held: %v, want the idle lane's, then the longest due", c)
	}
	for _, bad := range []store.LaneClaim{{Lease: time.Minute, N: 1}, {Owner: "a", N: 1}, {Owner: "a", Lease: time.Minute}, {Owner: "a", Lease: time.Minute, N: 1, PerLane: -1}} {
		_, err := s.ClaimDeliveryLanes(ctx, bad)
		wantErr(t, fmt.Sprintf("claim %+v", bad), err, store.ErrInvalid)
	}
}

// claimLanesConcurrently: claimers in several processes, each bounding
// its lanes, never take one delivery twice and together take them all.
func claimLanesConcurrently(t *testing.T, stores []store.Store) {
	ctx := context.Background()
	s := stores[0]
	must(t, s.AppendEvents(ctx, []store.Event{event("laned", "T")}))
	var ds []store.Delivery
	for i := range 60 {
		ds = append(ds, store.Delivery{EventID: "laned", Rule: "lanes", Target: fmt.Sprint(i % 3), NextAttemptAt: base.Add(time.Duration(i) * time.Millisecond)})
	}
	must(t, s.AddDeliveries(ctx, ds))
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("lanes-%d", w)
			for {
				got, err := s.ClaimDeliveryLanes(ctx, store.LaneClaim{Owner: owner, Lease: time.Minute, N: 4, PerLane: 2})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				per := map[string]int{}
				mu.Lock()
				for _, d := range got {
					if prev, ok := claimed[d.ID]; ok {
						t.Errorf("delivery %d claimed by %s and %s", d.ID, prev, owner)
					}
					claimed[d.ID] = owner
					if per[d.Target]++; per[d.Target] > 2 {
						t.Errorf("%s took %d of lane %s in one claim, bound 2", owner, per[d.Target], d.Target)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, d := range allDeliveries(t, s, store.DeliveryQuery{Rule: "lanes"}) {
		if claimed[d.ID] == "" {
			t.Errorf("delivery %d never claimed", d.ID)
		}
		n++
	}
	if n != 60 {
		t.Errorf("%d deliveries of the rule, want 60", n)
	}
}
