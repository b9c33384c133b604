package registry

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// checkRoundTrip pulls ref and checks that its manifest, config and every
// layer are byte-identical to img as read from its OCI layout in dir.
func checkRoundTrip(t *testing.T, ref name.Reference, img v1.Image, dir string) {
	t.Helper()
	want, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref, remoteOpts(pullToken)...)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(desc.Manifest, want) {
		t.Fatalf("%s: pulled manifest differs from the pushed one", ref)
	}
	if desc.Digest != wantDigest {
		t.Errorf("%s: digest %s, want %s", ref, desc.Digest, wantDigest)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("%s: media type %s, want %s", ref, desc.MediaType, types.OCIManifestSchema1)
	}
	got, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	rawCfg, err := got.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	sameAsFile(t, bytes.NewReader(rawCfg), blobPath(dir, cfgName))
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != len(m.Layers) {
		t.Fatalf("%s: %d layers pulled, manifest lists %d", ref, len(layers), len(m.Layers))
	}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		// ggcr verifies the digest as the stream ends; the comparison
		// with the layout's file checks every byte independently.
		sameAsFile(t, rc, blobPath(dir, m.Layers[i].Digest))
		rc.Close()
	}
}

func TestPushPullGGCR(t *testing.T) {
	tr := startRegistry(t, Options{})
	ctx := context.Background()
	pushed := map[string]v1.Hash{}
	for _, tc := range []struct{ image, repo string }{
		{"debian-bullseye-app", "team/debian"},
		{"alpine-3.20.3", "team/alpine"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			img, dir := layoutImage(t, tc.image)
			ref := tr.ref(t, tc.repo+":1")
			if err := remote.Write(ref, img, remoteOpts(pushToken)...); err != nil {
				t.Fatal(err)
			}
			checkRoundTrip(t, ref, img, dir)
			d, _ := img.Digest()
			checkRoundTrip(t, tr.ref(t, tc.repo+"@"+d.String()), img, dir)
			pushed[tc.repo] = d
		})
	}

	// A second tag on the same manifest, and the tag list.
	alpine := tr.ref(t, "team/alpine:1")
	desc, err := remote.Get(alpine, remoteOpts(pullToken)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(tr.ref(t, "team/alpine:latest").(name.Tag), desc, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(alpine.Context(), remoteOpts(pullToken)...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tags, []string{"1", "latest"}) {
		t.Errorf("tags %v, want [1 latest]", tags)
	}

	reg, err := name.NewRegistry(tr.host, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	repos, err := remote.CatalogPage(reg, "", 100, append(remoteOpts(pullToken), remote.WithContext(ctx))...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(repos, []string{"team/alpine", "team/debian"}) {
		t.Errorf("catalog %v, want [team/alpine team/debian]", repos)
	}

	// Deleting by digest removes the manifest and the tags on it.
	byDigest := tr.ref(t, "team/alpine@"+pushed["team/alpine"].String())
	if err := remote.Delete(byDigest, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	_, err = remote.Get(byDigest, remoteOpts(pullToken)...)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("get after delete: %v, want a 404", err)
	}
	if _, err := remote.Get(alpine, remoteOpts(pullToken)...); err == nil {
		t.Error("tag 1 still resolves after its manifest was deleted")
	}
	// The other repository is untouched.
	if _, err := remote.Get(tr.ref(t, "team/debian:1"), remoteOpts(pullToken)...); err != nil {
		t.Error(err)
	}
}

// multiArch builds an index of two test images under two platforms.
func multiArch(t *testing.T, a, b v1.Image, mediaType types.MediaType) v1.ImageIndex {
	t.Helper()
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: a, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: b, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	), mediaType)
}

func TestPushIndexGGCR(t *testing.T) {
	tr := startRegistry(t, Options{})
	a, _ := layoutImage(t, "alpine-3.20.3")
	b, _ := layoutImage(t, "alpine-3.10.3")
	idx := multiArch(t, a, b, types.OCIImageIndex)
	ref := tr.ref(t, "team/multi:1")
	if err := remote.WriteIndex(ref, idx, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	want, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref, remoteOpts(pullToken)...)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(desc.Manifest, want) || desc.MediaType != types.OCIImageIndex {
		t.Fatalf("pulled index (%s) differs from the pushed one", desc.MediaType)
	}
	got, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	child, err := got.Image(mustDigest(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := child.Digest(); err != nil || d != mustDigest(t, b) {
		t.Errorf("child digest %v (%v), want %v", d, err, mustDigest(t, b))
	}
	// The library refuses an index whose images were not pushed.
	lonely := multiArch(t, a, mutate.ConfigMediaType(b, "application/vnd.oci.image.config.v1+json; x=1"), types.OCIImageIndex)
	raw, _ := lonely.RawManifest()
	resp, body := tr.do(t, http.MethodPut, "/v2/team/multi/manifests/2", pushToken, string(types.OCIImageIndex), raw)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("index with a missing image: %s %s, want 400", resp.Status, body)
	}
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
