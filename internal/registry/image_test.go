package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vigilsec/vigil/internal/image"
)

// checkImage opens img, pushed to repo, with Registry.Image and checks it
// against ggcr's reading of the image, and every layer's uncompressed
// content against its diff-id.
func checkImage(t *testing.T, r *Registry, repo string, img v1.Image) {
	t.Helper()
	ctx := context.Background()
	d := mustDigest(t, img)
	got, err := r.Image(ctx, repo, d.String())
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	m, _ := img.Manifest()
	cfg, _ := img.ConfigFile()
	mt, _ := img.MediaType()
	if got.Digest != d.String() || got.MediaType != string(mt) || got.ConfigDigest != m.Config.Digest.String() {
		t.Errorf("image %s %s config %s, want %s %s config %s", got.Digest, got.MediaType, got.ConfigDigest, d, mt, m.Config.Digest)
	}
	if want := cfg.OS + "/" + cfg.Architecture; got.Platform != want {
		t.Errorf("platform %q, want %q", got.Platform, want)
	}
	if got.Config == nil || len(got.Config.RootFS.DiffIDs) != len(cfg.RootFS.DiffIDs) {
		t.Fatalf("config %+v", got.Config)
	}
	if len(got.Layers) != len(m.Layers) {
		t.Fatalf("%d layers, want %d", len(got.Layers), len(m.Layers))
	}
	for i, l := range got.Layers {
		if l.Index != i || l.Digest != m.Layers[i].Digest.String() || l.Size != m.Layers[i].Size || l.MediaType != string(m.Layers[i].MediaType) {
			t.Errorf("layer %d: %+v, want %+v", i, l, m.Layers[i])
		}
		if l.DiffID != cfg.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d: diff-id %s, config says %s", i, l.DiffID, cfg.RootFS.DiffIDs[i])
		}
		rc, err := l.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tar, err := image.Decompress(rc)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256Hex(t, tar); sum != l.DiffID {
			t.Errorf("layer %d: uncompressed sha256 %s, diff-id %s", i, sum, l.DiffID)
		}
		tar.Close()
		rc.Close()
	}
	if len(cfg.History) > 0 && got.Layers[len(got.Layers)-1].CreatedBy == "" {
		t.Errorf("top layer has no created_by though the config has %d history entries", len(cfg.History))
	}
}

func TestImage(t *testing.T) {
	tr := startRegistry(t, Options{})
	for _, name := range []string{"debian-bullseye-app", "alpine-3.20.3"} {
		t.Run(name, func(t *testing.T) {
			img, _ := layoutImage(t, name)
			if err := remote.Write(tr.ref(t, "team/"+name+":1"), img, remoteOpts(pushToken)...); err != nil {
				t.Fatal(err)
			}
			checkImage(t, tr.Registry, "team/"+name, img)
		})
	}

	ctx := context.Background()
	alpine, _ := layoutImage(t, "alpine-3.20.3")
	d := mustDigest(t, alpine).String()
	// Another repository does not hold it, even though the blobs are shared.
	if _, err := tr.Image(ctx, "team/debian-bullseye-app", d); !errors.Is(err, ErrNotFound) {
		t.Errorf("image from the wrong repository: %v, want ErrNotFound", err)
	}
	if _, err := tr.Image(ctx, "team/nothing", d); !errors.Is(err, ErrNotFound) {
		t.Errorf("image from a missing repository: %v, want ErrNotFound", err)
	}
	for _, bad := range []struct{ repo, digest string }{
		{"team/alpine-3.20.3", "sha256:nothex"},
		{"team/alpine-3.20.3", "latest"},
		{"Team/UPPER", d},
		{"", d},
	} {
		if _, err := tr.Image(ctx, bad.repo, bad.digest); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Image(%q, %q): %v, want a validation error", bad.repo, bad.digest, err)
		}
	}

	// An index is not an image.
	b, _ := layoutImage(t, "alpine-3.10.3")
	idx := multiArch(t, alpine, b, types.OCIImageIndex)
	if err := remote.WriteIndex(tr.ref(t, "team/multi:1"), idx, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	id, _ := idx.Digest()
	if _, err := tr.Image(ctx, "team/multi", id.String()); err == nil || !strings.Contains(err.Error(), "index") {
		t.Errorf("Image of an index: %v", err)
	}
	// Its images are.
	checkImage(t, tr.Registry, "team/multi", b)
}
