package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vigilsec/vigil/internal/testenv"
)

func sha(data []byte) v1.Hash {
	s := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// TestVerifier reads blobs through the verifier, whole and a byte at a
// time, and checks that only the blob its descriptor describes reads to a
// clean io.EOF.
func TestVerifier(t *testing.T) {
	blob := []byte("the layer's real content, sixty-four bytes of it, more or less!!")
	forged := bytes.Clone(blob)
	forged[10] ^= 1
	tests := []struct {
		name    string
		content []byte
		size    int64
		want    []string // error parts; nil: no error
	}{
		{"exact", blob, int64(len(blob)), nil},
		{"exact, size unknown", blob, -1, nil},
		{"same size, other content", forged, int64(len(blob)), []string{"content has digest " + sha(forged).String()}},
		{"other content, size unknown", forged, -1, []string{"content has digest " + sha(forged).String()}},
		{"truncated", blob[:40], int64(len(blob)), []string{"40 bytes, its descriptor gives 64", "truncated"}},
		{"too long", append(bytes.Clone(blob), 'x'), int64(len(blob)), []string{"more than the 64 bytes"}},
		{"empty", nil, int64(len(blob)), []string{"0 bytes, its descriptor gives 64"}},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tt.name
			if oneByte {
				name += ", byte by byte"
			}
			t.Run(name, func(t *testing.T) {
				var r io.Reader = bytes.NewReader(tt.content)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				v, err := verified(io.NopCloser(r), sha(blob), tt.size, "blob X (somewhere)")
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(v)
				if tt.want == nil {
					if err != nil {
						t.Fatalf("ReadAll: %v", err)
					}
					if !bytes.Equal(got, blob) {
						t.Fatalf("read %q", got)
					}
					return
				}
				if !errors.Is(err, errIntegrity) {
					t.Fatalf("error %v, want an integrity error", err)
				}
				wantErr(t, err, append(tt.want, "blob X (somewhere)")...)
				if tt.size >= 0 && int64(len(got)) > tt.size {
					t.Errorf("read %d bytes past a %d-byte descriptor", len(got), tt.size)
				}
				// The error sticks: a second read cannot pass for EOF.
				if _, err2 := v.Read(make([]byte, 8)); !errors.Is(err2, errIntegrity) {
					t.Errorf("read after the error: %v", err2)
				}
			})
		}
	}
	if _, err := verified(io.NopCloser(bytes.NewReader(blob)), v1.Hash{Algorithm: "md5", Hex: "00"}, -1, "blob Y"); err == nil {
		t.Error("an unsupported digest algorithm was accepted")
	}
}

