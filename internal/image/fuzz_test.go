package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vigilsec/vigil/internal/testenv"
)

// memStore is a store of blobs by sha256 that checks what it serves as
// the layout and archive stores do.
type memStore map[string][]byte

func (m memStore) put(data []byte) v1.Hash {
	sum := sha256.Sum256(data)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	m[h.String()] = data
	return h
}

func (m memStore) manifest(_ context.Context, d v1.Descriptor) ([]byte, error) {
	data, ok := m[d.Digest.String()]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, os.ErrNotExist)
	}
	return readVerified(bytes.NewReader(data), d, maxManifestSize)
}

func (m memStore) blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	data, ok := m[d.Digest.String()]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, os.ErrNotExist)
	}
	return verified(io.NopCloser(bytes.NewReader(data)), d.Digest, d.Size, "blob "+d.Digest.String())
}

// realLayout is the index, manifest and config of a built test image.
type realLayout struct{ index, manifest, config []byte }

func readLayout(f *testing.F, image string) realLayout {
	f.Helper()
	dir := testenv.Image(f, image)
	index, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		f.Fatal(err)
	}
	blob := func(d string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", strings.Replace(d, ":", "/", 1)))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(index))
	if err != nil || len(idx.Manifests) == 0 {
		f.Fatalf("%s: index.json: %v", image, err)
	}
	manifest := blob(idx.Manifests[0].Digest.String())
	m, err := v1.ParseManifest(bytes.NewReader(manifest))
	if err != nil {
		f.Fatalf("%s: manifest: %v", image, err)
	}
	return realLayout{index: index, manifest: manifest, config: blob(m.Config.Digest.String())}
}

var fuzzLayouts = []string{"alpine-3.20.3", "debian-bullseye-app"}

// checkOpened holds for every image the resolution returns: one layer per
// diff-id, each named, and nothing more than the manifest listed.
func checkOpened(t *testing.T, img *Image, manifestLayers int) {
	t.Helper()
	if img.Config == nil {
		t.Fatal("an image without a config")
	}
	if len(img.Layers) != len(img.Config.RootFS.DiffIDs) || len(img.Layers) != manifestLayers {
		t.Fatalf("%d layers for %d diff_ids and %d manifest layers", len(img.Layers), len(img.Config.RootFS.DiffIDs), manifestLayers)
	}
	for i, l := range img.Layers {
		if l.Index != i || l.DiffID == "" {
			t.Fatalf("layer %d: %+v", i, l)
		}
	}
}

func manifestLayers(raw []byte) int {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return -1
	}
	return len(m.Layers)
}

// FuzzIndex resolves an arbitrary index.json, with a tag and a platform,
// against a store holding real manifests and configs: it picks an image
// or says why not, and never panics or loops (indexes that name
// themselves, nest deeply or list no platform).
func FuzzIndex(f *testing.F) {
	s := memStore{}
	for _, name := range fuzzLayouts {
		l := readLayout(f, name)
		s.put(l.manifest)
		s.put(l.config)
		f.Add(l.index, "", "linux/amd64")
		f.Add(l.index, "latest", "linux/arm64/v8")
	}
	// A multi-platform index of the real manifests, nested in another.
	var ms []map[string]any
	for _, name := range fuzzLayouts {
		l := readLayout(f, name)
		sum := sha256.Sum256(l.manifest)
		ms = append(ms, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + hex.EncodeToString(sum[:]),
			"size": len(l.manifest), "platform": map[string]string{"os": "linux", "architecture": "amd64"}})
	}
	inner, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms})
	h := s.put(inner)
	outer, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{"digest": h.String(), "size": len(inner),
		"annotations": map[string]string{annotationRefName: "1.0", annotationContainerName: "docker.io/team/app:1.0"}}}})
	f.Add(outer, "1.0", "linux/amd64")
	f.Add([]byte(`{"schemaVersion":2,"manifests":[]}`), "", "")
	f.Fuzz(func(t *testing.T, index []byte, tag, platform string) {
		o, err := makeOptions([]Option{WithPlatform(platform)})
		if err != nil {
			return // a platform the command line refuses
		}
		img, err := openOCI(context.Background(), s, index, tag, o, "oci")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		raw, ok := s[img.Digest]
		if !ok {
			t.Fatalf("resolved to %s, which the store does not hold", img.Digest)
		}
		checkOpened(t, img, manifestLayers(raw))
	})
}

// FuzzManifest builds an image from an arbitrary manifest whose
// descriptor gives no media type (so it is sniffed), with the real
// configs and indexes in the store.
func FuzzManifest(f *testing.F) {
	s := memStore{}
	for _, name := range fuzzLayouts {
		l := readLayout(f, name)
		s.put(l.config)
		f.Add(l.manifest)
	}
	f.Add([]byte(`{"schemaVersion":1,"fsLayers":[]}`))
	f.Add([]byte(`{"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:` + strings.Repeat("0", 64) + `","size":2}}`))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		st := memStore{}
		for k, v := range s {
			st[k] = v
		}
		h := st.put(manifest)
		index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{"digest": h.String(), "size": len(manifest)}}})
		o, _ := makeOptions(nil)
		img, err := openOCI(context.Background(), st, index, "", o, "oci")
		if err != nil {
			if !strings.Contains(err.Error(), "manifest") && !strings.Contains(err.Error(), "config") && !strings.Contains(err.Error(), "index") &&
				!strings.Contains(err.Error(), "platform") {
				t.Fatalf("error %q names neither the manifest, its config nor the index", err)
			}
			return
		}
		if img.Digest != h.String() {
			checkOpened(t, img, manifestLayers(st[img.Digest]))
			return
		}
		checkOpened(t, img, manifestLayers(manifest))
	})
}

