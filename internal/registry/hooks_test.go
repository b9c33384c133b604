package registry

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var errBackend = errors.New("backend down: postgres://vigil:hunter2@db")

// recorder collects hook calls.
type recorder struct {
	mu      sync.Mutex
	pushes  []Pushed
	deletes []string
	pulls   []string
	blobs   []string
	// failPush and failDelete make the next so many calls fail.
	failPush, failDelete int
}

func (rec *recorder) options() Options {
	return Options{
		OnPush: func(_ context.Context, p Pushed) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.pushes = append(rec.pushes, p)
			if rec.failPush > 0 {
				rec.failPush--
				return errBackend
			}
			return nil
		},
		OnDelete: func(_ context.Context, repository, digest string) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.deletes = append(rec.deletes, repository+"@"+digest)
			if rec.failDelete > 0 {
				rec.failDelete--
				return errBackend
			}
			return nil
		},
		OnPull: func(repository, digest string) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.pulls = append(rec.pulls, repository+"@"+digest)
		},
		OnBlob: func(repository, digest string) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.blobs = append(rec.blobs, repository+"@"+digest)
		},
	}
}

// hookCalls are the calls a recorder has seen.
type hookCalls struct {
	pushes                []Pushed
	deletes, pulls, blobs []string
}

// calls returns copies of the calls seen so far.
func (rec *recorder) calls() hookCalls {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return hookCalls{slices.Clone(rec.pushes), slices.Clone(rec.deletes), slices.Clone(rec.pulls), slices.Clone(rec.blobs)}
}

