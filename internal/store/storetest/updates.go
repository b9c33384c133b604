package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// state is what the suite checks is unchanged after a failed write.
type state struct {
	findings []store.Finding
	image    store.Image
	events   int
}

func snapshot(t *testing.T, s store.Store, repo, digest string) state {
	t.Helper()
	ctx := context.Background()
	fs := listAll(t, s, store.FindingQuery{Filter: store.FilterCriteria{EcrImageHash: eq(digest)}}, 1000)
	im, err := s.Image(ctx, repo, digest)
	must(t, err)
	evs, err := s.Events(ctx, store.EventQuery{Limit: 1000})
	must(t, err)
	return state{findings: fs, image: *im, events: len(evs)}
}

func (a state) diff(b state) string {
	if len(a.findings) != len(b.findings) {
		return "findings were added or removed"
	}
	for i := range a.findings {
		if d := diffFinding(a.findings[i], b.findings[i]); d != "" {
			return "finding changed: " + d
		}
	}
	ai, _ := json.Marshal(a.image)
	bi, _ := json.Marshal(b.image)
	if string(ai) != string(bi) {
		return "image changed: " + string(ai) + " → " + string(bi)
	}
	if a.events != b.events {
		return "events were appended"
	}
	return ""
}

func testUpdateFindings(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	im := fixImage{repo: "team/app", digest: dig("d1")}
	other := fixImage{repo: "team/app", digest: dig("d2")}
	push(t, s, im.repo, im.digest, "latest", base)
	push(t, s, other.repo, other.digest, "", base)
	var fs []store.Finding
	for i := range 6 {
		fs = append(fs, fixFinding(i, im))
	}
	fs[3].Status = store.Active // i%7 == 3 would be CLOSED

	t.Run("insert with image update and events", func(t *testing.T) {
		err := s.UpdateFindings(ctx, im.repo, im.digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
			if len(existing) != 0 {
				t.Errorf("a new image has %d findings", len(existing))
			}
			return store.FindingsUpdate{
				Findings: fs,
				Image:    &store.ImageUpdate{ScanStatus: store.ScanComplete, ScanReason: "SUCCESSFUL", ScannedAt: base, Distro: "debian 12", InventoryHash: "inv1"},
				Events:   []store.Event{event("scan-1", "Inspector2 Scan")},
			}, nil
		})
		must(t, err)
		for _, want := range fs {
			got, err := s.Finding(ctx, want.ID)
			must(t, err)
			if d := diffFinding(*got, want); d != "" {
				t.Errorf("finding %s: %s", want.ID, d)
			}
		}
		got, err := s.Image(ctx, im.repo, im.digest)
		must(t, err)
		if got.ScanStatus != store.ScanComplete || got.ScanReason != "SUCCESSFUL" || !got.ScannedAt.Equal(base) || got.Distro != "debian 12" || got.InventoryHash != "inv1" {
			t.Errorf("image update not applied: %+v", got)
		}
		var want store.Counts
		for _, f := range fs {
			if f.Status == store.Active {
				addTo(&want, f.Severity)
			}
		}
		if got.Counts != want || want.Total == 0 || want.Total == len(fs) {
			t.Errorf("counts %+v, want %+v (of %d findings)", got.Counts, want, len(fs))
		}
		evs, err := s.Events(ctx, store.EventQuery{DetailType: "Inspector2 Scan"})
		must(t, err)
		if len(evs) != 1 || evs[0].ID != "scan-1" {
			t.Errorf("events %+v", evs)
		}
	})

	t.Run("rescan touches, updates and closes", func(t *testing.T) {
		later := base.Add(time.Hour)
		err := s.UpdateFindings(ctx, im.repo, im.digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
			if !slices.Equal(sortedIDs(existing), sortedIDs(fs)) {
				t.Errorf("existing %v, want %v", sortedIDs(existing), sortedIDs(fs))
			}
			var out []store.Finding
			for _, f := range existing {
				switch f.ID {
				case fs[0].ID: // seen again, nothing else changed
					f.LastObservedAt = later
					f.Data = findingData(f, 1)
				case fs[1].ID: // rescored
					f.Severity, f.Score, f.UpdatedAt, f.LastObservedAt = "LOW", ptr(1.5), later, later
				case fs[2].ID: // gone
					f.Status, f.UpdatedAt = store.Closed, later
				case fs[4].ID: // unchanged: returned as it is
				default:
					continue
				}
				out = append(out, f)
			}
			return store.FindingsUpdate{Findings: out}, nil
		})
		must(t, err)
		want := slices.Clone(fs)
		want[0].LastObservedAt, want[0].Data = later, findingData(fs[0], 1)
		want[1].Severity, want[1].Score, want[1].UpdatedAt, want[1].LastObservedAt = "LOW", ptr(1.5), later, later
		want[2].Status, want[2].UpdatedAt = store.Closed, later
		for _, w := range want {
			got, err := s.Finding(ctx, w.ID)
			must(t, err)
			if d := diffFinding(*got, w); d != "" {
				t.Errorf("finding %s: %s", w.ID, d)
			}
		}
		// The rescored finding sorts by its new severity.
		low := listAll(t, s, store.FindingQuery{Filter: store.FilterCriteria{Severity: eq("LOW"), EcrImageHash: eq(im.digest)}}, 100)
		if !slices.Contains(ids(low), fs[1].ID) {
			t.Errorf("rescored finding not found by its new severity")
		}
		fs = want
	})

	t.Run("failures write nothing", func(t *testing.T) {
		before := snapshot(t, s, im.repo, im.digest)
		changed := func(existing []store.Finding) []store.Finding {
			out := slices.Clone(existing)
			for i := range out {
				out[i].Severity, out[i].LastObservedAt = "CRITICAL", base.Add(5*time.Hour)
			}
			return out
		}
		foreign := fixFinding(40, other)
		bad := event("", "Inspector2 Finding")
		cases := []struct {
			name   string
			fn     func([]store.Finding) (store.FindingsUpdate, error)
			target error
		}{
			{"callback error", func(e []store.Finding) (store.FindingsUpdate, error) {
				return store.FindingsUpdate{Findings: changed(e)}, errBoom
			}, errBoom},
			{"invalid event", func(e []store.Finding) (store.FindingsUpdate, error) {
				return store.FindingsUpdate{Findings: changed(e), Events: []store.Event{event("ok-1", "Inspector2 Finding"), bad}}, nil
			}, store.ErrInvalid},
			{"event envelope not JSON", func(e []store.Finding) (store.FindingsUpdate, error) {
				ev := event("ok-2", "Inspector2 Finding")
				ev.Envelope = []byte("{")
				return store.FindingsUpdate{Findings: changed(e), Events: []store.Event{ev}}, nil
			}, store.ErrInvalid},
			{"finding of another image", func(e []store.Finding) (store.FindingsUpdate, error) {
				return store.FindingsUpdate{Findings: append(changed(e), foreign)}, nil
			}, store.ErrInvalid},
			{"finding without status", func(e []store.Finding) (store.FindingsUpdate, error) {
				f := fixFinding(41, im)
				f.Status = ""
				return store.FindingsUpdate{Findings: append(changed(e), f)}, nil
			}, store.ErrInvalid},
			{"image update without status", func(e []store.Finding) (store.FindingsUpdate, error) {
				return store.FindingsUpdate{Findings: changed(e), Image: &store.ImageUpdate{Distro: "alpine 3.20"}}, nil
			}, store.ErrInvalid},
			{"duplicate event id", func(e []store.Finding) (store.FindingsUpdate, error) {
				return store.FindingsUpdate{Findings: changed(e), Events: []store.Event{event("scan-1", "Inspector2 Scan")}}, nil
			}, store.ErrConflict},
		}
		for _, c := range cases {
			err := s.UpdateFindings(ctx, im.repo, im.digest, c.fn)
			wantErr(t, c.name, err, c.target)
			if d := before.diff(snapshot(t, s, im.repo, im.digest)); d != "" {
				t.Errorf("%s: %s", c.name, d)
			}
		}
	})

	t.Run("finding id of another image", func(t *testing.T) {
		theirs := fixFinding(50, other)
		must(t, s.UpdateFindings(ctx, other.repo, other.digest, func([]store.Finding) (store.FindingsUpdate, error) {
			return store.FindingsUpdate{Findings: []store.Finding{theirs}}, nil
		}))
		before := snapshot(t, s, im.repo, im.digest)
		stolen := theirs
		stolen.Repository, stolen.ImageDigest = im.repo, im.digest
		err := s.UpdateFindings(ctx, im.repo, im.digest, func([]store.Finding) (store.FindingsUpdate, error) {
			return store.FindingsUpdate{Findings: []store.Finding{stolen}}, nil
		})
		wantErr(t, "finding id of another image", err, store.ErrConflict)
		got, err := s.Finding(ctx, theirs.ID)
		must(t, err)
		if got.ImageDigest != other.digest {
			t.Errorf("the finding moved to %s", got.ImageDigest)
		}
		if d := before.diff(snapshot(t, s, im.repo, im.digest)); d != "" {
			t.Error(d)
		}
	})

	t.Run("unknown image", func(t *testing.T) {
		called := false
		err := s.UpdateFindings(ctx, im.repo, dig("ee"), func([]store.Finding) (store.FindingsUpdate, error) {
			called = true
			return store.FindingsUpdate{}, nil
		})
		wantErr(t, "unknown image", err, store.ErrNotFound)
		if called {
			t.Error("callback called for an unknown image")
		}
		_, err = s.Finding(ctx, "nope")
		wantErr(t, "unknown finding", err, store.ErrNotFound)
	})

	t.Run("concurrent updaters take turns", func(t *testing.T) {
		// Each update reads a counter from a finding and writes it back
		// plus one: a lost update shows as a count short.
		counter := fixFinding(60, im)
		must(t, s.UpdateFindings(ctx, im.repo, im.digest, func([]store.Finding) (store.FindingsUpdate, error) {
			return store.FindingsUpdate{Findings: []store.Finding{counter}}, nil
		}))
		const workers, each = 2, 15
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					errs <- s.UpdateFindings(ctx, im.repo, im.digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
						for _, f := range existing {
							if f.ID != counter.ID {
								continue
							}
							var d struct{ N int }
							if err := json.Unmarshal(f.Data, &d); err != nil {
								return store.FindingsUpdate{}, err
							}
							time.Sleep(time.Millisecond) // widen the window for a lost update
							f.Data = findingData(f, d.N+1)
							return store.FindingsUpdate{Findings: []store.Finding{f}}, nil
						}
						return store.FindingsUpdate{}, errors.New("counter finding missing")
					})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		got, err := s.Finding(ctx, counter.ID)
		must(t, err)
		var d struct{ N int }
		must(t, json.Unmarshal(got.Data, &d))
		if d.N != workers*each {
			t.Errorf("counter %d after %d updates: updates were lost", d.N, workers*each)
		}
	})
}

