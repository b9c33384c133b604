package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

func testPush(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	p := store.Push{
		Repository: "team/app", Digest: dig("01"), MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.oci.image.config.v1+json", ConfigDigest: dig("0c"), Tag: "latest",
		Size: 1234, Platform: "linux/amd64", At: base,
		Events: []store.Event{event("push-1", "ECR Image Action")},
		Job:    &store.Job{Kind: store.JobScan, Repository: "team/app", Digest: dig("01")},
	}
	must(t, s.RecordPush(ctx, p))

	t.Run("push records image, tag, event and job", func(t *testing.T) {
		im, err := s.ImageByTag(ctx, "team/app", "latest")
		must(t, err)
		want := store.Image{
			Repository: p.Repository, Digest: p.Digest, MediaType: p.MediaType, ArtifactType: p.ArtifactType,
			ConfigDigest: p.ConfigDigest, Tags: []string{"latest"}, Size: p.Size, Platform: p.Platform, PushedAt: base,
			ScanStatus: store.ScanPending, ScanReason: "PENDING_INITIAL_SCAN",
		}
		if d := diffJSON(im, want); d != "" {
			t.Error(d)
		}
		r, err := s.Repository(ctx, "team/app")
		must(t, err)
		if r.Images != 1 || !r.CreatedAt.Equal(base) || r.RescanDuration != "LIFETIME" || r.RescanBasis != "PUSH" {
			t.Errorf("repository %+v", r)
		}
		evs, err := s.Events(ctx, store.EventQuery{})
		must(t, err)
		if len(evs) != 1 || evs[0].ID != "push-1" || evs[0].Source != "vigil.test" || evs[0].DetailType != "ECR Image Action" ||
			!evs[0].Time.Equal(base) || string(evs[0].Envelope) != string(p.Events[0].Envelope) || evs[0].Seq <= 0 {
			t.Errorf("events %+v", evs)
		}
		jobs, err := s.Jobs(ctx, "queued", 10)
		must(t, err)
		if len(jobs) != 1 || jobs[0].Kind != store.JobScan || jobs[0].Digest != dig("01") || jobs[0].State != "queued" {
			t.Errorf("jobs %+v", jobs)
		}
	})

	t.Run("tag moves to the newer push", func(t *testing.T) {
		p2 := p
		p2.Digest, p2.At, p2.Events = dig("02"), base.Add(time.Minute), []store.Event{event("push-2", "ECR Image Action")}
		p2.Job = &store.Job{Kind: store.JobScan, Repository: "team/app", Digest: dig("02")}
		must(t, s.RecordPush(ctx, p2))
		im, err := s.ImageByTag(ctx, "team/app", "latest")
		must(t, err)
		if im.Digest != dig("02") {
			t.Errorf("latest is %s, want %s", im.Digest, dig("02"))
		}
		old, err := s.Image(ctx, "team/app", dig("01"))
		must(t, err)
		if len(old.Tags) != 0 {
			t.Errorf("the old image keeps tags %v", old.Tags)
		}
	})

	t.Run("push again keeps scan state and findings", func(t *testing.T) {
		must(t, s.UpdateFindings(ctx, "team/app", dig("01"), func([]store.Finding) (store.FindingsUpdate, error) {
			f := fixFinding(0, fixImage{repo: "team/app", digest: dig("01")})
			return store.FindingsUpdate{Findings: []store.Finding{f}, Image: &store.ImageUpdate{ScanStatus: store.ScanComplete, ScanReason: "SUCCESSFUL"}}, nil
		}))
		p3 := p
		p3.Tag, p3.Size, p3.At, p3.Events, p3.Job = "v1", 999, base.Add(2*time.Minute), nil, nil
		must(t, s.RecordPush(ctx, p3))
		im, err := s.Image(ctx, "team/app", dig("01"))
		must(t, err)
		if im.ScanStatus != store.ScanComplete || im.Size != 999 || !slices.Equal(im.Tags, []string{"v1"}) || !im.PushedAt.Equal(p3.At) || im.Counts.Total != 1 {
			t.Errorf("image after a second push: %+v", im)
		}
	})

	t.Run("a queued job is not queued twice", func(t *testing.T) {
		p4 := p
		p4.Tag, p4.Events = "", nil
		must(t, s.RecordPush(ctx, p4))
		jobs, err := s.Jobs(ctx, "queued", 10)
		must(t, err)
		if len(jobs) != 2 {
			t.Errorf("%d queued jobs, want 2 (one per image)", len(jobs))
		}
	})

	t.Run("a failed push writes nothing", func(t *testing.T) {
		bad := []store.Push{
			{Repository: "new/repo", Digest: dig("03"), Tag: "x", At: base, Events: []store.Event{{ID: "e", Source: "s", DetailType: "d", Envelope: []byte("not json")}}},
			{Repository: "new/repo", Digest: dig("03"), Tag: "x", At: base, Events: []store.Event{event("push-3", "ECR Image Action")}, Job: &store.Job{}},
			{Repository: "new/repo", Digest: dig("03"), Tag: "x", At: base, Events: []store.Event{event("push-1", "ECR Image Action")}},
			{Repository: "new/repo", Tag: "x", At: base},
			{Digest: dig("03"), At: base},
		}
		nEvents := len(must2(s.Events(ctx, store.EventQuery{})))
		nJobs := len(must2(s.Jobs(ctx, "queued", 100)))
		for i, b := range bad {
			if err := s.RecordPush(ctx, b); err == nil {
				t.Errorf("bad push %d accepted", i)
			}
		}
		if _, err := s.Repository(ctx, "new/repo"); err == nil {
			t.Error("a failed push created its repository")
		}
		if _, err := s.Image(ctx, "new/repo", dig("03")); err == nil {
			t.Error("a failed push created its image")
		}
		if n := len(must2(s.Events(ctx, store.EventQuery{}))); n != nEvents {
			t.Errorf("a failed push appended %d events", n-nEvents)
		}
		if n := len(must2(s.Jobs(ctx, "queued", 100))); n != nJobs {
			t.Errorf("a failed push queued %d jobs", n-nJobs)
		}
	})
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// diffJSON compares two values by their JSON, which holds every field
// the API shows.
func diffJSON(got, want any) string {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		return fmt.Sprintf("got  %s\nwant %s", g, w)
	}
	return ""
}

