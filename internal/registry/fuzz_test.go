package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vigilsec/vigil/internal/testenv"
)

// FuzzPushed stores arbitrary bytes as a manifest of a real registry
// storage (blob and revision link, as a PUT leaves them) and describes
// the push as OnPush is told of it: the description has the manifest's
// digest and size, takes no more layers or children than the manifest
// lists, and reads a platform only from a real config; an error names the
// manifest.
func FuzzPushed(f *testing.F) {
	ctx := context.Background()
	root := f.TempDir()
	r, err := New(ctx, Options{FilesystemRoot: root, Secret: "fuzz-secret"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	repo, err := r.repository(ctx, "team/app")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"alpine-3.20.3", "debian-bullseye-app"} {
		dir := testenv.Image(f, name)
		index, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			f.Fatal(err)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(index))
		if err != nil {
			f.Fatal(err)
		}
		blob := func(h v1.Hash) []byte {
			b, err := os.ReadFile(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
			if err != nil {
				f.Fatal(err)
			}
			return b
		}
		raw := blob(idx.Manifests[0].Digest)
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			f.Fatal(err)
		}
		if _, err := repo.Blobs(ctx).Put(ctx, string(m.Config.MediaType), blob(m.Config.Digest)); err != nil {
			f.Fatal(err)
		}
		f.Add(raw, "1.0")
		f.Add(index, "") // an index listing it, pushed by digest
	}
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example+type",`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`), "sig")
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:x"}]}`), "")
	f.Add([]byte(`{"schemaVersion":1,"name":"team/app","tag":"1.0","fsLayers":[]}`), "1.0")
	revisions := filepath.Join(root, "docker/registry/v2/repositories/team/app/_manifests/revisions")
	f.Fuzz(func(t *testing.T, manifest []byte, tag string) {
		mediaType := "application/octet-stream"
		var head struct {
			MediaType string `json:"mediaType"`
		}
		if json.Unmarshal(manifest, &head) == nil && head.MediaType != "" {
			mediaType = head.MediaType
		}
		desc, err := repo.Blobs(ctx).Put(ctx, mediaType, manifest)
		if err != nil {
			t.Fatalf("storing %d bytes: %v", len(manifest), err)
		}
		d := desc.Digest
		link := filepath.Join(revisions, d.Algorithm().String(), d.Encoded())
		if err := os.MkdirAll(link, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(link, "link"), []byte(d.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		reference := tag
		if reference == "" {
			reference = d.String()
		}
		p, err := r.pushed(ctx, route{repository: "team/app", reference: reference}, d.String())
		if err != nil {
			if !strings.Contains(err.Error(), d.String()) && !strings.Contains(err.Error(), "config") {
				t.Fatalf("error %q names neither the manifest nor its config", err)
			}
			return
		}
		if p.Digest != d.String() || p.Size != int64(len(manifest)) || p.Repository != "team/app" {
			t.Fatalf("pushed %+v for %s (%d bytes)", p, d, len(manifest))
		}
		if (tag == "") != (p.Tag == "") && !isDigest(tag) {
			t.Fatalf("tag %q reported as %q", tag, p.Tag)
		}
		var m manifestJSON
		json.Unmarshal(manifest, &m)
		if len(p.Layers) > len(m.Layers) || len(p.Children) > len(m.Manifests) {
			t.Fatalf("%d layers and %d children from a manifest listing %d and %d", len(p.Layers), len(p.Children), len(m.Layers), len(m.Manifests))
		}
		if p.Platform != "" && (m.Config == nil || (m.Config.MediaType != mediaOCIConfig && m.Config.MediaType != mediaDockerConfig)) {
			t.Fatalf("platform %q without an image config", p.Platform)
		}
	})
}
