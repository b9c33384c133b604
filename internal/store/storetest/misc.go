package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// claimAll claims jobs with one goroutine per store handle until none is
// left, failing on any job claimed twice; it returns the ids claimed.
func claimAll(t *testing.T, stores []store.Store, want int) map[int64]string {
	t.Helper()
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for w, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("worker-%d", w)
			for {
				j, err := s.ClaimJob(context.Background(), owner, time.Minute)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				if prev, ok := claimed[j.ID]; ok {
					t.Errorf("job %d claimed by %s and %s", j.ID, prev, owner)
				}
				claimed[j.ID] = owner
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return claimed
}

func testJobs(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	job := func(kind, d string) store.Job {
		return store.Job{Kind: kind, Repository: "team/app", Digest: dig(d)}
	}

	t.Run("enqueue de-duplicates queued jobs", func(t *testing.T) {
		s := open(t)
		for _, c := range []struct {
			j    store.Job
			want bool
		}{
			{job(store.JobScan, "31"), true}, {job(store.JobScan, "31"), false},
			{job(store.JobRescan, "31"), true}, {job(store.JobScan, "32"), true},
		} {
			added, err := s.EnqueueJob(ctx, c.j)
			must(t, err)
			if added != c.want {
				t.Errorf("enqueue %s %s: added %v, want %v", c.j.Kind, c.j.Digest, added, c.want)
			}
		}
		j, err := s.ClaimJob(ctx, "w", time.Minute)
		must(t, err)
		if j == nil || j.Kind != store.JobScan || j.Digest != dig("31") {
			t.Fatalf("claimed %+v, want the oldest job", j)
		}
		// Running, it no longer blocks a new one.
		added, err := s.EnqueueJob(ctx, job(store.JobScan, "31"))
		must(t, err)
		if !added {
			t.Error("a job for an image whose job is running was not added")
		}
		_, err = s.EnqueueJob(ctx, store.Job{Repository: "x", Digest: "y"})
		wantErr(t, "job without kind", err, store.ErrInvalid)
	})

	t.Run("claim, extend, finish", func(t *testing.T) {
		s := open(t)
		for _, d := range []string{"41", "42", "43"} {
			_, err := s.EnqueueJob(ctx, job(store.JobScan, d))
			must(t, err)
		}
		before := time.Now().Add(-time.Second)
		a, err := s.ClaimJob(ctx, "alice", time.Minute)
		must(t, err)
		b, err := s.ClaimJob(ctx, "bob", time.Minute)
		must(t, err)
		if a == nil || b == nil || a.Digest != dig("41") || b.Digest != dig("42") || a.ID >= b.ID {
			t.Fatalf("claims %+v %+v, want the jobs in order", a, b)
		}
		if a.State != "running" || a.Owner != "alice" || a.Attempts != 1 || a.LeaseUntil.Before(before.Add(time.Minute)) || a.CreatedAt.IsZero() {
			t.Errorf("claimed job %+v", a)
		}
		must(t, s.ExtendJob(ctx, a.ID, "alice", time.Hour))
		running, err := s.Jobs(ctx, "running", 10)
		must(t, err)
		if len(running) != 2 || running[0].ID != a.ID || running[0].LeaseUntil.Before(before.Add(time.Hour)) {
			t.Errorf("running %+v", running)
		}
		wantErr(t, "extend by another owner", s.ExtendJob(ctx, a.ID, "bob", time.Hour), store.ErrNotFound)
		wantErr(t, "finish by another owner", s.FinishJob(ctx, a.ID, "bob", ""), store.ErrNotFound)
		must(t, s.FinishJob(ctx, a.ID, "alice", ""))
		must(t, s.FinishJob(ctx, b.ID, "bob", "layer 3: unexpected EOF"))
		wantErr(t, "finish twice", s.FinishJob(ctx, a.ID, "alice", ""), store.ErrNotFound)
		wantErr(t, "extend a finished job", s.ExtendJob(ctx, a.ID, "alice", time.Hour), store.ErrNotFound)
		done, err := s.Jobs(ctx, "done", 10)
		must(t, err)
		failed, err := s.Jobs(ctx, "failed", 10)
		must(t, err)
		if len(done) != 1 || done[0].ID != a.ID || len(failed) != 1 || failed[0].ID != b.ID || failed[0].Failure != "layer 3: unexpected EOF" {
			t.Errorf("done %+v failed %+v", done, failed)
		}
		queued, err := s.Jobs(ctx, "queued", 10)
		must(t, err)
		if len(queued) != 1 || queued[0].Digest != dig("43") {
			t.Errorf("queued %+v", queued)
		}
		_, err = s.Jobs(ctx, "lost", 10)
		wantErr(t, "unknown state", err, store.ErrInvalid)
		_, err = s.ClaimJob(ctx, "alice", 0)
		wantErr(t, "claim without a lease", err, store.ErrInvalid)
		c, err := s.ClaimJob(ctx, "carol", time.Minute)
		must(t, err)
		none, err := s.ClaimJob(ctx, "dave", time.Minute)
		must(t, err)
		if c == nil || none != nil {
			t.Errorf("claims %+v then %+v, want the last job then none", c, none)
		}
	})

	t.Run("an expired lease is claimed again", func(t *testing.T) {
		s := open(t)
		_, err := s.EnqueueJob(ctx, job(store.JobScan, "51"))
		must(t, err)
		a, err := s.ClaimJob(ctx, "alice", 50*time.Millisecond)
		must(t, err)
		if a == nil {
			t.Fatal("nothing to claim")
		}
		if j, err := s.ClaimJob(ctx, "bob", time.Minute); err != nil || j != nil {
			t.Fatalf("claimed a leased job: %+v, %v", j, err)
		}
		time.Sleep(80 * time.Millisecond)
		b, err := s.ClaimJob(ctx, "bob", time.Minute)
		must(t, err)
		if b == nil || b.ID != a.ID || b.Owner != "bob" || b.Attempts != 2 {
			t.Fatalf("reclaimed %+v, want job %d for bob, attempt 2", b, a.ID)
		}
		wantErr(t, "extend after losing the lease", s.ExtendJob(ctx, a.ID, "alice", time.Minute), store.ErrNotFound)
		wantErr(t, "finish after losing the lease", s.FinishJob(ctx, a.ID, "alice", ""), store.ErrNotFound)
		must(t, s.FinishJob(ctx, b.ID, "bob", ""))
	})

	t.Run("a job handed back is claimed again at once", func(t *testing.T) {
		s := open(t)
		_, err := s.EnqueueJob(ctx, job(store.JobScan, "52"))
		must(t, err)
		a, err := s.ClaimJob(ctx, "alice", time.Hour)
		must(t, err)
		if a == nil {
			t.Fatal("nothing to claim")
		}
		must(t, s.ExtendJob(ctx, a.ID, "alice", 0))
		b, err := s.ClaimJob(ctx, "bob", time.Minute)
		must(t, err)
		if b == nil || b.ID != a.ID || b.Owner != "bob" {
			t.Fatalf("claimed %+v after alice handed job %d back, want it for bob", b, a.ID)
		}
		wantErr(t, "hand back a job held by another", s.ExtendJob(ctx, a.ID, "alice", 0), store.ErrNotFound)
		wantErr(t, "negative lease", s.ExtendJob(ctx, a.ID, "bob", -time.Second), store.ErrInvalid)
		must(t, s.FinishJob(ctx, b.ID, "bob", ""))
	})

	t.Run("concurrent claimers each get a job once", func(t *testing.T) {
		s := open(t)
		const n = 40
		for i := range n {
			_, err := s.EnqueueJob(ctx, job(store.JobScan, fmt.Sprintf("%02x", i)))
			must(t, err)
		}
		got := claimAll(t, []store.Store{s, s, s, s, s, s}, n)
		if len(got) != n {
			t.Errorf("%d jobs claimed, want %d", len(got), n)
		}
	})
}

func testBlobs(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	data, err := s.GetLayer(ctx, "sha256:aa/v1")
	if err != nil || data != nil {
		t.Errorf("absent layer: %q, %v; want nil, nil", data, err)
	}
	must(t, s.PutLayer(ctx, "sha256:aa/v1", []byte(`{"packages":[]}`)))
	must(t, s.PutLayer(ctx, "sha256:aa/v1", []byte(`{"packages":[1]}`)))
	must(t, s.PutLayer(ctx, "sha256:bb/v1", nil))
	if data, err := s.GetLayer(ctx, "sha256:aa/v1"); err != nil || string(data) != `{"packages":[1]}` {
		t.Errorf("layer %q, %v", data, err)
	}
	if data, err := s.GetLayer(ctx, "sha256:bb/v1"); err != nil || data == nil || len(data) != 0 {
		t.Errorf("empty layer %q, %v; want empty, not absent", data, err)
	}

	_, err = s.Inventory(ctx, "inv1")
	wantErr(t, "absent inventory", err, store.ErrNotFound)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	must(t, s.PutInventory(ctx, "inv1", big))
	must(t, s.PutInventory(ctx, "inv1", big))
	if data, err := s.Inventory(ctx, "inv1"); err != nil || string(data) != string(big) {
		t.Errorf("inventory of %d bytes read back as %d, %v", len(big), len(data), err)
	}

	if v, err := s.GetMeta(ctx, "vulndb"); err != nil || v != "" {
		t.Errorf("absent meta %q, %v", v, err)
	}
	must(t, s.SetMeta(ctx, "vulndb", "build-1"))
	must(t, s.SetMeta(ctx, "vulndb", "build-2"))
	if v, err := s.GetMeta(ctx, "vulndb"); err != nil || v != "build-2" {
		t.Errorf("meta %q, %v", v, err)
	}
}

func testRules(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	r := store.Rule{
		ID: "rule-1", Name: "ignore test images", Action: "SUPPRESS", Reason: "test", Description: "images under test/",
		Filter: store.FilterCriteria{
			EcrImageRepositoryName: []store.StringFilter{sf("PREFIX", "test/")},
			InspectorScore:         []store.NumberFilter{{UpperInclusive: ptr(6.9)}},
			FirstObservedAt:        []store.DateFilter{{StartInclusive: at(time.Hour)}},
		},
		ExpiresAt: base.Add(24 * time.Hour), CreatedAt: base, CreatedBy: "admin",
	}
	must(t, s.CreateRule(ctx, r))
	r2 := store.Rule{ID: "rule-2", Name: "note", Action: "NONE", Reason: "x", CreatedAt: base.Add(time.Minute)}
	must(t, s.CreateRule(ctx, r2))
	got, err := s.Rule(ctx, "rule-1")
	must(t, err)
	if d := diffJSON(got, r); d != "" {
		t.Error(d)
	}
	all, err := s.Rules(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "rule-1" || all[1].ID != "rule-2" {
		t.Errorf("rules %+v", all)
	}
	dupName := r2
	dupName.ID = "rule-3"
	wantErr(t, "duplicate name", s.CreateRule(ctx, dupName), store.ErrConflict)
	dupID := r2
	dupID.Name = "other"
	wantErr(t, "duplicate id", s.CreateRule(ctx, dupID), store.ErrConflict)
	for name, bad := range map[string]store.Rule{
		"bad filter": {ID: "rule-4", Name: "bad", Action: "SUPPRESS", Filter: store.FilterCriteria{Severity: []store.StringFilter{sf("GLOB", "H*")}}},
		"bad action": {ID: "rule-5", Name: "bad2", Action: "DELETE"},
		"no name":    {ID: "rule-6", Action: "NONE"},
	} {
		wantErr(t, name, s.CreateRule(ctx, bad), store.ErrInvalid)
	}
	must(t, s.DeleteRule(ctx, "rule-1"))
	_, err = s.Rule(ctx, "rule-1")
	wantErr(t, "deleted rule", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteRule(ctx, "rule-1"), store.ErrNotFound)
	if all, err := s.Rules(ctx); err != nil || len(all) != 1 {
		t.Errorf("rules after delete: %+v, %v", all, err)
	}
}

func testEvents(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("order, after, type, limit", func(t *testing.T) {
		s := open(t)
		types := []string{"A", "B", "A", "A", "B"}
		for i, typ := range types {
			must(t, s.AppendEvents(ctx, []store.Event{event(fmt.Sprintf("e%d", i), typ)}))
		}
		all, err := s.Events(ctx, store.EventQuery{})
		must(t, err)
		if len(all) != len(types) {
			t.Fatalf("%d events, want %d", len(all), len(types))
		}
		for i, e := range all {
			if e.ID != fmt.Sprintf("e%d", i) || (i > 0 && e.Seq <= all[i-1].Seq) {
				t.Errorf("event %d: %s seq %d", i, e.ID, e.Seq)
			}
		}
		after, err := s.Events(ctx, store.EventQuery{After: all[2].Seq})
		must(t, err)
		if got := eventIDs(after); !slices.Equal(got, []string{"e3", "e4"}) {
			t.Errorf("after e2: %v", got)
		}
		as, err := s.Events(ctx, store.EventQuery{DetailType: "A", After: all[0].Seq, Limit: 1})
		must(t, err)
		if got := eventIDs(as); !slices.Equal(got, []string{"e2"}) {
			t.Errorf("first A after e0: %v", got)
		}
		// A batch with one bad event appends nothing.
		err = s.AppendEvents(ctx, []store.Event{event("e5", "A"), {ID: "e6", DetailType: "A", Source: "s", Envelope: []byte("[")}})
		wantErr(t, "bad event", err, store.ErrInvalid)
		err = s.AppendEvents(ctx, []store.Event{event("e5", "A"), event("e0", "A")})
		wantErr(t, "duplicate event id", err, store.ErrConflict)
		if n := len(must2(s.Events(ctx, store.EventQuery{}))); n != len(types) {
			t.Errorf("failed appends added %d events", n-len(types))
		}
	})

	t.Run("a reader following the sequence misses nothing", func(t *testing.T) {
		// Writers append concurrently while a reader pages with its
		// last Seq as cursor: it must see every event exactly once,
		// which needs sequence numbers to become visible in order.
		s := open(t)
		const writers, each = 4, 25
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := s.AppendEvents(ctx, []store.Event{event(fmt.Sprintf("w%d-%d", w, i), "C")}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		seen := map[string]int{}
		var cursor int64
		deadline := time.Now().Add(30 * time.Second)
		for len(seen) < writers*each && time.Now().Before(deadline) {
			evs, err := s.Events(ctx, store.EventQuery{After: cursor, Limit: 7})
			must(t, err)
			for _, e := range evs {
				if e.Seq <= cursor {
					t.Fatalf("seq %d after cursor %d", e.Seq, cursor)
				}
				cursor = e.Seq
				seen[e.ID]++
			}
		}
		wg.Wait()
		// Drain what was appended after the loop ended.
		for {
			evs, err := s.Events(ctx, store.EventQuery{After: cursor})
			must(t, err)
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				cursor = e.Seq
				seen[e.ID]++
			}
		}
		total, err := s.Events(ctx, store.EventQuery{Limit: 1000})
		must(t, err)
		if len(total) != writers*each {
			t.Fatalf("%d events stored, want %d", len(total), writers*each)
		}
		for _, e := range total {
			if seen[e.ID] != 1 {
				t.Errorf("event %s seen %d times by the reader", e.ID, seen[e.ID])
			}
		}
	})
}

func eventIDs(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func testTokens(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	a := store.Token{ID: "t1", Name: "ci", Role: store.RolePipeline, Hash: "h1", CreatedAt: base}
	b := store.Token{ID: "t2", Name: "admin", Role: store.RoleAdmin, Hash: "h2", CreatedAt: base.Add(time.Minute)}
	must(t, s.CreateToken(ctx, a))
	must(t, s.CreateToken(ctx, b))
	got, err := s.TokenByHash(ctx, "h1")
	must(t, err)
	if got.ID != "t1" || got.Name != "ci" || got.Role != store.RolePipeline || got.Hash != "h1" || !got.CreatedAt.Equal(base) || !got.LastUsedAt.IsZero() {
		t.Errorf("token %+v", got)
	}
	for name, bad := range map[string]store.Token{
		"same name": {ID: "t3", Name: "ci", Role: store.RoleReadOnly, Hash: "h3"},
		"same hash": {ID: "t4", Name: "other", Role: store.RoleReadOnly, Hash: "h1"},
		"same id":   {ID: "t1", Name: "other2", Role: store.RoleReadOnly, Hash: "h5"},
	} {
		wantErr(t, name, s.CreateToken(ctx, bad), store.ErrConflict)
	}
	wantErr(t, "unknown role", s.CreateToken(ctx, store.Token{ID: "t6", Name: "x", Role: "root", Hash: "h6"}), store.ErrInvalid)
	must(t, s.TouchToken(ctx, "t2", base.Add(time.Hour)))
	all, err := s.Tokens(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "t1" || all[1].ID != "t2" || !all[1].LastUsedAt.Equal(base.Add(time.Hour)) {
		t.Errorf("tokens %+v", all)
	}
	wantErr(t, "touch unknown", s.TouchToken(ctx, "t9", base), store.ErrNotFound)
	must(t, s.DeleteToken(ctx, "t1"))
	_, err = s.TokenByHash(ctx, "h1")
	wantErr(t, "deleted token", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteToken(ctx, "t1"), store.ErrNotFound)
}
