package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// testBaseline covers what change-only findings and reproducible
// decisions keep: an image's database version, a decision's database
// version and baseline image, and LastApproved.
func testBaseline(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	const repo = "team/app"
	a, b, c := dig("ba"), dig("bb"), dig("bc")
	for i, d := range []string{a, b, c} {
		must(t, s.RecordPush(ctx, store.Push{Repository: repo, Digest: d, At: base.Add(time.Duration(i) * time.Second),
			MediaType: "application/vnd.oci.image.manifest.v1+json"}))
	}

	t.Run("an image keeps the database version of its last match", func(t *testing.T) {
		must(t, s.UpdateImage(ctx, store.ImageUpdate{Repository: repo, Digest: a, ScanStatus: store.ScanComplete, DBVersion: "20261204T183257Z-3f2a9c1b7e4d"}, nil))
		must(t, s.UpdateImage(ctx, store.ImageUpdate{Repository: repo, Digest: a, ScanStatus: store.ScanComplete}, nil))
		im := must2(s.Image(ctx, repo, a))
		if im.DBVersion != "20261204T183257Z-3f2a9c1b7e4d" {
			t.Errorf("db version %q after an update that did not set it", im.DBVersion)
		}
		must(t, s.UpdateImage(ctx, store.ImageUpdate{Repository: repo, Digest: a, ScanStatus: store.ScanComplete, DBVersion: "20261205T000000Z-000000000001"}, nil))
		if im := must2(s.Image(ctx, repo, a)); im.DBVersion != "20261205T000000Z-000000000001" {
			t.Errorf("db version %q, want the newer one", im.DBVersion)
		}
	})

	seq := 0
	decide := func(id, digest, stage, decision string, at time.Time) store.GateDecision {
		t.Helper()
		if _, err := s.GateRequest(ctx, id); err != nil {
			must(t, s.CreateGateRequest(ctx, store.GateRequest{ID: id, Token: "t", Repository: repo, Digest: digest, Pipeline: "p", Stage: stage,
				State: store.GatePending, Deadline: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at}))
		}
		seq++
		d := store.GateDecision{ID: id + "-" + string(rune('a'+seq)), RequestID: id, Repository: repo, Digest: digest, Decision: decision,
			Policy: "p", Reason: "r", Trigger: "scan", Findings: []store.GateFinding{}, DecidedAt: at,
			DBVersion: "20261204T183257Z-3f2a9c1b7e4d", BaselineDigest: c}
		must(t, s.UpdateGateRequest(ctx, id, func(r *store.GateRequest) (store.GateUpdate, error) {
			d.Supersedes = r.DecisionID
			r.State, r.Decision, r.DecisionID, r.UpdatedAt = store.GateDecided, decision, d.ID, at
			return store.GateUpdate{Decision: &d}, nil
		}))
		return d
	}

	t.Run("a decision keeps its database version and baseline", func(t *testing.T) {
		d := decide("r-keep", c, "qa", store.Rejected, base)
		got := must2(s.GateDecision(ctx, d.ID))
		if got.DBVersion != d.DBVersion || got.BaselineDigest != c {
			t.Errorf("decision %+v", got)
		}
		list, _, err := s.GateDecisions(ctx, store.GateDecisionQuery{RequestID: "r-keep"})
		must(t, err)
		if len(list) != 1 || list[0].DBVersion != d.DBVersion || list[0].BaselineDigest != c {
			t.Errorf("listed %+v", list)
		}
	})

	t.Run("LastApproved", func(t *testing.T) {
		_, err := s.LastApproved(ctx, repo, "prod", c)
		wantErr(t, "no approval yet", err, store.ErrNotFound)
		first := decide("r-a", a, "prod", store.Approved, base.Add(time.Minute))
		decide("r-b-qa", b, "qa", store.Approved, base.Add(2*time.Minute)) // another stage
		got := must2(s.LastApproved(ctx, repo, "prod", c))
		if got.ID != first.ID || got.Digest != a {
			t.Errorf("last approved for prod = %+v, want %s", got, first.ID)
		}
		_, err = s.LastApproved(ctx, repo, "prod", a)
		wantErr(t, "the image judged is not its own predecessor", err, store.ErrNotFound)
		_, err = s.LastApproved(ctx, "team/other", "prod", c)
		wantErr(t, "another repository", err, store.ErrNotFound)
		second := decide("r-b", b, "prod", store.Approved, base.Add(3*time.Minute))
		if got := must2(s.LastApproved(ctx, repo, "prod", c)); got.ID != second.ID {
			t.Errorf("the newer approval: got %s, want %s", got.ID, second.ID)
		}
		// b's request decided again, rejected now: a is the last image
		// still approved.
		decide("r-b", b, "prod", store.Rejected, base.Add(4*time.Minute))
		if got := must2(s.LastApproved(ctx, repo, "prod", c)); got.ID != first.ID {
			t.Errorf("after b's rejection: got %s (%s), want %s", got.ID, got.Digest, first.ID)
		}
		if got := must2(s.LastApproved(ctx, repo, "qa", c)); got.Digest != b {
			t.Errorf("qa: got %+v", got)
		}
		// An image of an index is judged leaving out both.
		_, err = s.LastApproved(ctx, repo, "prod", c, a)
		wantErr(t, "every approved image left out", err, store.ErrNotFound)
		if got := must2(s.LastApproved(ctx, repo, "prod")); got.Digest != a {
			t.Errorf("nothing left out: got %s", got.Digest)
		}
	})
}
