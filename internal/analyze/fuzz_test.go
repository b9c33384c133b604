package analyze_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/apk"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/testenv"
)

// minirootfsPart is a real Alpine minirootfs layer with only its release
// files, package database and a few directories and links kept: small enough
// for a fuzzing corpus, real in every header and byte.
func minirootfsPart(f *testing.F, version string) []byte {
	fh, err := os.Open(testenv.Shared(f, "images/alpine/alpine-minirootfs-"+version+"-x86_64.tar.gz"))
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		f.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	kept := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Fatalf("%s: %v", version, err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "etc/alpine-release", "etc/os-release", "lib/apk/db/installed":
			kept++
		case "etc", "lib", "lib/apk", "lib/apk/db", "bin", "bin/sh", "lib/ld-musl-x86_64.so.1", "usr/lib/os-release":
		default:
			continue
		}
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	if kept != 3 {
		f.Fatalf("%s: %d of the release files and package database", version, kept)
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzLayerGzip feeds arbitrary tar bytes to the walk gzipped, as pushed
// layers are: the inventory of the gzipped layer is that of the same
// (non-empty) bytes uncompressed (compression changes nothing), a gzip stream cut
// short always fails the analysis (an incomplete layer is never taken for
// a clean one), and no temporary file is left.
func FuzzLayerGzip(f *testing.F) {
	f.Add(minirootfsPart(f, "3.20.3"), uint16(0))
	f.Add(minirootfsPart(f, "3.7.3"), uint16(7))
	f.Add(tarball(f, file("var/lib/dpkg/status", status("a=1")), file("etc/os-release", debianRelease)), uint16(0))
	f.Add(tarball(f, file("lib/apk/db/installed", "P:musl\nV:1.1.18-r3\n\n"), symlink("etc/os-release", "../../../x")), uint16(1))
	f.Add([]byte("not a tar"), uint16(0))
	dir := f.TempDir()
	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}, apk.Cataloger{}}, analyze.WithTempDir(dir))
	if err != nil {
		f.Fatal(err)
	}
	analyzeLayer := func(layer []byte) (*analyze.Result, error) {
		img := &image.Image{Name: "fuzz", Layers: []*image.Layer{image.NewLayer(image.Layer{},
			func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil })}}
		return a.Analyze(context.Background(), img)
	}
	f.Fuzz(func(t *testing.T, layer []byte, cut uint16) {
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(layer)
		zw.Close()
		data := gz.Bytes()
		if cut > 0 {
			data = data[:len(data)-1-int(cut)%len(data)]
		}
		res, err := analyzeLayer(data)
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("temporary files left behind: %v", left)
		}
		if cut > 0 {
			if err == nil {
				t.Fatalf("a gzip stream cut %d bytes short was analysed without error", len(gz.Bytes())-len(data))
			}
			return
		}
		if len(layer) == 0 {
			// Nothing at all is refused when it is the blob (no format
			// to recognise) and walked with a warning (no end-of-archive
			// marker) when it is what a gzip stream holds.
			return
		}
		plain, perr := analyzeLayer(layer)
		if (err == nil) != (perr == nil) {
			t.Fatalf("gzipped: %v; uncompressed: %v", err, perr)
		}
		if err != nil {
			return
		}
		if len(res.Inventory.Packages) != len(plain.Inventory.Packages) || res.Inventory.Distro.String() != plain.Inventory.Distro.String() {
			t.Fatalf("gzipped: %d packages, %s; uncompressed: %d, %s", len(res.Inventory.Packages), res.Inventory.Distro,
				len(plain.Inventory.Packages), plain.Inventory.Distro)
		}
		for i := range res.Inventory.Packages {
			if g, p := res.Inventory.Packages[i], plain.Inventory.Packages[i]; g.Name != p.Name || g.Version != p.Version || g.Path != p.Path {
				t.Fatalf("package %d: gzipped %s %s %s, uncompressed %s %s %s", i, g.Name, g.Version, g.Path, p.Name, p.Version, p.Path)
			}
		}
	})
}
