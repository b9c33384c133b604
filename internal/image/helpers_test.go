package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// testImages are the OCI layouts that the shared build script makes.
var testImages = []string{
	"debian-bookworm-minbase", "debian-bullseye-app",
	"alpine-3.6.5", "alpine-3.7.3", "alpine-3.8.5", "alpine-3.10.3", "alpine-3.20.3",
}

// baseImage is the test image that the registry and most error tests
// copy: a small one, for the race detector's sake.
const baseImage = "alpine-3.20.3"

// truth is what an OCI layout says of its image, read with plain
// encoding/json and independent of the code under test and of ggcr.
type truth struct {
	manifestDigest string
	manifestType   string
	manifestRaw    []byte
	configDigest   string
	platform       string
	layers         []jsonDescriptor
	diffIDs        []string
	createdBy      []string // of the non-empty-layer history entries
}

type jsonDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

func readJSON(t *testing.T, path string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data
}

func blobFile(dir, digest string) string {
	alg, hx, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, "blobs", alg, hx)
}

// layoutTruth reads the image tagged "latest" in the layout dir.
func layoutTruth(t *testing.T, dir string) truth {
	t.Helper()
	var index struct {
		Manifests []jsonDescriptor `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	var top *jsonDescriptor
	for i, m := range index.Manifests {
		if m.Annotations["org.opencontainers.image.ref.name"] == "latest" {
			top = &index.Manifests[i]
		}
	}
	if top == nil {
		t.Fatalf("%s: no manifest tagged latest", dir)
	}
	var manifest struct {
		MediaType string           `json:"mediaType"`
		Config    jsonDescriptor   `json:"config"`
		Layers    []jsonDescriptor `json:"layers"`
	}
	raw := readJSON(t, blobFile(dir, top.Digest), &manifest)
	var config struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		RootFS       struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
		History []struct {
			CreatedBy  string `json:"created_by"`
			EmptyLayer bool   `json:"empty_layer"`
		} `json:"history"`
	}
	readJSON(t, blobFile(dir, manifest.Config.Digest), &config)
	tr := truth{
		manifestDigest: top.Digest,
		manifestType:   top.MediaType,
		manifestRaw:    raw,
		configDigest:   manifest.Config.Digest,
		platform:       config.OS + "/" + config.Architecture,
		layers:         manifest.Layers,
		diffIDs:        config.RootFS.DiffIDs,
	}
	for _, h := range config.History {
		if !h.EmptyLayer {
			tr.createdBy = append(tr.createdBy, h.CreatedBy)
		}
	}
	return tr
}

// checkImage compares img with what the layout says; compressed tells
// whether the layer blobs are the layout's (not decompressed copies).
func checkImage(t *testing.T, img *Image, want truth, compressed bool) {
	t.Helper()
	if img.ConfigDigest != want.configDigest {
		t.Errorf("ConfigDigest = %s, want %s", img.ConfigDigest, want.configDigest)
	}
	if img.Platform != want.platform {
		t.Errorf("Platform = %q, want %q", img.Platform, want.platform)
	}
	if img.Config == nil {
		t.Fatal("Config is nil")
	}
	if len(img.Layers) != len(want.diffIDs) {
		t.Fatalf("%d layers, want %d", len(img.Layers), len(want.diffIDs))
	}
	for i, l := range img.Layers {
		if l.Index != i {
			t.Errorf("layer %d: Index = %d", i, l.Index)
		}
		if l.DiffID != want.diffIDs[i] {
			t.Errorf("layer %d: DiffID = %s, want %s", i, l.DiffID, want.diffIDs[i])
		}
		if compressed {
			if l.Digest != want.layers[i].Digest || l.Size != want.layers[i].Size || l.MediaType != want.layers[i].MediaType {
				t.Errorf("layer %d: %s %d %s, want %s %d %s", i, l.Digest, l.Size, l.MediaType,
					want.layers[i].Digest, want.layers[i].Size, want.layers[i].MediaType)
			}
		}
		if len(want.createdBy) == len(want.diffIDs) && l.CreatedBy != want.createdBy[i] {
			t.Errorf("layer %d: CreatedBy = %q, want %q", i, l.CreatedBy, want.createdBy[i])
		}
	}
}

// checkLayerStreams decompresses every layer and checks that the tar
// stream hashes to its diff-id, and the blob as stored to its digest.
func checkLayerStreams(t *testing.T, img *Image) {
	t.Helper()
	for _, l := range img.Layers {
		rc, err := l.Open(context.Background())
		if err != nil {
			t.Fatalf("layer %d: %v", l.Index, err)
		}
		stored := sha256.New()
		tr, err := Decompress(io.TeeReader(rc, stored))
		if err != nil {
			t.Fatalf("layer %d: %v", l.Index, err)
		}
		diff := sha256.New()
		if _, err := io.Copy(diff, tr); err != nil {
			t.Fatalf("layer %d: %v", l.Index, err)
		}
		tr.Close()
		io.Copy(stored, rc) // any trailing bytes after the compressed stream
		rc.Close()
		if got := "sha256:" + hex.EncodeToString(diff.Sum(nil)); got != l.DiffID {
			t.Errorf("layer %d: decompressed sha256 %s, diff-id %s", l.Index, got, l.DiffID)
		}
		if l.Digest != "" {
			if got := "sha256:" + hex.EncodeToString(stored.Sum(nil)); got != l.Digest {
				t.Errorf("layer %d: stored sha256 %s, digest %s", l.Index, got, l.Digest)
			}
		}
	}
}

// run runs a real tool and returns its standard output.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	testenv.Tool(t, name)
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func openT(t *testing.T, ref string, opts ...Option) *Image {
	t.Helper()
	img, err := Open(context.Background(), ref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

// wantErr checks that err is non-nil and mentions each of parts.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func baseLayout(t *testing.T) string {
	return testenv.Image(t, baseImage)
}