// waitFor waits for the calls to satisfy ok: OnPull and OnBlob run after
// the client has its answer.
func (rec *recorder) waitFor(t *testing.T, ok func(hookCalls) bool) hookCalls {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := rec.calls()
		if ok(c) || time.Now().After(deadline) {
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantPushed is what OnPush must report for img pushed to repo:tag, as
// ggcr reads the image from its layout.
func wantPushed(t *testing.T, img v1.Image, repo, tag string) Pushed {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	p := Pushed{
		Repository: repo, Digest: mustDigest(t, img).String(), MediaType: string(mt),
		ArtifactType: string(m.Config.MediaType), ConfigDigest: m.Config.Digest.String(), Tag: tag,
		Size: int64(len(raw)), Platform: cfg.OS + "/" + cfg.Architecture,
	}
	if cfg.Variant != "" {
		p.Platform += "/" + cfg.Variant
	}
	for _, l := range m.Layers {
		p.Layers = append(p.Layers, Descriptor{MediaType: string(l.MediaType), Digest: l.Digest.String(), Size: l.Size})
	}
	return p
}

func equalPushed(a, b Pushed) bool {
	return a.Repository == b.Repository && a.Digest == b.Digest && a.MediaType == b.MediaType &&
		a.ArtifactType == b.ArtifactType && a.ConfigDigest == b.ConfigDigest && a.Tag == b.Tag &&
		a.Size == b.Size && a.Platform == b.Platform && slices.Equal(a.Children, b.Children) && slices.Equal(a.Layers, b.Layers)
}

func TestOnPushFailsThenRetried(t *testing.T) {
	rec := &recorder{failPush: 1}
	tr := startRegistry(t, rec.options())
	img, _ := layoutImage(t, "alpine-3.20.3")
	// Without retries, so that the first failure reaches the client.
	noRetry := append(remoteOpts(pushToken), remote.WithRetryStatusCodes(), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	err := remote.Write(tr.ref(t, "team/app:1"), img, noRetry...)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusInternalServerError {
		t.Fatalf("push with a failing OnPush: %v, want a 500", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the hook's error reached the client: %v", err)
	}
	if len(rec.calls().pushes) != 1 {
		t.Fatalf("OnPush called %d times, want 1", len(rec.calls().pushes))
	}
	// The unrecorded push was undone.
	for _, ref := range []string{"team/app:1", "team/app@" + mustDigest(t, img).String()} {
		if _, err := remote.Head(tr.ref(t, ref), remoteOpts(pullToken)...); !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
			t.Errorf("%s after a failed OnPush: %v, want a 404", ref, err)
		}
	}
	if err := remote.Write(tr.ref(t, "team/app:1"), img, noRetry...); err != nil {
		t.Fatal(err)
	}
	want := wantPushed(t, img, "team/app", "1")
	if len(rec.calls().pushes) != 2 || !equalPushed(rec.calls().pushes[0], want) || !equalPushed(rec.calls().pushes[1], want) {
		t.Fatalf("OnPush got %+v\nwant twice %+v", rec.calls().pushes, want)
	}

	// Every blob the image holds was reported as it arrived.
	m, _ := img.Manifest()
	var wantBlobs []string
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		wantBlobs = append(wantBlobs, "team/app@"+d.Digest.String())
	}
	blobs := rec.waitFor(t, func(c hookCalls) bool { return len(c.blobs) >= len(wantBlobs) }).blobs
	slices.Sort(blobs)
	slices.Sort(wantBlobs)
	if !slices.Equal(blobs, wantBlobs) {
		t.Errorf("OnBlob calls %v, want %v", blobs, wantBlobs)
	}

	// A push by digest has no tag. (ggcr would skip it: the manifest is
	// there.)
	raw, _ := img.RawManifest()
	if resp, body := tr.do(t, "PUT", "/v2/team/app/manifests/"+want.Digest, pushToken, want.MediaType, raw); resp.StatusCode != http.StatusCreated {
		t.Fatalf("push by digest: %s %s", resp.Status, body)
	}
	want.Tag = ""
	if len(rec.calls().pushes) != 3 || !equalPushed(rec.calls().pushes[2], want) {
		t.Errorf("push by digest: OnPush got %+v, want %+v", rec.calls().pushes[len(rec.calls().pushes)-1], want)
	}

	// Pulls are reported, HEADs are not.
	if _, err := remote.Head(tr.ref(t, "team/app:1"), remoteOpts(pullToken)...); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Get(tr.ref(t, "team/app:1"), remoteOpts(pullToken)...); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, func(c hookCalls) bool { return len(c.pulls) > 0 })
	time.Sleep(100 * time.Millisecond) // for a wrongly reported HEAD to show up too
	if pulls := rec.calls().pulls; !slices.Equal(pulls, []string{"team/app@" + want.Digest}) {
		t.Errorf("pulls %v, want the GET's alone", pulls)
	}
}

// TestOnPushBeforeSuccess checks that the client has no answer while
// OnPush runs.
func TestOnPushBeforeSuccess(t *testing.T) {
	entered, release := make(chan Pushed, 1), make(chan struct{})
	tr := startRegistry(t, Options{OnPush: func(_ context.Context, p Pushed) error {
		entered <- p
		<-release
		return nil
	}})
	// Released at the latest before the server closes, which waits for
	// the hook.
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock)
	img, _ := layoutImage(t, "alpine-3.20.3")
	m, _ := img.Manifest()
	// Blobs first, so that the manifest PUT alone waits on the hook.
	layers, _ := img.Layers()
	for _, l := range layers {
		if err := remote.WriteLayer(tr.ref(t, "team/app:1").Context(), l, remoteOpts(pushToken)...); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := img.RawConfigFile()
	tr.upload(t, "team/app", m.Config.Digest.String(), cfg)
	raw, _ := img.RawManifest()
	done := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("PUT", tr.srv.URL+"/v2/team/app/manifests/1", strings.NewReader(string(raw)))
		req.SetBasicAuth("u", pushToken)
		req.Header.Set("Content-Type", string(types.OCIManifestSchema1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			close(done)
			return
		}
		resp.Body.Close()
		done <- resp
	}()
	p := <-entered
	if p.Digest != mustDigest(t, img).String() {
		t.Errorf("OnPush got %s", p.Digest)
	}
	select {
	case resp := <-done:
		t.Fatalf("client answered %v while OnPush was still running", resp.Status)
	case <-time.After(300 * time.Millisecond):
	}
	unblock()
	resp := <-done
	if resp == nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("manifest PUT: %v, want 201", resp)
	}
	if resp.Header.Get("Docker-Content-Digest") != p.Digest || resp.Header.Get("Location") == "" {
		t.Errorf("the library's headers were not passed on: %v", resp.Header)
	}
}

