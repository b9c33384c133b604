package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/vigilsec/vigil/internal/testenv"
)

// skopeoArchives writes a docker save archive (tagged vigil/app:1.0) and
// an OCI archive of the layout src with skopeo.
func skopeoArchives(t *testing.T, src string) (docker, oci string) {
	t.Helper()
	tmp := t.TempDir()
	docker = filepath.Join(tmp, "docker.tar")
	oci = filepath.Join(tmp, "oci.tar")
	run(t, "skopeo", "copy", "--quiet", "oci:"+src+":latest", "docker-archive:"+docker+":vigil/app:1.0")
	run(t, "skopeo", "copy", "--quiet", "oci:"+src+":latest", "oci-archive:"+oci+":latest")
	return docker, oci
}

// TestArchive opens the archives that skopeo writes from test images: a
// small one and one of three layers with whiteouts.
func TestArchive(t *testing.T) {
	for _, name := range []string{baseImage, "debian-bullseye-app"} {
		t.Run(name, func(t *testing.T) { testArchive(t, testenv.Image(t, name)) })
	}
}

func testArchive(t *testing.T, src string) {
	want := layoutTruth(t, src)
	docker, oci := skopeoArchives(t, src)

	t.Run("docker", func(t *testing.T) {
		var manifest []struct{ RepoTags []string }
		if err := json.Unmarshal(run(t, "tar", "-xOf", docker, "manifest.json"), &manifest); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"archive:" + docker, "archive:" + docker + ":vigil/app:1.0", "archive:" + docker + ":docker.io/vigil/app:1.0"} {
			img := openT(t, ref)
			if img.Transport != "archive" || img.Digest != "" || img.Name != ref {
				t.Errorf("%s: Transport %q, Digest %q, Name %q", ref, img.Transport, img.Digest, img.Name)
			}
			if !slices.Equal(img.RepoTags, manifest[0].RepoTags) {
				t.Errorf("RepoTags = %q, manifest.json says %q", img.RepoTags, manifest[0].RepoTags)
			}
			checkImage(t, img, want, false)
			for _, l := range img.Layers {
				// skopeo stores layers uncompressed, so the blob is the diff.
				if l.Digest != l.DiffID || l.MediaType != "application/vnd.docker.image.rootfs.diff.tar" {
					t.Errorf("layer %d: Digest %s, DiffID %s, MediaType %s", l.Index, l.Digest, l.DiffID, l.MediaType)
				}
			}
		}
		checkLayerStreams(t, openT(t, "archive:"+docker))
		_, err := Open(context.Background(), "archive:"+docker+":vigil/other:1.0")
		wantErr(t, err, "archive:"+docker+":vigil/other:1.0", `tag "vigil/other:1.0" not found`, "docker.io/vigil/app:1.0")
	})

	t.Run("oci", func(t *testing.T) {
		for _, ref := range []string{"archive:" + oci, "archive:" + oci + ":latest"} {
			img := openT(t, ref)
			if img.Digest != want.manifestDigest || img.MediaType != want.manifestType {
				t.Errorf("%s: Digest, MediaType = %s, %s", ref, img.Digest, img.MediaType)
			}
			checkImage(t, img, want, true)
		}
		checkLayerStreams(t, openT(t, "archive:"+oci))
		_, err := Open(context.Background(), "archive:"+oci+":nope")
		wantErr(t, err, "archive:"+oci+":nope", `tag "nope" not found`, "latest")
	})

	t.Run("truncated", func(t *testing.T) {
		for _, full := range []string{docker, oci} {
			fi, err := os.Stat(full)
			if err != nil {
				t.Fatal(err)
			}
			// Inside the layer, inside the first entry, and before the
			// last two entries (manifest.json or index.json among them;
			// tar files end with 1 KiB of zeros).
			for _, n := range []int64{fi.Size() / 2, 700, fi.Size() - 3072} {
				cut := filepath.Join(t.TempDir(), "cut.tar")
				copyPrefix(t, cut, full, n)
				_, err := Open(context.Background(), "archive:"+cut)
				wantErr(t, err, "image: archive:"+cut+": ", "truncated")
			}
		}
	})
}

