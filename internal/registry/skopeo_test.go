package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vigilsec/vigil/internal/testenv"
)

// skopeo runs the real skopeo with a private home and temporary directory.
func skopeo(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := testenv.Tool(t, "skopeo")
	home := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--insecure-policy", "--tmpdir", home}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+home, "REGISTRY_AUTH_FILE="+filepath.Join(home, "auth.json"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

func TestSkopeo(t *testing.T) {
	rec := &recorder{}
	tr := startRegistry(t, rec.options())
	img, dir := layoutImage(t, "debian-bullseye-app")
	want, _ := img.RawManifest()
	dest := "docker://" + tr.host + "/team/app:1"

	skopeo(t, "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", "u:"+pushToken, "oci:"+dir+":latest", dest)
	raw := skopeo(t, "inspect", "--raw", "--tls-verify=false", "--creds", "u:"+pullToken, dest)
	if !bytes.Equal(raw, want) {
		t.Fatalf("skopeo inspect --raw differs from the layout's manifest:\n%s\n%s", raw, want)
	}
	if len(rec.calls().pushes) != 1 || !equalPushed(rec.calls().pushes[0], wantPushed(t, img, "team/app", "1")) {
		t.Errorf("OnPush got %+v", rec.calls().pushes)
	}

	// Back into an OCI layout: every blob identical to the original's.
	out := filepath.Join(t.TempDir(), "out")
	skopeo(t, "copy", "--quiet", "--src-tls-verify=false", "--src-creds", "u:"+pullToken, dest, "oci:"+out+":latest")
	back, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	im, err := back.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Digest != mustDigest(t, img) {
		t.Fatalf("copied back: %+v (%v), want the digest %s", im, err, mustDigest(t, img))
	}
	m, _ := img.Manifest()
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		f, err := os.Open(blobPath(out, d.Digest))
		if err != nil {
			t.Fatal(err)
		}
		sameAsFile(t, f, blobPath(dir, d.Digest))
		f.Close()
	}
	sameAsFile(t, bytes.NewReader(want), blobPath(out, mustDigest(t, img)))
}

// TestSkopeoDockerFormat pushes an image converted to a Docker v2 schema 2
// manifest, which the hooks and Image must read like an OCI one.
func TestSkopeoDockerFormat(t *testing.T) {
	rec := &recorder{}
	tr := startRegistry(t, rec.options())
	img, dir := layoutImage(t, "alpine-3.20.3")
	dest := "docker://" + tr.host + "/team/docker:1"
	skopeo(t, "copy", "--quiet", "--format", "v2s2", "--dest-tls-verify=false", "--dest-creds", "u:"+pushToken, "oci:"+dir+":latest", dest)
	raw := skopeo(t, "inspect", "--raw", "--tls-verify=false", "--creds", "u:"+pullToken, dest)
	var m struct {
		MediaType string
		Config    struct{ MediaType, Digest string }
		Layers    []struct {
			MediaType, Digest string
			Size              int64
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != mediaDockerManifest || m.Config.MediaType != mediaDockerConfig {
		t.Fatalf("skopeo pushed %s with config %s", m.MediaType, m.Config.MediaType)
	}
	if len(rec.calls().pushes) != 1 {
		t.Fatalf("OnPush called %d times", len(rec.calls().pushes))
	}
	p := rec.calls().pushes[0]
	cfg, _ := img.ConfigFile()
	if p.MediaType != mediaDockerManifest || p.ArtifactType != mediaDockerConfig || p.ConfigDigest != m.Config.Digest ||
		p.Tag != "1" || p.Size != int64(len(raw)) || p.Platform != cfg.OS+"/"+cfg.Architecture || len(p.Layers) != len(m.Layers) {
		t.Errorf("OnPush got %+v for %s", p, raw)
	}
	for i, l := range m.Layers {
		if p.Layers[i] != (Descriptor{l.MediaType, l.Digest, l.Size}) {
			t.Errorf("layer %d: %+v, manifest has %+v", i, p.Layers[i], l)
		}
	}
	got, err := tr.Image(context.Background(), "team/docker", p.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.MediaType != mediaDockerManifest || len(got.Layers) != len(cfg.RootFS.DiffIDs) {
		t.Fatalf("Image: %s with %d layers", got.MediaType, len(got.Layers))
	}
	for i, l := range got.Layers {
		if l.DiffID != cfg.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d diff-id %s, want %s", i, l.DiffID, cfg.RootFS.DiffIDs[i])
		}
	}

	// A Docker manifest list of two Docker images.
	_, dir2 := layoutImage(t, "alpine-3.10.3")
	skopeo(t, "copy", "--quiet", "--format", "v2s2", "--dest-tls-verify=false", "--dest-creds", "u:"+pushToken, "oci:"+dir2+":latest", "docker://"+tr.host+"/team/docker:2")
	var imgs []v1.Image
	for _, tag := range []string{"1", "2"} {
		im, err := remote.Image(tr.ref(t, "team/docker:"+tag), remoteOpts(pullToken)...)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, im)
	}
	list := multiArch(t, imgs[0], imgs[1], types.DockerManifestList)
	if err := remote.WriteIndex(tr.ref(t, "team/docker:multi"), list, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	rawList, _ := list.RawManifest()
	desc, err := remote.Get(tr.ref(t, "team/docker:multi"), remoteOpts(pullToken)...)
	if err != nil || !bytes.Equal(desc.Manifest, rawList) || desc.MediaType != types.DockerManifestList {
		t.Fatalf("pulled list %s (%v) differs from the pushed one", desc.MediaType, err)
	}
	p = rec.calls().pushes[len(rec.calls().pushes)-1]
	want := []string{mustDigest(t, imgs[0]).String(), mustDigest(t, imgs[1]).String()}
	if p.MediaType != mediaDockerList || p.Tag != "multi" || !slices.Equal(p.Children, want) || p.Platform != "" || p.ConfigDigest != "" {
		t.Errorf("OnPush got %+v for the list, want children %v", p, want)
	}
}
