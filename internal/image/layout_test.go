package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestLayout opens every built test image and checks it against its
// index.json, manifest and config read with encoding/json, and against
// the manifest skopeo reads from the same layout.
func TestLayout(t *testing.T) {
	for _, name := range testImages {
		t.Run(name, func(t *testing.T) {
			dir := testenv.Image(t, name)
			want := layoutTruth(t, dir)

			raw := run(t, "skopeo", "inspect", "--raw", "oci:"+dir+":latest")
			if !bytes.Equal(bytes.TrimSpace(raw), bytes.TrimSpace(want.manifestRaw)) {
				t.Fatalf("skopeo's manifest differs from the blob:\n%s\n%s", raw, want.manifestRaw)
			}
			sum := sha256.Sum256(raw)
			if got := "sha256:" + hex.EncodeToString(sum[:]); got != want.manifestDigest {
				t.Fatalf("skopeo's manifest has digest %s, index.json says %s", got, want.manifestDigest)
			}

			for _, ref := range []string{"oci:" + dir, "oci:" + dir + ":latest"} {
				img := openT(t, ref)
				if img.Name != ref || img.Transport != "oci" {
					t.Errorf("Name, Transport = %q, %q", img.Name, img.Transport)
				}
				if img.Digest != want.manifestDigest || img.MediaType != want.manifestType {
					t.Errorf("Digest, MediaType = %s, %s; want %s, %s", img.Digest, img.MediaType, want.manifestDigest, want.manifestType)
				}
				checkImage(t, img, want, true)
			}
			checkLayerStreams(t, openT(t, "oci:"+dir))
		})
	}
}

