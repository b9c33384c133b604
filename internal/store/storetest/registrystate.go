package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// testRegistryState covers deleted tags and image indexes: RecordUntag,
// Deletion, IndexesOf and the children an index's image carries.
func testRegistryState(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	const repo = "team/multi"
	push := func(digest, tag string, at time.Time, children ...store.Child) {
		t.Helper()
		must(t, s.RecordPush(ctx, store.Push{Repository: repo, Digest: digest, Tag: tag, At: at, Children: children,
			MediaType: "application/vnd.oci.image.manifest.v1+json"}))
	}
	amd, arm, idx := dig("a1"), dig("a2"), dig("1d")
	push(amd, "", base)
	push(arm, "", base.Add(time.Second))
	push(idx, "1", base.Add(2*time.Second), store.Child{Digest: amd, Platform: "linux/amd64"}, store.Child{Digest: arm, Platform: "linux/arm64"},
		store.Child{Digest: dig("99"), Platform: "linux/s390x"})
	must(t, s.UpdateImage(ctx, store.ImageUpdate{Repository: repo, Digest: arm, ScanStatus: store.ScanFailed, ScanReason: "INTERNAL_ERROR", ScanMessage: "layer 0: not gzip"}, nil))

	t.Run("an index carries its children in order, with their state", func(t *testing.T) {
		for _, get := range []func() (*store.Image, error){
			func() (*store.Image, error) { return s.Image(ctx, repo, idx) },
			func() (*store.Image, error) { return s.ImageByTag(ctx, repo, "1") },
			func() (*store.Image, error) {
				ims, _, err := s.ListImages(ctx, store.ImageQuery{Repository: repo})
				for i := range ims {
					if ims[i].Digest == idx {
						return &ims[i], err
					}
				}
				return nil, errors.Join(err, errors.New("index not listed"))
			},
		} {
			im, err := get()
			must(t, err)
			if len(im.Children) != 3 {
				t.Fatalf("children %+v", im.Children)
			}
			c := im.Children
			if c[0].Digest != amd || c[0].Platform != "linux/amd64" || c[0].Image == nil || c[0].Image.ScanStatus != store.ScanPending ||
				c[1].Digest != arm || c[1].Platform != "linux/arm64" || c[1].Image == nil || c[1].Image.ScanMessage != "layer 0: not gzip" ||
				c[2].Digest != dig("99") || c[2].Image != nil {
				t.Errorf("children %+v / %+v / %+v", c[0], c[1], c[2])
			}
		}
		im, err := s.Image(ctx, repo, amd)
		must(t, err)
		if im.Children != nil {
			t.Errorf("an image has children: %+v", im.Children)
		}
	})

	t.Run("IndexesOf names the indexes listing a manifest", func(t *testing.T) {
		got, err := s.IndexesOf(ctx, repo, amd)
		must(t, err)
		if !slices.Equal(got, []string{idx}) {
			t.Errorf("IndexesOf %v", got)
		}
		for _, q := range [][2]string{{repo, idx}, {"team/other", amd}} {
			if got, err := s.IndexesOf(ctx, q[0], q[1]); err != nil || len(got) != 0 {
				t.Errorf("IndexesOf(%s, %s) = %v, %v", q[0], q[1], got, err)
			}
		}
	})

	t.Run("RecordUntag removes the tag, notes the deletion, appends the events", func(t *testing.T) {
		push(amd, "v1", base.Add(3*time.Second))
		at := base.Add(time.Hour)
		must(t, s.RecordUntag(ctx, repo, "v1", at, []store.Event{event("untag-1", "ECR Image Action")}))
		if _, err := s.ImageByTag(ctx, repo, "v1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tag still resolves: %v", err)
		}
		im, err := s.Image(ctx, repo, amd)
		must(t, err)
		if len(im.Tags) != 0 {
			t.Errorf("tags %v", im.Tags)
		}
		d, err := s.Deletion(ctx, repo, "v1")
		must(t, err)
		if d.Digest != amd || !d.DeletedAt.Equal(at) || d.Ref != "v1" || d.Repository != repo {
			t.Errorf("deletion %+v", d)
		}
		evs, err := s.Events(ctx, store.EventQuery{Limit: 1000})
		must(t, err)
		if !slices.Contains(eventIDs(evs), "untag-1") {
			t.Errorf("event not appended: %v", eventIDs(evs))
		}
		if err := s.RecordUntag(ctx, repo, "v1", at, []store.Event{event("untag-2", "ECR Image Action")}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("untagging again: %v", err)
		}
		evs, _ = s.Events(ctx, store.EventQuery{Limit: 1000})
		if slices.Contains(eventIDs(evs), "untag-2") {
			t.Error("a refused untag appended its event")
		}
		// Pushed again: no longer deleted.
		push(amd, "v1", base.Add(2*time.Hour))
		if _, err := s.Deletion(ctx, repo, "v1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deletion after the push again: %v", err)
		}
	})

	t.Run("RecordDelete notes the digest and its tags, and forgets an index's children", func(t *testing.T) {
		at := base.Add(3 * time.Hour)
		must(t, s.RecordDelete(ctx, repo, idx, at, nil))
		for _, ref := range []string{idx, "1"} {
			d, err := s.Deletion(ctx, repo, ref)
			must(t, err)
			if d.Digest != idx || !d.DeletedAt.Equal(at) {
				t.Errorf("deletion of %s: %+v", ref, d)
			}
		}
		if got, err := s.IndexesOf(ctx, repo, amd); err != nil || len(got) != 0 {
			t.Errorf("after deleting the index IndexesOf = %v, %v", got, err)
		}
		if _, err := s.Deletion(ctx, repo, amd); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a child of the deleted index is noted deleted: %v", err)
		}
		push(idx, "1", base.Add(4*time.Hour), store.Child{Digest: amd, Platform: "linux/amd64"})
		im, err := s.Image(ctx, repo, idx)
		must(t, err)
		if len(im.Children) != 1 || im.Children[0].Digest != amd {
			t.Errorf("pushed again with one child: %+v", im.Children)
		}
		for _, ref := range []string{idx, "1"} {
			if _, err := s.Deletion(ctx, repo, ref); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("deletion of %s after the push again: %v", ref, err)
			}
		}
	})
}
