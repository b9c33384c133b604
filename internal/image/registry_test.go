package image

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vigilsec/vigil/internal/testenv"
)

// gunzipSHA is the sha256 of the decompressed file, by the gzip tool.
func gunzipSHA(t *testing.T, path string) string {
	t.Helper()
	sum := sha256.Sum256(run(t, "gzip", "-dc", path))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// alpineImage builds a one-layer image of an Alpine minirootfs tarball for
// platform p.
func alpineImage(t *testing.T, version string, p v1.Platform) v1.Image {
	t.Helper()
	layer, err := tarball.LayerFromFile(testenv.Shared(t, "images/alpine/alpine-minirootfs-"+version+"-x86_64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(mutate.ConfigMediaType(img, types.OCIConfigJSON), types.OCIManifestSchema1)
}

// multiArch builds an index of two Alpine images, 3.20.3 as linux/amd64
// and 3.10.3 as linux/arm64/v8, plus an "unknown/unknown" entry as buildx
// adds for attestations, and returns it with the diff-ids of the two
// layers as the gzip tool computes them.
func multiArch(t *testing.T) (idx v1.ImageIndex, amd64, arm64 string) {
	t.Helper()
	amdP := v1.Platform{OS: "linux", Architecture: "amd64"}
	armP := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	att, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: alpineImage(t, "3.20.3", amdP), Descriptor: v1.Descriptor{Platform: &amdP}},
		mutate.IndexAddendum{Add: alpineImage(t, "3.10.3", armP), Descriptor: v1.Descriptor{Platform: &armP}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	amd64 = gunzipSHA(t, testenv.Shared(t, "images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz"))
	arm64 = gunzipSHA(t, testenv.Shared(t, "images/alpine/alpine-minirootfs-3.10.3-x86_64.tar.gz"))
	return idx, amd64, arm64
}

// layoutImage reads the base test image with ggcr, to push it.
func layoutImage(t *testing.T) (v1.Image, truth) {
	t.Helper()
	dir := baseLayout(t)
	want := layoutTruth(t, dir)
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := v1.NewHash(want.manifestDigest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(h)
	if err != nil {
		t.Fatal(err)
	}
	return img, want
}

// testRegistry runs an in-memory registry; wrap, if not nil, wraps its
// handler. It returns the registry's host:port.
func testRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// Keep the machine's Docker credentials out of the tests.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, ref string, img v1.Image, auth authn.Authenticator) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
}

func TestRegistry(t *testing.T) {
	img, want := layoutImage(t)
	var mu sync.Mutex
	agents := map[string]bool{}
	host := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			agents[r.UserAgent()] = true
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	})
	push(t, host+"/vigil/app:1.0", img, authn.Anonymous)

	for _, ref := range []string{host + "/vigil/app:1.0", "registry:" + host + "/vigil/app:1.0", "docker://" + host + "/vigil/app:1.0"} {
		got := openT(t, ref, WithInsecure(), WithUserAgent("vigil-test/1"))
		if got.Transport != "registry" || got.Digest != want.manifestDigest || got.MediaType != want.manifestType {
			t.Errorf("%s: %s %s %s", ref, got.Transport, got.Digest, got.MediaType)
		}
		checkImage(t, got, want, true)
		if len(got.RepoTags) != 1 || got.RepoTags[0] != host+"/vigil/app:1.0" {
			t.Errorf("RepoTags = %q", got.RepoTags)
		}
		if len(got.RepoDigests) != 1 || got.RepoDigests[0] != host+"/vigil/app@"+want.manifestDigest {
			t.Errorf("RepoDigests = %q", got.RepoDigests)
		}
	}
	got := openT(t, host+"/vigil/app@"+want.manifestDigest, WithInsecure())
	if got.Digest != want.manifestDigest || len(got.RepoTags) != 0 {
		t.Errorf("by digest: %s %q", got.Digest, got.RepoTags)
	}
	checkLayerStreams(t, got)

	mu.Lock()
	var sawUA bool
	for ua := range agents {
		sawUA = sawUA || strings.Contains(ua, "vigil-test/1")
	}
	mu.Unlock()
	if !sawUA {
		t.Errorf("user agent not sent; saw %v", agents)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := got.Layers[0].Open(ctx); err == nil {
		t.Error("Open with a cancelled context succeeded")
	}

	_, err := Open(context.Background(), host+"/vigil/app:2.0", WithInsecure())
	wantErr(t, err, "image: "+host+"/vigil/app:2.0: ", "MANIFEST_UNKNOWN")
	_, err = Open(context.Background(), "registry:"+host+"/Bad Name", WithInsecure())
	wantErr(t, err, "image: registry:"+host+"/Bad Name: ")
}

func TestRegistryAuth(t *testing.T) {
	const user, pass = "vigil", "s3cret"
	host := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="vigil-test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"who are you"}]}`, http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	img := alpineImage(t, "3.20.3", v1.Platform{OS: "linux", Architecture: "amd64"})
	ref := host + "/vigil/alpine:3.20.3"
	push(t, ref, img, &authn.Basic{Username: user, Password: pass})
	diffID := gunzipSHA(t, testenv.Shared(t, "images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz"))

	_, err := Open(context.Background(), ref, WithInsecure())
	wantErr(t, err, ref, "UNAUTHORIZED")
	_, err = Open(context.Background(), ref, WithInsecure(), WithBasicAuth(user, "wrong"))
	wantErr(t, err, ref, "UNAUTHORIZED")

	got := openT(t, ref, WithInsecure(), WithBasicAuth(user, pass))
	if got.Layers[0].DiffID != diffID {
		t.Errorf("diff-id %s, want %s", got.Layers[0].DiffID, diffID)
	}
	checkLayerStreams(t, got)

	// The Docker config file, as `docker login` writes it.
	cfg := `{"auths":{"` + host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `"}}}`
	write(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), []byte(cfg))
	got = openT(t, ref, WithInsecure())
	if got.Layers[0].DiffID != diffID {
		t.Errorf("diff-id %s, want %s", got.Layers[0].DiffID, diffID)
	}
	// WithBasicAuth wins over the config file.
	_, err = Open(context.Background(), ref, WithInsecure(), WithBasicAuth(user, "wrong"))
	wantErr(t, err, ref, "UNAUTHORIZED")
}

func TestRegistryIndex(t *testing.T) {
	idx, amd64, arm64 := multiArch(t)
	host := testRegistry(t, nil)
	ref := host + "/vigil/multi:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}

	for i, tt := range []struct{ platform, diffID, config string }{
		{"linux/amd64", amd64, "linux/amd64"},
		{"linux/arm64", arm64, "linux/arm64/v8"},
		{"linux/arm64/v8", arm64, "linux/arm64/v8"},
	} {
		got := openT(t, ref, WithInsecure(), WithPlatform(tt.platform))
		if got.Layers[0].DiffID != tt.diffID {
			t.Errorf("%s: diff-id %s, want %s", tt.platform, got.Layers[0].DiffID, tt.diffID)
		}
		if want := im.Manifests[min(i, 1)].Digest.String(); got.Digest != want {
			t.Errorf("%s: digest %s, want %s", tt.platform, got.Digest, want)
		}
		if got.RepoDigests[0] != host+"/vigil/multi@"+idxDigest.String() {
			t.Errorf("%s: RepoDigests %q, want the index digest %s", tt.platform, got.RepoDigests, idxDigest)
		}
		if got.Platform != tt.config {
			t.Errorf("%s: Platform %q", tt.platform, got.Platform)
		}
	}

	// The default is the host's architecture under linux.
	if hp := map[string]string{"amd64": "linux/amd64", "arm64": "linux/arm64/v8"}[runtime.GOARCH]; hp != "" {
		if got := openT(t, ref, WithInsecure()); got.Platform != hp {
			t.Errorf("default platform picked %s on %s", got.Platform, runtime.GOARCH)
		}
	}

	_, err = Open(context.Background(), ref, WithInsecure(), WithPlatform("linux/s390x"))
	wantErr(t, err, ref, "linux/s390x", "it has linux/amd64, linux/arm64/v8)")
	_, err = Open(context.Background(), ref, WithInsecure(), WithPlatform("linux/arm64/v9"))
	wantErr(t, err, ref, "linux/arm64/v9")
}

func TestOptions(t *testing.T) {
	for _, p := range []string{"", "linux", "linux/", "/amd64", "linux/amd64/v8/x", "Linux/AMD64", "linux/amd 64"} {
		_, err := Open(context.Background(), "oci:/nonexistent", WithPlatform(p))
		wantErr(t, err, "image: platform")
	}
	for _, p := range []string{"linux/amd64", "linux/arm/v7", "windows/amd64"} {
		if _, err := parsePlatform(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	_, err := Open(context.Background(), "oci:/nonexistent", WithBasicAuth("", "x"))
	wantErr(t, err, "empty user name")
}