// fakeLayout makes a layout in a temporary directory whose index.json is
// index and whose blobs are copies (hard links where possible) of those
// of the layout src named in blobs: a symbolic link out of the layout
// would be refused.
func fakeLayout(t *testing.T, src string, index any, blobs ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(index)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "index.json"), data)
	write(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	for _, b := range blobs {
		if os.Link(blobFile(src, b), blobFile(dir, b)) == nil {
			continue
		}
		data, err := os.ReadFile(blobFile(src, b))
		if err != nil {
			t.Fatal(err)
		}
		write(t, blobFile(dir, b), data)
	}
	return dir
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func indexOf(ms ...jsonDescriptor) map[string]any {
	return map[string]any{"schemaVersion": 2, "manifests": ms}
}

func tagged(d jsonDescriptor, tag string) jsonDescriptor {
	d.Annotations = map[string]string{"org.opencontainers.image.ref.name": tag}
	return d
}

func TestLayoutTags(t *testing.T) {
	src := baseLayout(t)
	want := layoutTruth(t, src)
	top := jsonDescriptor{MediaType: want.manifestType, Digest: want.manifestDigest, Size: int64(len(want.manifestRaw))}
	blobs := []string{want.manifestDigest, want.configDigest}
	for _, l := range want.layers {
		blobs = append(blobs, l.Digest)
	}
	dir := fakeLayout(t, src, indexOf(tagged(top, "1.0"), tagged(top, "stable")), blobs...)

	_, err := Open(context.Background(), "oci:"+dir)
	wantErr(t, err, "oci:"+dir, "2 images", "1.0, stable")
	for _, tag := range []string{"1.0", "stable"} {
		img := openT(t, "oci:"+dir+":"+tag)
		checkImage(t, img, want, true)
	}
	_, err = Open(context.Background(), "oci:"+dir+":nope")
	wantErr(t, err, "oci:"+dir+":nope", `tag "nope" not found`, "1.0, stable")
}

func TestLayoutErrors(t *testing.T) {
	src := baseLayout(t)
	want := layoutTruth(t, src)
	top := tagged(jsonDescriptor{MediaType: want.manifestType, Digest: want.manifestDigest, Size: int64(len(want.manifestRaw))}, "latest")
	layerBlob := want.layers[0].Digest

	badSize := top
	badSize.Size++
	// A manifest blob whose content is not what its digest says.
	corrupt := fakeLayout(t, src, indexOf(top), want.configDigest, layerBlob)
	write(t, blobFile(corrupt, want.manifestDigest), append(bytes.Clone(want.manifestRaw[:len(want.manifestRaw)-1]), ' '))
	// A layer blob shorter than the manifest says.
	short := fakeLayout(t, src, indexOf(top), want.manifestDigest, want.configDigest)
	write(t, blobFile(short, layerBlob), []byte("short"))

	tests := []struct {
		name string
		ref  string
		want []string
	}{
		{"missing dir", "oci:" + filepath.Join(t.TempDir(), "nope"), []string{"no such file"}},
		{"not a layout", "oci:" + t.TempDir(), []string{"not an OCI image layout", "oci-layout"}},
		{"unknown tag", "oci:" + src + ":nope", []string{`tag "nope" not found`, "latest"}},
		{"missing layer", "oci:" + fakeLayout(t, src, indexOf(top), want.manifestDigest, want.configDigest), []string{"layer 0", layerBlob, "missing"}},
		{"missing config", "oci:" + fakeLayout(t, src, indexOf(top), want.manifestDigest, layerBlob), []string{"config " + want.configDigest, "is missing", blobFile(src, want.configDigest)[len(src):]}},
		{"missing manifest", "oci:" + fakeLayout(t, src, indexOf(top)), []string{"manifest " + want.manifestDigest}},
		{"manifest size", "oci:" + fakeLayout(t, src, indexOf(badSize), want.manifestDigest), []string{"bytes, the descriptor says"}},
		{"corrupt manifest", "oci:" + corrupt, []string{"manifest " + want.manifestDigest, "content has digest"}},
		{"short layer", "oci:" + short, []string{"layer 0", "has 5 bytes"}},
		{"empty index", "oci:" + fakeLayout(t, src, indexOf()), []string{"lists no images"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Open(context.Background(), tt.ref)
			if err == nil {
				img.Close()
			}
			wantErr(t, err, append([]string{"image: " + tt.ref + ": "}, tt.want...)...)
		})
	}
}

// TestLayoutIndex opens a layout of a multi-platform image, written by
// ggcr: index.json listing one manifest per platform, and index.json
// naming a nested index.
func TestLayoutIndex(t *testing.T) {
	idx, amd64, arm64 := multiArch(t)

	flat := t.TempDir()
	if _, err := layout.Write(flat, idx); err != nil {
		t.Fatal(err)
	}
	nested := t.TempDir()
	p, err := layout.Write(nested, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}

	for _, ref := range []string{"oci:" + flat, "oci:" + nested + ":multi"} {
		for platform, want := range map[string]string{"linux/amd64": amd64, "linux/arm64": arm64, "linux/arm64/v8": arm64} {
			img := openT(t, ref, WithPlatform(platform))
			if img.Layers[0].DiffID != want {
				t.Errorf("%s %s: diff-id %s, want %s", ref, platform, img.Layers[0].DiffID, want)
			}
		}
		_, err := Open(context.Background(), ref, WithPlatform("linux/s390x"))
		wantErr(t, err, ref, "no image for platform linux/s390x", "linux/amd64, linux/arm64/v8")
	}
}

// addBlob stores data as a blob of the layout dir and returns its digest.
func addBlob(t *testing.T, dir string, data []byte) string {
	t.Helper()
	sum := sha256.Sum256(data)
	d := "sha256:" + hex.EncodeToString(sum[:])
	write(t, blobFile(dir, d), data)
	return d
}

// TestLayoutForeignLayer opens an image with a non-distributable layer
// whose blob is not in the layout, as Windows base layers are: the image
// opens, and only opening that layer fails, saying why.
func TestLayoutForeignLayer(t *testing.T) {
	src := baseLayout(t)
	want := layoutTruth(t, src)
	var config map[string]any
	readJSON(t, blobFile(src, want.configDigest), &config)
	foreignDiffID := "sha256:" + strings.Repeat("ab", 32)
	rootfs := config["rootfs"].(map[string]any)
	rootfs["diff_ids"] = append(rootfs["diff_ids"].([]any), foreignDiffID)
	config["history"] = nil

	dir := fakeLayout(t, src, indexOf(), want.layers[0].Digest)
	cfgData, _ := json.Marshal(config)
	foreign := map[string]any{
		"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		"digest":    "sha256:" + strings.Repeat("cd", 32),
		"size":      1234,
		"urls":      []string{"https://example.invalid/layer"},
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": addBlob(t, dir, cfgData), "size": len(cfgData)},
		"layers":        []any{want.layers[0], foreign},
	})
	md := addBlob(t, dir, manifest)
	index, _ := json.Marshal(indexOf(tagged(jsonDescriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: md, Size: int64(len(manifest))}, "latest")))
	write(t, filepath.Join(dir, "index.json"), index)

	img := openT(t, "oci:"+dir)
	if len(img.Layers) != 2 || img.Layers[1].DiffID != foreignDiffID || img.Layers[1].Size != 1234 {
		t.Fatalf("layers: %+v", img.Layers)
	}
	rc, err := img.Layers[0].Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	_, err = img.Layers[1].Open(context.Background())
	wantErr(t, err, "oci:"+dir, "layer 1", "foreign layer", "https://example.invalid/layer")
}
