package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

func fullPolicy(name, repo string) store.GatePolicy {
	return store.GatePolicy{
		Name: name, Repository: repo,
		MaxCritical: ptr(0), MaxHigh: ptr(3), MaxMedium: ptr(10), MaxLow: ptr(100), MaxUntriaged: ptr(7),
		FixableOnly: true, RejectKnownExploited: true, MaxScore: ptr(8.5), CountSuppressed: true,
		OnScanFailure: "APPROVE", OnUnsupported: "REJECT", OnTimeout: "APPROVE", TimeoutSeconds: 900,
		CreatedAt: base, UpdatedAt: base,
	}
}

func testGatePolicies(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("put, get, replace, delete", func(t *testing.T) {
		s := open(t)
		p := fullPolicy("prod", "team/*")
		must(t, s.PutGatePolicy(ctx, p))
		got, err := s.GatePolicy(ctx, "prod")
		must(t, err)
		if d := diffJSON(got, p); d != "" {
			t.Errorf("stored policy:\n%s", d)
		}
		// Replacing keeps CreatedAt; actions left empty are REJECT.
		p2 := store.GatePolicy{Name: "prod", Repository: "team/app", MaxCritical: ptr(2), CreatedAt: base.Add(time.Hour), UpdatedAt: base.Add(2 * time.Hour)}
		must(t, s.PutGatePolicy(ctx, p2))
		got, err = s.GatePolicy(ctx, "prod")
		must(t, err)
		want := p2
		want.CreatedAt = base
		want.OnScanFailure, want.OnUnsupported, want.OnTimeout = "REJECT", "REJECT", "REJECT"
		if d := diffJSON(got, want); d != "" {
			t.Errorf("replaced policy:\n%s", d)
		}
		must(t, s.DeleteGatePolicy(ctx, "prod"))
		_, err = s.GatePolicy(ctx, "prod")
		wantErr(t, "deleted policy", err, store.ErrNotFound)
		wantErr(t, "delete twice", s.DeleteGatePolicy(ctx, "prod"), store.ErrNotFound)
	})

	t.Run("defaults and order", func(t *testing.T) {
		s := open(t)
		c := startClock()
		for _, n := range []string{"zeta", "Alpha", "default", "beta.1"} {
			repo := "repo/" + n
			if n == "default" {
				repo = ""
			}
			must(t, s.PutGatePolicy(ctx, store.GatePolicy{Name: n, Repository: repo}))
		}
		c.stop()
		all, err := s.GatePolicies(ctx)
		must(t, err)
		var names []string
		for _, p := range all {
			names = append(names, p.Name)
			if p.OnScanFailure != "REJECT" || p.OnUnsupported != "REJECT" || p.OnTimeout != "REJECT" {
				t.Errorf("policy %s: actions %q %q %q, want REJECT by default", p.Name, p.OnScanFailure, p.OnUnsupported, p.OnTimeout)
			}
			c.check(t, "created", p.CreatedAt)
			c.check(t, "updated", p.UpdatedAt)
		}
		want := []string{"Alpha", "beta.1", "default", "zeta"}
		sort.Strings(want)
		if !slices.Equal(names, want) {
			t.Errorf("policies %v, want %v", names, want)
		}
		if p := must2(s.GatePolicy(ctx, "default")); p.Repository != "" {
			t.Errorf("default policy repository %q", p.Repository)
		}
	})

	t.Run("one policy per repository", func(t *testing.T) {
		s := open(t)
		must(t, s.PutGatePolicy(ctx, fullPolicy("a", "team/*")))
		must(t, s.PutGatePolicy(ctx, fullPolicy("default", "")))
		wantErr(t, "same repository", s.PutGatePolicy(ctx, fullPolicy("b", "team/*")), store.ErrConflict)
		wantErr(t, "second default", s.PutGatePolicy(ctx, fullPolicy("c", "")), store.ErrConflict)
		must(t, s.PutGatePolicy(ctx, fullPolicy("d", "team/app")))
		wantErr(t, "moved onto another's repository", s.PutGatePolicy(ctx, fullPolicy("d", "team/*")), store.ErrConflict)
		if p := must2(s.GatePolicy(ctx, "d")); p.Repository != "team/app" {
			t.Errorf("refused replacement changed the policy: %q", p.Repository)
		}
		must(t, s.PutGatePolicy(ctx, fullPolicy("a", "team/*"))) // its own repository
		for _, n := range []string{"b", "c"} {
			_, err := s.GatePolicy(ctx, n)
			wantErr(t, "refused policy "+n, err, store.ErrNotFound)
		}
		// Once deleted, a policy's repository is free.
		must(t, s.DeleteGatePolicy(ctx, "a"))
		must(t, s.PutGatePolicy(ctx, fullPolicy("b", "team/*")))
	})

	t.Run("invalid policies are refused", func(t *testing.T) {
		s := open(t)
		for name, change := range map[string]func(p *store.GatePolicy){
			"no name":                 func(p *store.GatePolicy) { p.Name = "" },
			"name too long":           func(p *store.GatePolicy) { p.Name = strings.Repeat("p", 65) },
			"name with a slash":       func(p *store.GatePolicy) { p.Name = "a/b" },
			"unknown on-scan-failure": func(p *store.GatePolicy) { p.OnScanFailure = "IGNORE" },
			"unknown on-unsupported":  func(p *store.GatePolicy) { p.OnUnsupported = "approve" },
			"unknown on-timeout":      func(p *store.GatePolicy) { p.OnTimeout = "WAIT" },
			"negative timeout":        func(p *store.GatePolicy) { p.TimeoutSeconds = -1 },
		} {
			p := fullPolicy("bad", "bad/"+name)
			change(&p)
			wantErr(t, name, s.PutGatePolicy(ctx, p), store.ErrInvalid)
		}
		if all := must2(s.GatePolicies(ctx)); len(all) != 0 {
			t.Errorf("refused policies were stored: %d", len(all))
		}
		must(t, s.PutGatePolicy(ctx, fullPolicy(strings.Repeat("p", 64), "x")))
	})
}

