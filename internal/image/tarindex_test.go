package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"testing"
)

// smallTar writes a tar with the shapes a docker save archive has: files
// under ./, a directory, a symlink to another directory's file, a hard
// link and a file written twice.
func smallTar(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "./manifest.json", Typeflag: tar.TypeReg}, `[{"Config":"c.json"}]`)
	add(&tar.Header{Name: "abc/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "abc/layer.tar", Typeflag: tar.TypeReg}, "layer one")
	add(&tar.Header{Name: "def/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../abc/layer.tar"}, "")
	add(&tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "abc/layer.tar"}, "")
	add(&tar.Header{Name: "loop1", Typeflag: tar.TypeSymlink, Linkname: "loop2"}, "")
	add(&tar.Header{Name: "loop2", Typeflag: tar.TypeSymlink, Linkname: "loop1"}, "")
	add(&tar.Header{Name: "twice", Typeflag: tar.TypeReg}, "first")
	add(&tar.Header{Name: "twice", Typeflag: tar.TypeReg}, "second, longer")
	add(&tar.Header{Name: "empty", Typeflag: tar.TypeReg}, "")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTarIndexLinks(t *testing.T) {
	data := smallTar(t)
	idx, err := indexTar(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, idx, sequential(t, bytes.NewReader(data)))
	for name, want := range map[string]string{
		"manifest.json":    `[{"Config":"c.json"}]`,
		"/manifest.json":   `[{"Config":"c.json"}]`,
		"def/layer.tar":    "layer one",
		"./def/layer.tar":  "layer one",
		"hard":             "layer one",
		"twice":            "second, longer",
		"empty":            "",
		"../abc/layer.tar": "layer one", // cannot climb out of the archive
	} {
		got, err := idx.readFile(name, 100)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := idx.readFile("abc/layer.tar", 3); err == nil {
		t.Error("readFile ignored its limit")
	}
	if _, err := idx.lookup("abc"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory: %v", err)
	}
	if _, err := idx.lookup("loop1"); err == nil {
		t.Error("symlink loop followed")
	}
	if idx.unterminated {
		t.Error("complete archive taken as truncated")
	}
	short, err := indexTar(bytes.NewReader(data), int64(len(data)-1024))
	if err != nil {
		t.Fatal(err)
	}
	if !short.unterminated {
		t.Error("archive without its end block not noticed")
	}
}

// FuzzTarIndex checks that whatever indexTar accepts, it serves each file
// exactly as archive/tar reads it in sequence.
func FuzzTarIndex(f *testing.F) {
	f.Add(smallTar(f))
	f.Add([]byte{})
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := indexTar(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		files, ok := sequentialOK(bytes.NewReader(data))
		if !ok {
			// archive/tar fails reading contents that indexTar only
			// skipped; what indexTar serves must still be in bounds.
			for n := range idx.entries {
				if e, err := idx.lookup(n); err == nil && e.offset+e.size > int64(len(data)) {
					t.Fatalf("%s: %d bytes at %d from a %d-byte archive", n, e.size, e.offset, len(data))
				}
			}
			return
		}
		checkIndex(t, idx, files)
	})
}

// sequentialOK is sequential that reports failure instead of failing.
func sequentialOK(r *bytes.Reader) (map[string][]byte, bool) {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return files, errors.Is(err, io.EOF)
		}
		n := cleanTarPath(hdr.Name)
		delete(files, n)
		if hdr.Typeflag == tar.TypeReg {
			var b bytes.Buffer
			if _, err := b.ReadFrom(tr); err != nil {
				return files, false
			}
			files[n] = b.Bytes()
		}
	}
}