func testDelete(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	im := fixImage{repo: "team/app", digest: dig("0d")}
	push(t, s, im.repo, im.digest, "latest", base)
	push(t, s, im.repo, im.digest, "v1", base)
	push(t, s, im.repo, dig("0e"), "v2", base)
	var fs []store.Finding
	for i := range 8 {
		fs = append(fs, fixFinding(i, im))
	}
	must(t, s.UpdateFindings(ctx, im.repo, im.digest, func([]store.Finding) (store.FindingsUpdate, error) {
		return store.FindingsUpdate{Findings: fs}, nil
	}))
	at := base.Add(3 * time.Hour)
	must(t, s.RecordDelete(ctx, im.repo, im.digest, at, []store.Event{event("delete-1", "ECR Image Action")}))

	if _, err := s.Image(ctx, im.repo, im.digest); err == nil {
		t.Error("the deleted image is still there")
	}
	_, err := s.ImageByTag(ctx, im.repo, "latest")
	wantErr(t, "tag of a deleted image", err, store.ErrNotFound)
	r, err := s.Repository(ctx, im.repo)
	must(t, err)
	if r.Images != 1 {
		t.Errorf("repository counts %d images, want 1", r.Images)
	}
	for _, want := range fs {
		got, err := s.Finding(ctx, want.ID)
		must(t, err)
		if want.Status != store.Closed {
			want.Status, want.SuppressedBy, want.UpdatedAt = store.Closed, "", at
			var d struct {
				Status    string  `json:"status"`
				UpdatedAt float64 `json:"updatedAt"`
				N         *int    `json:"n"`
			}
			if err := json.Unmarshal(got.Data, &d); err != nil || d.Status != "CLOSED" || d.UpdatedAt != float64(at.Unix()) || d.N == nil {
				t.Errorf("finding %s data not closed: %s", want.ID, got.Data)
			}
		} else if string(got.Data) != string(want.Data) {
			t.Errorf("finding %s closed before: data changed", want.ID)
		}
		want.Data = got.Data
		if d := diffFinding(*got, want); d != "" {
			t.Errorf("finding %s: %s", want.ID, d)
		}
	}
	// Closed findings of the deleted image stay listable, also by
	// queries that need the image.
	for _, field := range []string{"ECR_IMAGE_PUSHED_AT", "SEVERITY"} {
		got := listAll(t, s, store.FindingQuery{Filter: store.FilterCriteria{EcrImageHash: eq(im.digest)}, SortField: field}, 3)
		if len(got) != len(fs) {
			t.Errorf("sorted by %s: %d findings of the deleted image listed, want %d", field, len(got), len(fs))
		}
	}
	aggs, _, err := s.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggImage, Filter: store.FilterCriteria{FindingStatus: eq("CLOSED")}})
	must(t, err)
	if len(aggs) != 1 || aggs[0].Counts.Total != len(fs) || len(aggs[0].Tags) != 0 {
		t.Errorf("aggregation of the deleted image: %+v", aggs)
	}
	evs, err := s.Events(ctx, store.EventQuery{})
	must(t, err)
	if len(evs) != 1 || evs[0].ID != "delete-1" {
		t.Errorf("events %+v", evs)
	}

	err = s.RecordDelete(ctx, im.repo, im.digest, at, []store.Event{event("delete-2", "ECR Image Action")})
	wantErr(t, "deleting twice", err, store.ErrNotFound)
	if n := len(must2(s.Events(ctx, store.EventQuery{}))); n != 1 {
		t.Errorf("a failed delete appended events")
	}

	// Pushed again, the image is back, pending, with its closed findings.
	push(t, s, im.repo, im.digest, "latest", at.Add(time.Hour))
	back, err := s.Image(ctx, im.repo, im.digest)
	must(t, err)
	if back.ScanStatus != store.ScanPending || back.Counts.Total != 0 || !slices.Equal(back.Tags, []string{"latest"}) {
		t.Errorf("image pushed again: %+v", back)
	}
	must(t, s.UpdateFindings(ctx, im.repo, im.digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
		if len(existing) != len(fs) {
			t.Errorf("image pushed again has %d findings, want its %d closed ones", len(existing), len(fs))
		}
		return store.FindingsUpdate{}, nil
	}))
}

