package registry

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestOnUntag deletes a tag: OnUntag is told the digest it named before
// the 202; when it fails the client gets a 500, and its retry (which
// finds the tag gone) is reported again, without a digest. The manifest
// stays.
func TestOnUntag(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	fail := 1
	o := Options{OnUntag: func(_ context.Context, repository, tag, digest string) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, repository+":"+tag+"="+digest)
		if fail > 0 {
			fail--
			return errBackend
		}
		return nil
	}}
	tr := startRegistry(t, o)
	img, _ := layoutImage(t, "alpine-3.20.3")
	if err := remote.Write(tr.ref(t, "team/app:1"), img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	d := mustDigest(t, img).String()
	resp, body := tr.do(t, "DELETE", "/v2/team/app/manifests/1", pushToken, "", nil)
	if resp.StatusCode != http.StatusInternalServerError || errorCode(t, body) != "UNKNOWN" || strings.Contains(string(body), "hunter2") {
		t.Fatalf("untag with a failing OnUntag: %s %s", resp.Status, body)
	}
	resp, body = tr.do(t, "DELETE", "/v2/team/app/manifests/1", pushToken, "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("retried untag: %s %s", resp.Status, body)
	}
	if err := remote.Write(tr.ref(t, "team/app:2"), img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	if resp, body := tr.do(t, "DELETE", "/v2/team/app/manifests/2", pushToken, "", nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("untag: %s %s", resp.Status, body)
	}
	want := []string{"team/app:1=" + d, "team/app:1=", "team/app:2=" + d}
	mu.Lock()
	got := slices.Clone(calls)
	mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("OnUntag calls %v, want %v", got, want)
	}
	if _, err := remote.Head(tr.ref(t, "team/app@"+d), remoteOpts(pullToken)...); err != nil {
		t.Errorf("the manifest went with its tags: %v", err)
	}
}

// TestBeforeDelete refuses to delete a manifest an index lists: 409 with
// DENIED naming the index, and the manifest stays; other errors are 500s.
func TestBeforeDelete(t *testing.T) {
	rec := &recorder{}
	o := rec.options()
	var refuse error
	o.BeforeDelete = func(_ context.Context, repository, digest string) error { return refuse }
	tr := startRegistry(t, o)
	a, _ := layoutImage(t, "alpine-3.20.3")
	b, _ := layoutImage(t, "alpine-3.10.3")
	idx := multiArch(t, a, b, types.OCIImageIndex)
	if err := remote.WriteIndex(tr.ref(t, "team/multi:1"), idx, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ad, id := mustDigest(t, a).String(), idxDigest.String()
	p := rec.calls().pushes[len(rec.calls().pushes)-1]
	if !slices.Equal(p.Children, []string{ad, mustDigest(t, b).String()}) || len(p.ChildPlatforms) != 2 || p.ChildPlatforms[0] == "" {
		t.Errorf("the index's push: children %v platforms %v", p.Children, p.ChildPlatforms)
	}
	refuse = &ReferencedError{Repository: "team/multi", Digest: ad, Index: id}
	resp, body := tr.do(t, "DELETE", "/v2/team/multi/manifests/"+ad, pushToken, "", nil)
	if resp.StatusCode != http.StatusConflict || errorCode(t, body) != "DENIED" || !strings.Contains(string(body), id) {
		t.Errorf("deleting an index's image: %s %s", resp.Status, body)
	}
	refuse = errBackend
	resp, body = tr.do(t, "DELETE", "/v2/team/multi/manifests/"+ad, pushToken, "", nil)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "hunter2") {
		t.Errorf("a failing BeforeDelete: %s %s", resp.Status, body)
	}
	if _, err := remote.Head(tr.ref(t, "team/multi@"+ad), remoteOpts(pullToken)...); err != nil {
		t.Errorf("a refused deletion deleted: %v", err)
	}
	if len(rec.calls().deletes) != 0 {
		t.Errorf("OnDelete called for refused deletions: %v", rec.calls().deletes)
	}
	refuse = nil
	if resp, body := tr.do(t, "DELETE", "/v2/team/multi/manifests/"+id, pushToken, "", nil); resp.StatusCode != http.StatusAccepted {
		t.Errorf("deleting the index: %s %s", resp.Status, body)
	}
	if !slices.Equal(rec.calls().deletes, []string{"team/multi@" + id}) {
		t.Errorf("OnDelete calls %v", rec.calls().deletes)
	}
}

// FuzzCheckManifest feeds checkManifest what clients may send: it must
// never panic, and what it refuses it refuses with a spec error code.
func FuzzCheckManifest(f *testing.F) {
	f.Add("latest", []byte(`{"schemaVersion":2,"config":{"digest":"sha256:zz"},"layers":[{"digest":"md5:00","urls":["x"]}]}`))
	f.Add("sha256:"+strings.Repeat("a", 64), []byte(`{"manifests":[{"digest":"sha256:`+strings.Repeat("0", 64)+`"}],"subject":{"digest":""}}`))
	f.Add("foo:bar", []byte(`not json`))
	f.Fuzz(func(t *testing.T, ref string, body []byte) {
		e := checkManifest(ref, body)
		if e != nil && e.Code.String() != "DIGEST_INVALID" && e.Code.String() != "MANIFEST_INVALID" {
			t.Errorf("code %s", e.Code)
		}
	})
}