func gateRequest(id string, created time.Time) store.GateRequest {
	return store.GateRequest{
		ID: id, Token: "tok-" + id, Repository: "team/app", Digest: dig("a1"), Tag: "v1",
		Pipeline: "ci", Stage: "deploy", Action: "prod", CallbackURL: "https://ci.example.com/cb",
		State: store.GatePending, Deadline: created.Add(30 * time.Minute), CreatedAt: created, UpdatedAt: created, CreatedBy: "t1",
	}
}

func requestIDs(rs []store.GateRequest) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func testGateRequests(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("create and get", func(t *testing.T) {
		s := open(t)
		r := gateRequest("req-1", base)
		r.NewPush, r.State, r.Decision, r.DecisionID = true, store.GateDecided, store.Approved, "dec-0"
		must(t, s.CreateGateRequest(ctx, r))
		got, err := s.GateRequest(ctx, "req-1")
		must(t, err)
		if d := diffJSON(got, r); d != "" {
			t.Errorf("stored request:\n%s", d)
		}
		_, err = s.GateRequest(ctx, "req-9")
		wantErr(t, "unknown request", err, store.ErrNotFound)
		dup := gateRequest("req-1", base.Add(time.Hour))
		wantErr(t, "duplicate id", s.CreateGateRequest(ctx, dup), store.ErrConflict)
		if got := must2(s.GateRequest(ctx, "req-1")); !got.CreatedAt.Equal(base) {
			t.Errorf("a refused duplicate changed the request")
		}

		c := startClock()
		must(t, s.CreateGateRequest(ctx, store.GateRequest{ID: "req-2", Token: "t", Repository: "team/app", Tag: "latest"}))
		c.stop()
		got, err = s.GateRequest(ctx, "req-2")
		must(t, err)
		if got.State != store.GatePending || got.Digest != "" || got.NewPush {
			t.Errorf("defaults %+v", got)
		}
		c.check(t, "created", got.CreatedAt)
		c.check(t, "updated", got.UpdatedAt)

		for name, change := range map[string]func(r *store.GateRequest){
			"no id":            func(r *store.GateRequest) { r.ID = "" },
			"no token":         func(r *store.GateRequest) { r.Token = "" },
			"no repository":    func(r *store.GateRequest) { r.Repository = "" },
			"unknown state":    func(r *store.GateRequest) { r.State = "WAITING" },
			"unknown decision": func(r *store.GateRequest) { r.Decision = "Maybe" },
		} {
			r := gateRequest("bad-"+strings.ReplaceAll(name, " ", "-"), base)
			change(&r)
			wantErr(t, name, s.CreateGateRequest(ctx, r), store.ErrInvalid)
		}
		if rs, _, err := s.GateRequests(ctx, store.GateRequestQuery{}); err != nil || len(rs) != 2 {
			t.Errorf("requests after refused creates: %v, %v", requestIDs(rs), err)
		}
	})

	t.Run("filters and paging", func(t *testing.T) {
		s := open(t)
		type spec struct {
			id, repo, digest, tag, state string
			created, deadline            time.Duration
		}
		specs := []spec{
			{"r01", "team/app", dig("a1"), "v1", store.GatePending, 1 * time.Minute, 10 * time.Minute},
			{"r02", "team/app", dig("a1"), "", store.GateDecided, 2 * time.Minute, 5 * time.Minute},
			{"r03", "team/app", "", "v2", store.GatePending, 3 * time.Minute, 20 * time.Minute},
			{"r04", "team/api", "", "v2", store.GatePending, 3 * time.Minute, 4 * time.Minute}, // same time as r03
			{"r05", "team/api", dig("b1"), "v2", store.GatePending, 5 * time.Minute, 6 * time.Minute},
			{"r06", "team/app", "", "v2", store.GateDecided, 6 * time.Minute, 1 * time.Minute},
			{"r07", "team/app", dig("a2"), "v2", store.GatePending, 7 * time.Minute, 30 * time.Minute},
			{"r08", "other", "", "latest", store.GatePending, 3 * time.Minute, 8 * time.Minute}, // same time as r03
			{"r09", "team/app", dig("a1"), "v1", store.GatePending, 9 * time.Minute, 9 * time.Minute},
		}
		var all []store.GateRequest
		for _, sp := range specs {
			r := gateRequest(sp.id, base.Add(sp.created))
			r.Repository, r.Digest, r.Tag, r.State = sp.repo, sp.digest, sp.tag, sp.state
			r.Deadline = base.Add(sp.deadline)
			must(t, s.CreateGateRequest(ctx, r))
			all = append(all, r)
		}
		// The expected order: newest first, ties by id, descending.
		sort.Slice(all, func(i, j int) bool {
			if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
				return all[i].CreatedAt.After(all[j].CreatedAt)
			}
			return all[i].ID > all[j].ID
		})
		cut := base.Add(9 * time.Minute)
		for _, c := range []struct {
			name  string
			q     store.GateRequestQuery
			match func(r store.GateRequest) bool
		}{
			{"all", store.GateRequestQuery{}, func(store.GateRequest) bool { return true }},
			{"pending", store.GateRequestQuery{State: store.GatePending}, func(r store.GateRequest) bool { return r.State == store.GatePending }},
			{"repository", store.GateRequestQuery{Repository: "team/app"}, func(r store.GateRequest) bool { return r.Repository == "team/app" }},
			{"image", store.GateRequestQuery{Repository: "team/app", Digest: dig("a1")}, func(r store.GateRequest) bool {
				return r.Repository == "team/app" && r.Digest == dig("a1")
			}},
			{"waiting for a tag", store.GateRequestQuery{State: store.GatePending, Repository: "team/app", Tag: "v2", Unresolved: true}, func(r store.GateRequest) bool {
				return r.State == store.GatePending && r.Repository == "team/app" && r.Tag == "v2" && r.Digest == ""
			}},
			{"unresolved", store.GateRequestQuery{Unresolved: true}, func(r store.GateRequest) bool { return r.Digest == "" }},
			{"due", store.GateRequestQuery{DeadlineBefore: cut}, func(r store.GateRequest) bool {
				return r.State == store.GatePending && r.Deadline.Before(cut)
			}},
			{"due, a fraction of a millisecond later", store.GateRequestQuery{DeadlineBefore: cut.Add(time.Microsecond)}, func(r store.GateRequest) bool {
				return r.State == store.GatePending && r.Deadline.Before(cut.Add(time.Microsecond))
			}},
			{"nothing", store.GateRequestQuery{Repository: "none"}, func(store.GateRequest) bool { return false }},
		} {
			var want []string
			for _, r := range all {
				if c.match(r) {
					want = append(want, r.ID)
				}
			}
			for _, size := range []int{2, 3, 100} {
				q := c.q
				q.Limit = size
				var got []string
				for pages := 0; ; pages++ {
					if pages > 20 {
						t.Fatalf("%s: paging does not end", c.name)
					}
					rs, next, err := s.GateRequests(ctx, q)
					must(t, err)
					got = append(got, requestIDs(rs)...)
					if next == "" {
						break
					}
					if len(rs) != size {
						t.Errorf("%s: a page of %d with a next token, want %d", c.name, len(rs), size)
					}
					q.Next = next
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s, pages of %d: %v, want %v", c.name, size, got, want)
				}
			}
		}
		// The r09 deadline is cut itself: not before it.
		if rs, _, _ := s.GateRequests(ctx, store.GateRequestQuery{DeadlineBefore: cut}); slices.Contains(requestIDs(rs), "r09") {
			t.Error("a request due exactly at the cut is listed as before it")
		}
		_, next, err := s.GateRequests(ctx, store.GateRequestQuery{Limit: 1})
		must(t, err)
		_, _, err = s.GateRequests(ctx, store.GateRequestQuery{Repository: "team/app", Next: next})
		wantErr(t, "token of another query", err, store.ErrInvalid)
		_, _, err = s.GateRequests(ctx, store.GateRequestQuery{Next: "!!"})
		wantErr(t, "malformed token", err, store.ErrInvalid)
		_, _, err = s.GateRequests(ctx, store.GateRequestQuery{State: "OPEN"})
		wantErr(t, "unknown state", err, store.ErrInvalid)
	})
}