func testPull(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	push(t, s, "team/app", dig("0f"), "latest", base)
	must(t, s.RecordPull(ctx, "team/app", dig("0f"), base.Add(time.Hour)))
	must(t, s.RecordPull(ctx, "team/app", dig("0f"), base.Add(time.Minute))) // older: ignored
	im, err := s.Image(ctx, "team/app", dig("0f"))
	must(t, err)
	if !im.LastPulledAt.Equal(base.Add(time.Hour)) {
		t.Errorf("last pulled %v, want %v", im.LastPulledAt, base.Add(time.Hour))
	}
	wantErr(t, "pull of an unknown image", s.RecordPull(ctx, "team/app", dig("ff"), base), store.ErrNotFound)
}

func testRepositories(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	push(t, s, "zeta", dig("11"), "a", base)
	push(t, s, "alpha/one", dig("12"), "a", base)
	push(t, s, "alpha/one", dig("13"), "b", base)
	rs, err := s.ListRepositories(ctx)
	must(t, err)
	if len(rs) != 2 || rs[0].Name != "alpha/one" || rs[0].Images != 2 || rs[1].Name != "zeta" || rs[1].Images != 1 {
		t.Errorf("repositories %+v", rs)
	}
	must(t, s.SetRescanDuration(ctx, "zeta", "DAYS_30", "PULL"))
	r, err := s.Repository(ctx, "zeta")
	must(t, err)
	if r.RescanDuration != "DAYS_30" || r.RescanBasis != "PULL" {
		t.Errorf("rescan settings %+v", r)
	}
	for _, c := range []struct{ repo, duration, basis string }{
		{"zeta", "DAYS_7", "PUSH"}, {"zeta", "LIFETIME", "FETCH"}, {"zeta", "", "PUSH"},
	} {
		wantErr(t, fmt.Sprintf("rescan %+v", c), s.SetRescanDuration(ctx, c.repo, c.duration, c.basis), store.ErrInvalid)
	}
	wantErr(t, "rescan of an unknown repository", s.SetRescanDuration(ctx, "nope", "DAYS_14", "PUSH"), store.ErrNotFound)
	_, err = s.Repository(ctx, "nope")
	wantErr(t, "unknown repository", err, store.ErrNotFound)
	r, err = s.Repository(ctx, "zeta")
	must(t, err)
	if r.RescanDuration != "DAYS_30" {
		t.Errorf("a rejected change changed the repository: %+v", r)
	}
}

