package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/store"
)

// TestExpire moves the worker's clock past a repository's rescan duration
// with no database change: the repository's images go INACTIVE
// (SCAN_ELIGIBILITY_EXPIRED) and their findings close, with a Coverage
// event each; images of repositories kept for LIFETIME stay as they were,
// and a second pass changes nothing.
func TestExpire(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	seed(t, st, 12)
	w := newWorker(st, openDB(t, "vulndb/alpine-secdb", "vulndb/debian"))
	if _, err := w.RescanReport(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	fs, _, err := st.ListFindings(ctx, store.FindingQuery{Limit: 1000})
	if err != nil || len(fs) == 0 {
		t.Fatalf("no findings to close (%v)", err)
	}
	repo := fs[0].Repository
	if err := st.SetRescanDuration(ctx, repo, "DAYS_14", "PUSH"); err != nil {
		t.Fatal(err)
	}
	evs, err := st.Events(ctx, store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	after := evs[len(evs)-1].Seq

	// Thirteen days on, nothing is due.
	w.Now = func() time.Time { return time.Now().Add(13 * 24 * time.Hour) }
	if n, err := w.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("13 days after the push: %d expired, %v; want 0", n, err)
	}
	w.Now = func() time.Time { return time.Now().Add(15 * 24 * time.Hour) }
	n, err := w.Expire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	images, _, err := st.ListImages(ctx, store.ImageQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	inRepo := 0
	for _, im := range images {
		if im.Repository == repo {
			inRepo++
			if im.ScanStatus != store.ScanInactive || im.ScanReason != events.ReasonExpired {
				t.Errorf("%s@%s: %s %s, want INACTIVE SCAN_ELIGIBILITY_EXPIRED", im.Repository, im.Digest, im.ScanStatus, im.ScanReason)
			}
		} else if im.ScanStatus != store.ScanComplete {
			t.Errorf("%s@%s in a LIFETIME repository: %s", im.Repository, im.Digest, im.ScanStatus)
		}
	}
	if n != inRepo || n == 0 {
		t.Errorf("%d images expired, want the %d of %s", n, inRepo, repo)
	}
	fs, _, err = st.ListFindings(ctx, store.FindingQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if want := f.Repository == repo; want != (f.Status == store.Closed) {
			t.Errorf("finding %s %s in %s: %s", f.PackageName, f.VulnerabilityID, f.Repository, f.Status)
		}
	}
	evs, err = st.Events(ctx, store.EventQuery{After: after, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	coverage := 0
	for _, e := range evs {
		if e.DetailType == events.InspectorCoverage {
			coverage++
			if !strings.Contains(string(e.Envelope), `"SCAN_ELIGIBILITY_EXPIRED"`) || !strings.Contains(string(e.Envelope), `"INACTIVE"`) {
				t.Errorf("coverage event %s", e.Envelope)
			}
		}
	}
	if coverage != inRepo {
		t.Errorf("%d coverage events, want %d", coverage, inRepo)
	}
	if n, err := w.Expire(ctx); err != nil || n != 0 {
		t.Errorf("a second pass expired %d (%v), want 0", n, err)
	}
}