// gateCounts are what the suite checks is unchanged after a refused
// update.
type gateCounts struct{ events, deliveries, decisions int }

func countGate(t *testing.T, s store.Store) gateCounts {
	t.Helper()
	ctx := context.Background()
	evs, err := s.Events(ctx, store.EventQuery{Limit: 1000})
	must(t, err)
	ds, _, err := s.GateDecisions(ctx, store.GateDecisionQuery{Limit: 1000})
	must(t, err)
	return gateCounts{len(evs), len(allDeliveries(t, s, store.DeliveryQuery{})), len(ds)}
}

func testUpdateGateRequest(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("decide with an event and its callback", func(t *testing.T) {
		s := open(t)
		must(t, s.AppendEvents(ctx, []store.Event{event("earlier", "T")}))
		r := gateRequest("req-1", base)
		must(t, s.CreateGateRequest(ctx, r))
		ev := event("decision-event", "Vigil Gate Decision")
		ev.Time = base.Add(time.Hour)
		c := startClock()
		err := s.UpdateGateRequest(ctx, "req-1", func(cur *store.GateRequest) (store.GateUpdate, error) {
			if d := diffJSON(cur, r); d != "" {
				t.Errorf("callback got:\n%s", d)
			}
			cur.State, cur.Decision, cur.DecisionID = store.GateDecided, store.Rejected, "dec-1"
			return store.GateUpdate{
				Decision: &store.GateDecision{
					ID: "dec-1", Decision: store.Rejected, Policy: "prod", Reason: "1 CRITICAL finding (at most 0 allowed)", Trigger: "scan",
					Findings: []store.GateFinding{{FindingArn: arn("f1"), VulnerabilityID: "CVE-2024-1", Severity: "CRITICAL", Score: ptr(9.8),
						PackageName: "openssl", PackageVersion: "3.0.1", FixedInVersion: "3.0.2", KnownExploited: true, Rule: "maxCritical"}},
					Counts: store.Counts{Critical: 1, High: 2, Total: 3},
				},
				Events: []store.Event{ev},
				Deliveries: []store.Delivery{
					{EventID: ev.ID, Target: "callback/req-1"},
					{EventID: "earlier", Rule: "x", Target: "t", WindowStart: base.Add(time.Minute)},
				},
			}, nil
		})
		must(t, err)
		c.stop()
		got, err := s.GateRequest(ctx, "req-1")
		must(t, err)
		if got.State != store.GateDecided || got.Decision != store.Rejected || got.DecisionID != "dec-1" || got.Token != r.Token {
			t.Errorf("request after the decision %+v", got)
		}
		c.check(t, "request updated", got.UpdatedAt)
		d, err := s.GateDecision(ctx, "dec-1")
		must(t, err)
		// RequestID, Repository and Digest come from the request,
		// DecidedAt from the clock.
		if d.RequestID != "req-1" || d.Repository != r.Repository || d.Digest != r.Digest || d.Policy != "prod" || d.Trigger != "scan" ||
			d.Counts.Critical != 1 || d.Counts.Total != 3 || len(d.Findings) != 1 || *d.Findings[0].Score != 9.8 || !d.Findings[0].KnownExploited {
			t.Errorf("decision %+v", d)
		}
		c.check(t, "decided", d.DecidedAt)
		evs := must2(s.Events(ctx, store.EventQuery{DetailType: "Vigil Gate Decision"}))
		if len(evs) != 1 || evs[0].ID != ev.ID {
			t.Fatalf("events %v, want the decision's", eventIDs(evs))
		}
		cb := must2(s.Deliveries(ctx, store.DeliveryQuery{EventID: ev.ID}))
		if len(cb) != 1 || cb[0].EventSeq != evs[0].Seq || cb[0].Target != "callback/req-1" || string(cb[0].Envelope) != string(ev.Envelope) ||
			!cb[0].WindowStart.Equal(ev.Time) || cb[0].State != store.DeliveryPending {
			t.Errorf("callback deliveries %+v, want one for event seq %d", cb, evs[0].Seq)
		}
		other := must2(s.Deliveries(ctx, store.DeliveryQuery{EventID: "earlier"}))
		if len(other) != 1 || !other[0].WindowStart.Equal(base.Add(time.Minute)) {
			t.Errorf("deliveries of the earlier event %+v", other)
		}
	})

	t.Run("nothing changed, nothing written", func(t *testing.T) {
		s := open(t)
		r := gateRequest("req-1", base)
		must(t, s.CreateGateRequest(ctx, r))
		calls := 0
		must(t, s.UpdateGateRequest(ctx, "req-1", func(*store.GateRequest) (store.GateUpdate, error) {
			calls++
			return store.GateUpdate{}, nil
		}))
		if calls != 1 {
			t.Errorf("callback called %d times", calls)
		}
		if got := must2(s.GateRequest(ctx, "req-1")); !got.UpdatedAt.Equal(base) {
			t.Errorf("an empty update moved UpdatedAt to %v", got.UpdatedAt)
		}
		// A change of the request alone is written, stamped now.
		c := startClock()
		must(t, s.UpdateGateRequest(ctx, "req-1", func(cur *store.GateRequest) (store.GateUpdate, error) {
			cur.Digest = dig("ff")
			return store.GateUpdate{}, nil
		}))
		c.stop()
		got := must2(s.GateRequest(ctx, "req-1"))
		if got.Digest != dig("ff") {
			t.Errorf("digest %q after the update", got.Digest)
		}
		c.check(t, "updated", got.UpdatedAt)
		// A time fn sets is kept.
		must(t, s.UpdateGateRequest(ctx, "req-1", func(cur *store.GateRequest) (store.GateUpdate, error) {
			cur.Stage, cur.UpdatedAt = "verify", base.Add(time.Hour)
			return store.GateUpdate{}, nil
		}))
		if got := must2(s.GateRequest(ctx, "req-1")); got.Stage != "verify" || !got.UpdatedAt.Equal(base.Add(time.Hour)) {
			t.Errorf("after an update with its own time: %+v", got)
		}
		called := false
		err := s.UpdateGateRequest(ctx, "req-9", func(*store.GateRequest) (store.GateUpdate, error) { called = true; return store.GateUpdate{}, nil })
		wantErr(t, "unknown request", err, store.ErrNotFound)
		if called {
			t.Error("the callback was called for an unknown request")
		}
	})

	t.Run("a failed update writes nothing", func(t *testing.T) {
		s := open(t)
		must(t, s.AppendEvents(ctx, []store.Event{event("earlier", "T")}))
		r := gateRequest("req-1", base)
		must(t, s.CreateGateRequest(ctx, r))
		before := countGate(t, s)
		boom := errors.New("boom")
		good := func(cur *store.GateRequest) store.GateUpdate {
			cur.State, cur.Decision, cur.DecisionID = store.GateDecided, store.Approved, "dec-1"
			return store.GateUpdate{
				Decision:   &store.GateDecision{ID: "dec-1", Decision: store.Approved},
				Events:     []store.Event{event("ev-1", "D")},
				Deliveries: []store.Delivery{{EventID: "ev-1", Target: "callback/req-1"}},
			}
		}
		for name, c := range map[string]struct {
			change func(cur *store.GateRequest, u *store.GateUpdate)
			err    error
		}{
			"callback error":              {func(*store.GateRequest, *store.GateUpdate) {}, boom},
			"decision without id":         {func(_ *store.GateRequest, u *store.GateUpdate) { u.Decision.ID = "" }, store.ErrInvalid},
			"decision of another request": {func(_ *store.GateRequest, u *store.GateUpdate) { u.Decision.RequestID = "req-2" }, store.ErrInvalid},
			"unknown decision":            {func(_ *store.GateRequest, u *store.GateUpdate) { u.Decision.Decision = "Maybe" }, store.ErrInvalid},
			"invalid event":               {func(_ *store.GateRequest, u *store.GateUpdate) { u.Events[0].Source = "" }, store.ErrInvalid},
			"event id taken":              {func(_ *store.GateRequest, u *store.GateUpdate) { u.Events[0].ID = "earlier" }, store.ErrConflict},
			"delivery of no event": {func(_ *store.GateRequest, u *store.GateUpdate) {
				u.Deliveries = append(u.Deliveries, store.Delivery{EventID: "nope", Target: "t"})
			}, store.ErrInvalid},
			"delivery without target": {func(_ *store.GateRequest, u *store.GateUpdate) { u.Deliveries[0].Target = "" }, store.ErrInvalid},
			"unknown state":           {func(cur *store.GateRequest, _ *store.GateUpdate) { cur.State = "DONE" }, store.ErrInvalid},
			"id changed":              {func(cur *store.GateRequest, _ *store.GateUpdate) { cur.ID = "req-2" }, store.ErrInvalid},
		} {
			err := s.UpdateGateRequest(ctx, "req-1", func(cur *store.GateRequest) (store.GateUpdate, error) {
				u := good(cur)
				c.change(cur, &u)
				if c.err == boom {
					return u, boom
				}
				return u, nil
			})
			wantErr(t, name, err, c.err)
			if d := diffJSON(must2(s.GateRequest(ctx, "req-1")), r); d != "" {
				t.Errorf("%s: the request changed:\n%s", name, d)
			}
			if after := countGate(t, s); after != before {
				t.Errorf("%s: wrote %+v (before %+v)", name, after, before)
			}
		}
		// The same update, valid, is written whole.
		must(t, s.UpdateGateRequest(ctx, "req-1", func(cur *store.GateRequest) (store.GateUpdate, error) { return good(cur), nil }))
		if after := countGate(t, s); after != (gateCounts{before.events + 1, before.deliveries + 1, before.decisions + 1}) {
			t.Errorf("a valid update wrote %+v (before %+v)", after, before)
		}
		// A decision id is used once.
		err := s.UpdateGateRequest(ctx, "req-1", func(cur *store.GateRequest) (store.GateUpdate, error) {
			return store.GateUpdate{Decision: &store.GateDecision{ID: "dec-1", Decision: store.Rejected}}, nil
		})
		wantErr(t, "duplicate decision", err, store.ErrConflict)
	})

	t.Run("writers of one request take turns", func(t *testing.T) {
		// Each writer increments a counter kept in the request: without
		// the row lock, concurrent read-modify-writes would lose some.
		s := open(t)
		r := gateRequest("req-1", base)
		r.Stage = "0"
		must(t, s.CreateGateRequest(ctx, r))
		const writers, each = 6, 8
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					err := s.UpdateGateRequest(ctx, "req-1", func(cur *store.GateRequest) (store.GateUpdate, error) {
						n, err := strconv.Atoi(cur.Stage)
						if err != nil {
							return store.GateUpdate{}, err
						}
						time.Sleep(time.Millisecond) // widen the window a lost update needs
						cur.Stage = strconv.Itoa(n + 1)
						return store.GateUpdate{Events: []store.Event{event(fmt.Sprintf("w%d-%d", w, i), "G")}}, nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if got := must2(s.GateRequest(ctx, "req-1")); got.Stage != strconv.Itoa(writers*each) {
			t.Errorf("counter %s after %d increments", got.Stage, writers*each)
		}
		if evs := must2(s.Events(ctx, store.EventQuery{DetailType: "G", Limit: 1000})); len(evs) != writers*each {
			t.Errorf("%d events, want %d", len(evs), writers*each)
		}
	})
}

func testGateDecisions(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	type spec struct {
		id, request string
		at          time.Duration
	}
	reqs := map[string]store.GateRequest{}
	for i, id := range []string{"req-a", "req-b", "req-c"} {
		r := gateRequest(id, base)
		r.Repository = []string{"team/app", "team/app", "team/api"}[i]
		r.Digest = []string{dig("a1"), dig("a2"), dig("a1")}[i]
		must(t, s.CreateGateRequest(ctx, r))
		reqs[id] = r
	}
	specs := []spec{
		{"d1", "req-a", time.Minute}, {"d2", "req-b", 2 * time.Minute}, {"d3", "req-a", 3 * time.Minute},
		{"d4", "req-c", 3 * time.Minute}, {"d5", "req-b", 3 * time.Minute}, {"d6", "req-a", 6 * time.Minute},
		{"d7", "req-c", 7 * time.Minute},
	}
	var all []store.GateDecision
	for i, sp := range specs {
		r := reqs[sp.request]
		d := store.GateDecision{
			ID: sp.id, RequestID: r.ID, Repository: r.Repository, Digest: r.Digest,
			Decision: []string{store.Approved, store.Rejected}[i%2], Policy: "p", Reason: "because " + sp.id, Trigger: "scan",
			Findings: []store.GateFinding{}, Counts: store.Counts{High: i, Total: i}, DecidedAt: base.Add(sp.at),
		}
		if i%2 == 1 {
			d.Findings = []store.GateFinding{{FindingArn: arn(sp.id), Severity: "HIGH", Rule: "maxHigh"}}
		}
		must(t, s.UpdateGateRequest(ctx, r.ID, func(cur *store.GateRequest) (store.GateUpdate, error) {
			d.Supersedes = cur.DecisionID
			cur.State, cur.Decision, cur.DecisionID = store.GateDecided, d.Decision, d.ID
			return store.GateUpdate{Decision: &d}, nil
		}))
		all = append(all, d)
	}
	got, err := s.GateDecision(ctx, "d6")
	must(t, err)
	if d := diffJSON(got, all[5]); d != "" {
		t.Errorf("decision d6:\n%s", d)
	}
	if got.Supersedes != "d3" {
		t.Errorf("d6 supersedes %q, want d3", got.Supersedes)
	}
	_, err = s.GateDecision(ctx, "d9")
	wantErr(t, "unknown decision", err, store.ErrNotFound)

	sort.Slice(all, func(i, j int) bool {
		if !all[i].DecidedAt.Equal(all[j].DecidedAt) {
			return all[i].DecidedAt.After(all[j].DecidedAt)
		}
		return all[i].ID > all[j].ID
	})
	for _, c := range []struct {
		name  string
		q     store.GateDecisionQuery
		match func(d store.GateDecision) bool
	}{
		{"all", store.GateDecisionQuery{}, func(store.GateDecision) bool { return true }},
		{"request", store.GateDecisionQuery{RequestID: "req-a"}, func(d store.GateDecision) bool { return d.RequestID == "req-a" }},
		{"repository", store.GateDecisionQuery{Repository: "team/app"}, func(d store.GateDecision) bool { return d.Repository == "team/app" }},
		{"digest", store.GateDecisionQuery{Digest: dig("a1")}, func(d store.GateDecision) bool { return d.Digest == dig("a1") }},
		{"image", store.GateDecisionQuery{Repository: "team/api", Digest: dig("a1")}, func(d store.GateDecision) bool {
			return d.Repository == "team/api" && d.Digest == dig("a1")
		}},
		{"nothing", store.GateDecisionQuery{RequestID: "req-z"}, func(store.GateDecision) bool { return false }},
	} {
		var want []store.GateDecision
		for _, d := range all {
			if c.match(d) {
				want = append(want, d)
			}
		}
		for _, size := range []int{2, 1000} {
			q := c.q
			q.Limit = size
			var got []store.GateDecision
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("%s: paging does not end", c.name)
				}
				ds, next, err := s.GateDecisions(ctx, q)
				must(t, err)
				got = append(got, ds...)
				if next == "" {
					break
				}
				if len(ds) != size {
					t.Errorf("%s: a page of %d with a next token, want %d", c.name, len(ds), size)
				}
				q.Next = next
			}
			if d := diffJSON(got, want); d != "" {
				t.Errorf("%s, pages of %d:\n%s", c.name, size, d)
			}
		}
	}
	_, next, err := s.GateDecisions(ctx, store.GateDecisionQuery{Limit: 1})
	must(t, err)
	if next == "" {
		t.Fatal("no next token after one of several decisions")
	}
	_, _, err = s.GateDecisions(ctx, store.GateDecisionQuery{RequestID: "req-a", Next: next})
	wantErr(t, "token of another query", err, store.ErrInvalid)
	_, _, err = s.GateDecisions(ctx, store.GateDecisionQuery{Next: "e30"})
	wantErr(t, "malformed token", err, store.ErrInvalid)
}