func TestOnDeleteFailsThenRetried(t *testing.T) {
	rec := &recorder{failDelete: 1}
	tr := startRegistry(t, rec.options())
	img, _ := layoutImage(t, "alpine-3.20.3")
	if err := remote.Write(tr.ref(t, "team/app:1"), img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	d := mustDigest(t, img).String()
	path := "/v2/team/app/manifests/" + d
	resp, body := tr.do(t, "DELETE", path, pushToken, "", nil)
	if resp.StatusCode != http.StatusInternalServerError || errorCode(t, body) != "UNKNOWN" {
		t.Fatalf("delete with a failing OnDelete: %s %s, want 500 UNKNOWN", resp.Status, body)
	}
	// The retry finds the manifest gone, and still records the deletion.
	resp, body = tr.do(t, "DELETE", path, pushToken, "", nil)
	if resp.StatusCode != http.StatusNotFound || errorCode(t, body) != "MANIFEST_UNKNOWN" {
		t.Fatalf("retried delete: %s %s, want 404 MANIFEST_UNKNOWN", resp.Status, body)
	}
	if want := []string{"team/app@" + d, "team/app@" + d}; !slices.Equal(rec.calls().deletes, want) {
		t.Fatalf("OnDelete calls %v, want %v", rec.calls().deletes, want)
	}

	// A successful delete is answered 202 once recorded; untagging is
	// not a manifest deletion.
	rec.mu.Lock()
	rec.deletes = nil
	rec.mu.Unlock()
	if err := remote.Write(tr.ref(t, "team/app:1"), img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tr.ref(t, "team/app:2"), img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	if resp, body := tr.do(t, "DELETE", "/v2/team/app/manifests/2", pushToken, "", nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("untag: %s %s", resp.Status, body)
	}
	if len(rec.calls().deletes) != 0 {
		t.Errorf("untag reported as a deletion: %v", rec.calls().deletes)
	}
	if resp, body := tr.do(t, "DELETE", path, pushToken, "", nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete: %s %s", resp.Status, body)
	}
	if !slices.Equal(rec.calls().deletes, []string{"team/app@" + d}) {
		t.Errorf("OnDelete calls %v", rec.calls().deletes)
	}
}

func TestOnPushIndex(t *testing.T) {
	rec := &recorder{}
	tr := startRegistry(t, rec.options())
	a, _ := layoutImage(t, "alpine-3.20.3")
	b, _ := layoutImage(t, "alpine-3.10.3")
	idx := multiArch(t, a, b, types.OCIImageIndex)
	if err := remote.WriteIndex(tr.ref(t, "team/multi:1"), idx, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	raw, _ := idx.RawManifest()
	d, _ := idx.Digest()
	want := Pushed{
		Repository: "team/multi", Digest: d.String(), MediaType: string(types.OCIImageIndex), Tag: "1",
		Size: int64(len(raw)), Children: []string{mustDigest(t, a).String(), mustDigest(t, b).String()},
	}
	if len(rec.calls().pushes) != 3 || !equalPushed(rec.calls().pushes[2], want) {
		t.Fatalf("pushes %+v\nlast want %+v", rec.calls().pushes, want)
	}
	// The images came first (in either order), by digest.
	for _, img := range []v1.Image{a, b} {
		want := wantPushed(t, img, "team/multi", "")
		if !equalPushed(rec.calls().pushes[0], want) && !equalPushed(rec.calls().pushes[1], want) {
			t.Errorf("pushes %+v, want one of them %+v", rec.calls().pushes[:2], want)
		}
	}
}

// TestOnPushFailsRetag checks that a failed push to an existing tag
// leaves the tag where it was, and the manifest it replaced in place.
func TestOnPushFailsRetag(t *testing.T) {
	rec := &recorder{}
	tr := startRegistry(t, rec.options())
	a, _ := layoutImage(t, "alpine-3.20.3")
	b, _ := layoutImage(t, "alpine-3.10.3")
	if err := remote.Write(tr.ref(t, "team/app:1"), a, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tr.ref(t, "team/app:2"), b, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.failPush = 1
	rec.mu.Unlock()
	noRetry := append(remoteOpts(pushToken), remote.WithRetryStatusCodes(), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	if err := remote.Write(tr.ref(t, "team/app:1"), b, noRetry...); err == nil {
		t.Fatal("retag with a failing OnPush succeeded")
	}
	desc, err := remote.Head(tr.ref(t, "team/app:1"), remoteOpts(pullToken)...)
	if err != nil || desc.Digest != mustDigest(t, a) {
		t.Fatalf("tag 1 after a failed retag: %v (%v), want %s", desc, err, mustDigest(t, a))
	}
	// b was already in the repository under tag 2, and stays.
	desc, err = remote.Head(tr.ref(t, "team/app:2"), remoteOpts(pullToken)...)
	if err != nil || desc.Digest != mustDigest(t, b) {
		t.Fatalf("tag 2 after a failed retag: %v (%v)", desc, err)
	}
	if err := remote.Write(tr.ref(t, "team/app:1"), b, noRetry...); err != nil {
		t.Fatal(err)
	}
	if desc, err := remote.Head(tr.ref(t, "team/app:1"), remoteOpts(pullToken)...); err != nil || desc.Digest != mustDigest(t, b) {
		t.Fatalf("tag 1 after the retried retag: %v (%v)", desc, err)
	}
	if n := len(rec.calls().pushes); n != 4 || !equalPushed(rec.calls().pushes[3], wantPushed(t, b, "team/app", "1")) {
		t.Errorf("pushes %+v", rec.calls().pushes)
	}
}