// FuzzConfig builds an image from a real manifest rewritten to point at an
// arbitrary config: the config parses into an image whose layers match its
// diff_ids, or the error names the config or the layer count.
func FuzzConfig(f *testing.F) {
	for _, name := range fuzzLayouts {
		l := readLayout(f, name)
		f.Add(l.config, uint8(manifestLayers(l.manifest)))
	}
	f.Add([]byte(`{"rootfs":{"type":"layers","diff_ids":[]},"history":[{"empty_layer":true}]}`), uint8(0))
	f.Fuzz(func(t *testing.T, config []byte, layers uint8) {
		s := memStore{}
		ch := s.put(config)
		var ls []any
		for i := range int(layers % 16) {
			ls = append(ls, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
				"digest": fmt.Sprintf("sha256:%064x", i+1), "size": 100 + i})
		}
		manifest, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ch.String(), "size": len(config)},
			"layers": ls})
		mh := s.put(manifest)
		index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mh.String(), "size": len(manifest)}}})
		o, _ := makeOptions(nil)
		img, err := openOCI(context.Background(), s, index, "", o, "oci")
		if err != nil {
			if !strings.Contains(err.Error(), "config") && !strings.Contains(err.Error(), "diff_ids") {
				t.Fatalf("error %q names neither the config nor its diff_ids", err)
			}
			return
		}
		checkOpened(t, img, len(ls))
		if img.ConfigDigest != ch.String() {
			t.Fatalf("config digest %s, want %s", img.ConfigDigest, ch)
		}
	})
}

// FuzzDockerSave reads an arbitrary manifest.json in a docker save
// archive that also holds a real config and a layer file, with a tag to
// choose by.
func FuzzDockerSave(f *testing.F) {
	l := readLayout(f, "alpine-3.20.3")
	var cfg v1.ConfigFile
	if err := json.Unmarshal(l.config, &cfg); err != nil {
		f.Fatal(err)
	}
	layer := tarBytes(f, map[string][]byte{"etc/alpine-release": []byte("3.20.3\n")})
	sum := sha256.Sum256(layer)
	diffID := "sha256:" + hex.EncodeToString(sum[:])
	csum := sha256.Sum256(l.config)
	cfgName := hex.EncodeToString(csum[:]) + ".json"
	files := map[string][]byte{cfgName: l.config, "config.json": l.config, "layer.tar": layer, "blobs/sha256/" + diffID[7:]: layer}
	// The archive without its end, so that manifest.json can follow.
	var prefix bytes.Buffer
	tw := tar.NewWriter(&prefix)
	writeFiles(f, tw, files)
	if err := tw.Flush(); err != nil {
		f.Fatal(err)
	}
	// docker save before 25, and from 25 (blobs/ names, LayerSources).
	f.Add([]byte(`[{"Config":"`+cfgName+`","RepoTags":["team/app:1.0"],"Layers":["layer.tar"]}]`), "team/app:1.0")
	f.Add([]byte(`[{"Config":"config.json","RepoTags":null,"Layers":["blobs/sha256/`+diffID[7:]+`"],"LayerSources":{"`+diffID+
		`":{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":`+fmt.Sprint(len(layer))+`,"digest":"`+diffID+`"}}}]`), "")
	f.Add([]byte(`[{"Config":"../../etc/passwd","Layers":["/layer.tar","layer.tar"]},{"Config":"config.json"}]`), "x:1")
	f.Fuzz(func(t *testing.T, manifest []byte, tag string) {
		data := append(bytes.Clone(prefix.Bytes()), tarBytes(t, map[string][]byte{"manifest.json": manifest})...)
		idx, err := indexTar(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("the archive does not index: %v", err)
		}
		img, err := openDockerSave(context.Background(), idx, tag)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if img.Config == nil || len(img.Layers) != len(img.Config.RootFS.DiffIDs) {
			t.Fatalf("%d layers for %v", len(img.Layers), img.Config)
		}
		if len(img.Layers) != len(cfg.RootFS.DiffIDs) {
			t.Fatalf("%d layers, the only config here has %d diff_ids", len(img.Layers), len(cfg.RootFS.DiffIDs))
		}
	})
}

// tarBytes makes a tar of files, in name order.
func tarBytes(tb testing.TB, files map[string][]byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	writeFiles(tb, tw, files)
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func writeFiles(tb testing.TB, tw *tar.Writer, files map[string][]byte) {
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			tb.Fatal(err)
		}
		tw.Write(files[n])
	}
}

// FuzzReference opens arbitrary references to repositories of a local
// registry (go-containerregistry's) holding a real image: the registry
// host is fixed, so nothing leaves the machine. A reference opens the
// image or fails with an error that starts with the reference.
func FuzzReference(f *testing.F) {
	srv := httptest.NewServer(ggcrregistry.New())
	f.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img := testenv.LayoutImage(f, "alpine-3.20.3")
	tag, err := name.NewTag(host+"/team/app:1.0", name.Insecure)
	if err != nil {
		f.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		f.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"team/app:1.0", "team/app@" + d.String(), "team/app:1.0@" + d.String(), "team/app", "Team/App:1.0",
		"team/app:" + strings.Repeat("x", 129), "team/app@sha256:00", "team//app:1.0", "team/app:1.0:2.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref := "registry:" + host + "/" + s
		img, err := Open(context.Background(), ref, WithInsecure())
		if err != nil {
			if !strings.HasPrefix(err.Error(), "image: "+ref+": ") {
				t.Fatalf("error %q does not start with the reference", err)
			}
			return
		}
		defer img.Close()
		if img.Config == nil || len(img.Layers) == 0 || len(img.RepoDigests) != 1 || !strings.HasPrefix(img.RepoDigests[0], host+"/") {
			t.Fatalf("opened %s: %+v", ref, img)
		}
	})
}