func testImages(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	type img struct {
		repo, digest, tag string
		at                time.Duration
	}
	imgs := []img{
		{"r/a", dig("21"), "latest", 1}, {"r/a", dig("22"), "v1", 2}, {"r/b", dig("23"), "latest", 3},
		{"r/b", dig("24"), "", 3}, {"r/a", dig("25"), "v2", 3}, {"r/b", dig("26"), "v1", 5}, {"r/a", dig("27"), "", 6},
	}
	for _, im := range imgs {
		push(t, s, im.repo, im.digest, im.tag, base.Add(im.at*time.Minute))
	}
	must(t, s.UpdateImage(ctx, store.ImageUpdate{Repository: "r/a", Digest: dig("22"), ScanStatus: store.ScanComplete}, nil))
	must(t, s.UpdateImage(ctx, store.ImageUpdate{Repository: "r/b", Digest: dig("26"), ScanStatus: store.ScanComplete}, nil))

	listAllImages := func(q store.ImageQuery) []string {
		t.Helper()
		q.Limit = 2
		var out []string
		for pages := 0; ; pages++ {
			page, next, err := s.ListImages(ctx, q)
			must(t, err)
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			for _, im := range page {
				out = append(out, im.Repository+"@"+im.Digest[7:9])
			}
			if next == "" {
				return out
			}
			q.Next = next
		}
	}
	for _, c := range []struct {
		name string
		q    store.ImageQuery
		want []string
	}{
		{"all, newest first", store.ImageQuery{}, []string{"r/a@27", "r/b@26", "r/b@24", "r/b@23", "r/a@25", "r/a@22", "r/a@21"}},
		{"repository", store.ImageQuery{Repository: "r/a"}, []string{"r/a@27", "r/a@25", "r/a@22", "r/a@21"}},
		{"tag", store.ImageQuery{Tag: "latest"}, []string{"r/b@23", "r/a@21"}},
		{"repository and tag", store.ImageQuery{Repository: "r/b", Tag: "v1"}, []string{"r/b@26"}},
		{"scan status", store.ImageQuery{ScanStatus: store.ScanComplete}, []string{"r/b@26", "r/a@22"}},
	} {
		if got := listAllImages(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	_, next, err := s.ListImages(ctx, store.ImageQuery{Limit: 1})
	must(t, err)
	_, _, err = s.ListImages(ctx, store.ImageQuery{Limit: 1, Repository: "r/a", Next: next})
	wantErr(t, "image token of another query", err, store.ErrInvalid)
	_, _, err = s.ListImages(ctx, store.ImageQuery{Next: "x"})
	wantErr(t, "malformed image token", err, store.ErrInvalid)

	t.Run("tags and counts in lists", func(t *testing.T) {
		im := fixImage{repo: "r/a", digest: dig("21")}
		push(t, s, im.repo, im.digest, "stable", base.Add(time.Minute))
		var fs []store.Finding
		var want store.Counts
		for i := range 14 {
			f := fixFinding(i, im)
			fs = append(fs, f)
			if f.Status == store.Active {
				addTo(&want, f.Severity)
			}
		}
		must(t, s.UpdateFindings(ctx, im.repo, im.digest, func([]store.Finding) (store.FindingsUpdate, error) {
			return store.FindingsUpdate{Findings: fs}, nil
		}))
		page, _, err := s.ListImages(ctx, store.ImageQuery{Repository: "r/a"})
		must(t, err)
		i := slices.IndexFunc(page, func(x store.Image) bool { return x.Digest == im.digest })
		if i < 0 {
			t.Fatal("image not listed")
		}
		got := page[i]
		if !slices.Equal(got.Tags, []string{"latest", "stable"}) || got.Counts != want || want.Untriaged == 0 || want.Total == len(fs) {
			t.Errorf("listed image tags %v counts %+v, want [latest stable] %+v", got.Tags, got.Counts, want)
		}
		one, err := s.Image(ctx, im.repo, im.digest)
		must(t, err)
		if d := diffJSON(one, got); d != "" {
			t.Errorf("Image and ListImages differ: %s", d)
		}
	})

	t.Run("update keeps what is not given", func(t *testing.T) {
		full := store.ImageUpdate{Repository: "r/a", Digest: dig("25"), ScanStatus: store.ScanFailed, ScanReason: "INTERNAL_ERROR",
			ScanMessage: "layer 2: corrupt", ScannedAt: base.Add(time.Hour), Distro: "alpine 3.20", InventoryHash: "inv"}
		must(t, s.UpdateImage(ctx, full, []store.Event{event("cov-1", "Inspector2 Coverage")}))
		must(t, s.UpdateImage(ctx, store.ImageUpdate{Repository: "r/a", Digest: dig("25"), ScanStatus: store.ScanInProgress}, nil))
		im, err := s.Image(ctx, "r/a", dig("25"))
		must(t, err)
		if im.ScanStatus != store.ScanInProgress || im.ScanReason != full.ScanReason || im.ScanMessage != full.ScanMessage ||
			!im.ScannedAt.Equal(full.ScannedAt) || im.Distro != full.Distro || im.InventoryHash != full.InventoryHash {
			t.Errorf("image after updates: %+v", im)
		}
		evs, err := s.Events(ctx, store.EventQuery{DetailType: "Inspector2 Coverage"})
		must(t, err)
		if len(evs) != 1 {
			t.Errorf("%d coverage events, want 1", len(evs))
		}
		err = s.UpdateImage(ctx, store.ImageUpdate{Repository: "r/a", Digest: dig("25"), ScanStatus: store.ScanComplete},
			[]store.Event{{ID: "x", Source: "s", DetailType: "d"}})
		wantErr(t, "update with an invalid event", err, store.ErrInvalid)
		im, err = s.Image(ctx, "r/a", dig("25"))
		must(t, err)
		if im.ScanStatus != store.ScanInProgress {
			t.Error("a failed update changed the image")
		}
		err = s.UpdateImage(ctx, store.ImageUpdate{Repository: "r/a", Digest: dig("99"), ScanStatus: store.ScanComplete}, []store.Event{event("cov-2", "Inspector2 Coverage")})
		wantErr(t, "update of an unknown image", err, store.ErrNotFound)
		if n := len(must2(s.Events(ctx, store.EventQuery{DetailType: "Inspector2 Coverage"}))); n != 1 {
			t.Error("a failed update appended its event")
		}
	})

	_, err = s.Image(ctx, "r/a", dig("99"))
	wantErr(t, "unknown image", err, store.ErrNotFound)
	_, err = s.ImageByTag(ctx, "r/a", "nope")
	wantErr(t, "unknown tag", err, store.ErrNotFound)
}