// copyPrefix copies the first n bytes of src to dst.
func copyPrefix(t *testing.T, dst, src string, n int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestArchiveMulti opens a docker save archive of two images, written by
// ggcr's tarball package as `docker save a b` would.
func TestArchiveMulti(t *testing.T) {
	amd := alpineImage(t, "3.20.3", v1.Platform{OS: "linux", Architecture: "amd64"})
	arm := alpineImage(t, "3.10.3", v1.Platform{OS: "linux", Architecture: "arm64"})
	file := filepath.Join(t.TempDir(), "multi.tar")
	refs := map[name.Reference]v1.Image{
		name.MustParseReference("vigil/alpine:3.20"): amd,
		name.MustParseReference("vigil/alpine:3.10"): arm,
	}
	if err := tarball.MultiRefWriteToFile(file, refs); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), "archive:"+file)
	wantErr(t, err, "archive:"+file, "2 images", "vigil/alpine:3.20", "vigil/alpine:3.10")

	for tag, tarballName := range map[string]string{"vigil/alpine:3.20": "3.20.3", "index.docker.io/vigil/alpine:3.10": "3.10.3"} {
		img := openT(t, "archive:"+file+":"+tag)
		diffID := gunzipSHA(t, testenv.Shared(t, "images/alpine/alpine-minirootfs-"+tarballName+"-x86_64.tar.gz"))
		if len(img.Layers) != 1 || img.Layers[0].DiffID != diffID {
			t.Fatalf("%s: layers %+v, want diff-id %s", tag, img.Layers, diffID)
		}
		if img.Layers[0].MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
			t.Errorf("%s: media type %s", tag, img.Layers[0].MediaType)
		}
		checkLayerStreams(t, img)
	}
}

func TestArchiveErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "hello.txt"), []byte("hello\n"))
	plain := filepath.Join(t.TempDir(), "plain.tar")
	run(t, "tar", "-cf", plain, "-C", dir, "hello.txt")
	bz := filepath.Join(t.TempDir(), "plain.tar.bz2")
	write(t, bz, run(t, "bzip2", "-c", plain))

	tests := []struct {
		name string
		ref  string
		want string
	}{
		{"missing", "archive:" + filepath.Join(dir, "nope.tar"), "no such file"},
		{"directory", "archive:" + dir, "is a directory"},
		{"not an image", "archive:" + plain, "neither an OCI archive"},
		{"not a tar", "archive:" + filepath.Join(dir, "hello.txt"), "neither gzip, zstd nor a tar"},
		{"bzip2", "archive:" + bz, "bzip2"},
		{"empty tag", "archive:" + plain + ":", "empty tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), tt.ref)
			wantErr(t, err, "image: "+tt.ref+": ", tt.want)
		})
	}
}

// TestTarIndex checks every file the index serves from skopeo's OCI
// archive against a sequential read of the same archive.
func TestTarIndex(t *testing.T) {
	src := baseLayout(t)
	file := filepath.Join(t.TempDir(), "oci.tar")
	run(t, "skopeo", "copy", "--quiet", "oci:"+src+":latest", "oci-archive:"+file+":latest")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := indexTar(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	files := sequential(t, f)
	// Every blob of the layout, plus index.json and oci-layout.
	blobs, err := os.ReadDir(filepath.Join(src, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(blobs)+2 {
		t.Errorf("%d files in the archive, want %d", len(files), len(blobs)+2)
	}
	checkIndex(t, idx, files)
}

// sequential reads the regular files of a tar archive with archive/tar,
// the later of two of the same name winning as on extraction.
func sequential(t testing.TB, r io.Reader) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		n := cleanTarPath(hdr.Name)
		delete(files, n)
		if hdr.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[n] = data
		}
	}
}

func checkIndex(t testing.TB, idx *tarIndex, files map[string][]byte) {
	t.Helper()
	for n, data := range files {
		got, err := idx.readFile(n, int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if string(got) != string(data) {
			t.Fatalf("%s: index serves %d bytes that differ from the %d read sequentially", n, len(got), len(data))
		}
	}
	for n, e := range idx.entries {
		if _, ok := files[n]; !ok && e.link == "" {
			t.Fatalf("%s: indexed but not a regular file of the archive", n)
		}
	}
}
