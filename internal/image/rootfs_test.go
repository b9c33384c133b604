package image

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// alpineSums reads images/alpine/SHA256SUMS: tarball name → sha256.
func alpineSums(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(testenv.Shared(t, "images/alpine/SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sum, file, ok := strings.Cut(sc.Text(), "  "); ok {
			sums[file] = "sha256:" + sum
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(sums) == 0 {
		t.Fatal("SHA256SUMS lists nothing")
	}
	return sums
}

// TestRootfs opens the Alpine minirootfs tarballs: the layer digest must
// be the published sha256 and the stream must decompress to what gzip
// makes of the file.
func TestRootfs(t *testing.T) {
	for file, sum := range alpineSums(t) {
		t.Run(file, func(t *testing.T) {
			path := testenv.Shared(t, "images/alpine/"+file)
			img := openT(t, "rootfs:"+path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if img.Transport != "rootfs" || img.Digest != "" || len(img.Layers) != 1 {
				t.Fatalf("Transport %q, Digest %q, %d layers", img.Transport, img.Digest, len(img.Layers))
			}
			l := img.Layers[0]
			if l.Digest != sum || l.Size != fi.Size() || l.DiffID != "" || l.Dir != "" {
				t.Errorf("layer: Digest %s Size %d DiffID %q Dir %q; want %s %d", l.Digest, l.Size, l.DiffID, l.Dir, sum, fi.Size())
			}
			if img.Config == nil || len(img.Config.RootFS.DiffIDs) != 0 || img.Platform != "" {
				t.Errorf("Config %+v, Platform %q", img.Config, img.Platform)
			}
			// checkLayerStreams compares with the DiffID, unknown here.
			l.DiffID = gunzipSHA(t, path)
			checkLayerStreams(t, img)
		})
	}
}

// TestRootfsForms opens one minirootfs uncompressed and recompressed
// with the zstd tool.
func TestRootfsForms(t *testing.T) {
	gz := testenv.Shared(t, "images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	diffID := gunzipSHA(t, gz)
	dir := t.TempDir()
	plain := filepath.Join(dir, "rootfs.tar")
	write(t, plain, run(t, "gzip", "-dc", gz))
	zst := filepath.Join(dir, "rootfs.tar.zst")
	run(t, "zstd", "-q", "-19", "-o", zst, plain)
	for _, p := range []string{plain, zst} {
		img := openT(t, "rootfs:"+p)
		img.Layers[0].DiffID = diffID
		checkLayerStreams(t, img)
	}
	// The plain tar is its own diff: the digest as stored is the diff-id.
	if img := openT(t, "rootfs:"+plain); img.Layers[0].Digest != diffID {
		t.Errorf("digest %s, want %s", img.Layers[0].Digest, diffID)
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "file"), []byte("x"))
	t.Chdir(dir)
	for _, ref := range []string{"dir:" + dir, "dir:" + dir + "/./", "dir:."} {
		img := openT(t, ref)
		if img.Transport != "dir" || len(img.Layers) != 1 || img.Config == nil {
			t.Fatalf("%s: %+v", ref, img)
		}
		l := img.Layers[0]
		if l.Dir != dir || l.Digest != "" || l.Size != -1 {
			t.Errorf("%s: Dir %q Digest %q Size %d, want %s", ref, l.Dir, l.Digest, l.Size, dir)
		}
		_, err := l.Open(context.Background())
		wantErr(t, err, "directory", dir)
	}
}

func TestRootfsErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	write(t, text, []byte("not a tar archive, just some text that is long enough\n"))
	empty := filepath.Join(dir, "empty.tar")
	write(t, empty, nil)
	xz := filepath.Join(dir, "rootfs.tar.xz")
	write(t, xz, run(t, "xz", "-c", text))
	tests := []struct {
		ref, want string
	}{
		{"rootfs:" + filepath.Join(dir, "nope.tar.gz"), "no such file"},
		{"rootfs:" + dir, "not a regular file"},
		{"rootfs:" + text, "neither gzip, zstd nor a tar"},
		{"rootfs:" + empty, "empty"},
		{"rootfs:" + xz, "xz-compressed"},
		{"rootfs:", "empty path"},
		{"dir:" + text, "not a directory"},
		{"dir:" + filepath.Join(dir, "nope"), "no such file"},
		{"dir:", "empty path"},
	}
	for _, tt := range tests {
		_, err := Open(context.Background(), tt.ref)
		wantErr(t, err, "image: "+tt.ref+": ", tt.want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, "dir:"+dir); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context: %v", err)
	}
}
