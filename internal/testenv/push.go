package testenv

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// LayoutImage opens the first image of a built test image's OCI layout
// (see Image).
func LayoutImage(t testing.TB, name string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(Image(t, name))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) == 0 {
		t.Fatalf("test image %s: the layout's index lists no manifest", name)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Push copies a built test image to host/repoTag over plain HTTP, as
// docker push would, authenticating as user "vigil" with password (none
// when empty), and returns the manifest digest.
func Push(t testing.TB, host, repoTag, password, image string) string {
	t.Helper()
	return PushImage(t, host, repoTag, password, LayoutImage(t, image))
}

// PushImage is Push for an image made in the test.
func PushImage(t testing.TB, host, repoTag, password string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var opts []remote.Option
	if password != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: "vigil", Password: password}))
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatalf("push to %s/%s: %v", host, repoTag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// ImageFile copies the file at path (relative to the image root, as the
// image's merged file system has it) out of a built test image into a
// temporary file, and returns its name and mode.
func ImageFile(t testing.TB, image, path string) (string, os.FileMode) {
	t.Helper()
	rc := mutate.Extract(LayoutImage(t, image))
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: %s not found: %v", image, path, err)
		}
		if strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/") != path || h.Typeflag != tar.TypeReg {
			continue
		}
		out := filepath.Join(t.TempDir(), filepath.Base(path))
		w, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, tr); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return out, h.FileInfo().Mode()
	}
}