// copyLayout copies the layout src into a new directory.
func copyLayout(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "layout")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// readLayer reads layer l's blob to the end.
func readLayer(l *Layer) error {
	rc, err := l.Open(context.Background())
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// TestLayoutIntegrity tampers with a copy of a real layout.
func TestLayoutIntegrity(t *testing.T) {
	src := baseLayout(t)
	want := layoutTruth(t, src)
	layer := want.layers[0]

	t.Run("layer with other content of the same size", func(t *testing.T) {
		dir := copyLayout(t, src)
		p := blobFile(dir, layer.Digest)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		write(t, p, data)
		img := openT(t, "oci:"+dir)
		err = readLayer(img.Layers[0])
		if !errors.Is(err, errIntegrity) {
			t.Fatalf("error %v, want an integrity error", err)
		}
		wantErr(t, err, "blob "+layer.Digest, p, "content has digest "+sha(data).String())
	})

	t.Run("symbolic link out of the layout", func(t *testing.T) {
		dir := copyLayout(t, src)
		p := blobFile(dir, layer.Digest)
		outside := filepath.Join(t.TempDir(), "blob")
		if err := os.Rename(p, outside); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, p); err != nil {
			t.Fatal(err)
		}
		_, err := Open(context.Background(), "oci:"+dir)
		wantErr(t, err, "layer 0", layer.Digest, p, "escapes")
	})

	t.Run("symbolic link inside the layout", func(t *testing.T) {
		dir := copyLayout(t, src)
		p := blobFile(dir, layer.Digest)
		if err := os.Rename(p, filepath.Join(dir, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../moved", p); err != nil {
			t.Fatal(err)
		}
		checkLayerStreams(t, openT(t, "oci:"+dir))
	})

	t.Run("index.json a link out of the layout", func(t *testing.T) {
		dir := copyLayout(t, src)
		outside := filepath.Join(t.TempDir(), "index.json")
		if err := os.Rename(filepath.Join(dir, "index.json"), outside); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dir, "index.json")); err != nil {
			t.Fatal(err)
		}
		_, err := Open(context.Background(), "oci:"+dir)
		wantErr(t, err, "index.json", "escapes")
	})

	t.Run("manifest with other content of the same size", func(t *testing.T) {
		dir := copyLayout(t, src)
		p := blobFile(dir, want.manifestDigest)
		write(t, p, bytes.Replace(want.manifestRaw, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":3`), 1))
		_, err := Open(context.Background(), "oci:"+dir)
		wantErr(t, err, "manifest "+want.manifestDigest, p, "content has digest")
	})
}

// compressedArchives writes the docker save and OCI archives that skopeo
// makes of the layout src, gzip- and zstd-compressed as a whole.
func compressedArchives(t *testing.T, src string) map[string]string {
	t.Helper()
	docker, oci := skopeoArchives(t, src)
	out := map[string]string{}
	for kind, file := range map[string]string{"docker": docker, "oci": oci} {
		plain, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range []struct{ ext, tool string }{{".gz", "gzip"}, {".zst", "zstd"}} {
			p := file + z.ext
			write(t, p, tool(t, plain, z.tool, "-c"))
			out[kind+z.ext] = p
		}
	}
	return out
}

// TestCompressedArchive opens whole-compressed archives, which are indexed
// from the decompressed stream and read by decompressing again, and
// checks them against the layout they were made from and against a
// sequential read.
func TestCompressedArchive(t *testing.T) {
	src := testenv.Image(t, "debian-bullseye-app")
	want := layoutTruth(t, src)
	for name, file := range compressedArchives(t, src) {
		t.Run(name, func(t *testing.T) {
			img := openT(t, "archive:"+file)
			checkImage(t, img, want, strings.HasPrefix(name, "oci"))
			checkLayerStreams(t, img)

			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			idx, err := indexStream(context.Background(), f, fi.Size())
			if err != nil {
				t.Fatal(err)
			}
			zr, err := decompress(io.NewSectionReader(f, 0, fi.Size()))
			if err != nil {
				t.Fatal(err)
			}
			files := sequential(t, zr)
			zr.Close()
			checkIndex(t, idx, files)
			kept, streamed := 0, 0
			for _, e := range idx.entries {
				switch {
				case e.link != "":
				case e.data != nil:
					kept++
				default:
					streamed++
				}
			}
			// The metadata is kept; the layers larger than maxKeptFile
			// are read from the stream again.
			if kept == 0 || streamed == 0 {
				t.Errorf("%d files kept in memory, %d read again from the stream: want some of each", kept, streamed)
			}
		})
	}
}

// TestCompressedArchiveErrors opens damaged compressed archives.
func TestCompressedArchiveErrors(t *testing.T) {
	archives := compressedArchives(t, baseLayout(t))
	for _, name := range []string{"docker.gz", "oci.gz"} {
		data, err := os.ReadFile(archives[name])
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name+" truncated", func(t *testing.T) {
			cut := filepath.Join(t.TempDir(), "cut.tar.gz")
			write(t, cut, data[:len(data)/2])
			_, err := Open(context.Background(), "archive:"+cut)
			wantErr(t, err, "archive:"+cut, "truncated")
		})
		t.Run(name+" corrupt", func(t *testing.T) {
			bad := bytes.Clone(data)
			for i := len(bad) / 2; i < len(bad)/2+32; i++ {
				bad[i] ^= 0x55
			}
			p := filepath.Join(t.TempDir(), "bad.tar.gz")
			write(t, p, bad)
			_, err := Open(context.Background(), "archive:"+p)
			wantErr(t, err, "archive:"+p, "decompress archive")
		})
	}
}

// FuzzStreamIndex checks that an archive indexed from its gzip stream
// serves what a sequential read of it finds, whatever the archive.
func FuzzStreamIndex(f *testing.F) {
	f.Add(smallTar(f))
	f.Add([]byte{})
	f.Add(make([]byte, 1024))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		p := filepath.Join(dir, "a.tar.gz")
		if err := os.WriteFile(p, z.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		idx, err := indexStream(context.Background(), fh, int64(z.Len()))
		if err != nil {
			return
		}
		files, ok := sequentialOK(bytes.NewReader(data))
		if !ok {
			return
		}
		checkIndex(t, idx, files)
		for n := range files {
			rc, err := idx.open(context.Background(), n)
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, files[n]) {
				t.Fatalf("%s: streamed %d bytes (%v), want %d", n, len(got), err, len(files[n]))
			}
		}
	})
}