var errBoom = errors.New("boom")

func sortedIDs(fs []store.Finding) []string {
	out := ids(fs)
	slices.Sort(out)
	return out
}

func testUpdateAllFindings(t *testing.T, open func(t *testing.T) store.Store) {
	fx := newFixture(t, open(t))
	ctx := context.Background()
	var live []store.Finding
	for _, f := range fx.findings {
		if f.Status != store.Closed {
			live = append(live, f)
		}
	}
	later := base.Add(20 * time.Hour)
	before := listAll(t, fx.s, store.FindingQuery{}, 1000)
	err := fx.s.UpdateAllFindings(ctx, func(existing []store.Finding) ([]store.Finding, []store.Event, error) {
		for i := range existing {
			existing[i].Status = store.Suppressed
		}
		return existing, nil, errBoom
	})
	wantErr(t, "callback error", err, errBoom)
	after := listAll(t, fx.s, store.FindingQuery{}, 1000)
	for i := range before {
		if d := diffFinding(after[i], before[i]); d != "" {
			t.Fatalf("a failed UpdateAllFindings wrote: %s", d)
		}
	}

	var changed []string
	err = fx.s.UpdateAllFindings(ctx, func(existing []store.Finding) ([]store.Finding, []store.Event, error) {
		if !slices.Equal(sortedIDs(existing), sortedIDs(live)) {
			t.Errorf("existing %v\nwant the findings not closed %v", sortedIDs(existing), sortedIDs(live))
		}
		var out []store.Finding
		var evs []store.Event
		for _, f := range existing {
			if f.PackageName != "openssl" {
				continue
			}
			if f.Status == store.Active {
				f.Status, f.SuppressedBy = store.Suppressed, "rule-openssl"
			} else {
				f.Status, f.SuppressedBy = store.Active, ""
			}
			f.UpdatedAt = later
			out = append(out, f)
			evs = append(evs, event("rule-"+f.ID, "Inspector2 Finding"))
			changed = append(changed, f.ID)
		}
		return out, evs, nil
	})
	must(t, err)
	if len(changed) < 2 {
		t.Fatalf("the test changed %d findings", len(changed))
	}
	for _, want := range live {
		got, err := fx.s.Finding(ctx, want.ID)
		must(t, err)
		if want.PackageName == "openssl" {
			if want.Status == store.Active {
				want.Status, want.SuppressedBy = store.Suppressed, "rule-openssl"
			} else {
				want.Status, want.SuppressedBy = store.Active, ""
			}
			want.UpdatedAt = later
		}
		if d := diffFinding(*got, want); d != "" {
			t.Errorf("finding %s: %s", want.ID, d)
		}
	}
	evs, err := fx.s.Events(ctx, store.EventQuery{DetailType: "Inspector2 Finding"})
	must(t, err)
	if len(evs) != len(changed) {
		t.Errorf("%d events, want %d", len(evs), len(changed))
	}
}
