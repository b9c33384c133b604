package analyze_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
)

// entry is one tar entry of a synthetic layer.
type entry struct {
	name, body, link string
	typ              byte
}

func file(name, body string) entry { return entry{name: name, body: body, typ: tar.TypeReg} }
func dir(name string) entry        { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, target string) entry {
	return entry{name: name, link: target, typ: tar.TypeSymlink}
}
func hardlink(name, target string) entry {
	return entry{name: name, link: target, typ: tar.TypeLink}
}

func tarball(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// layered makes an image of gzipped layers with correct digests.
func layered(t testing.TB, layers ...[]byte) *image.Image {
	t.Helper()
	img := &image.Image{Name: "test-image"}
	for i, raw := range layers {
		blob := gz(t, raw)
		img.Layers = append(img.Layers, image.NewLayer(image.Layer{
			Index: i, Digest: digest(blob), DiffID: digest(raw), Size: int64(len(blob)),
		}, func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(blob)), nil
		}))
	}
	return img
}

func status(pkgs ...string) string {
	var b strings.Builder
	for _, p := range pkgs {
		name, version, _ := strings.Cut(p, "=")
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: %s\n\n", name, version)
	}
	return b.String()
}

func analyzeImage(t *testing.T, img *image.Image, opts ...analyze.Option) *analyze.Result {
	t.Helper()
	opts = append([]analyze.Option{analyze.WithTempDir(t.TempDir())}, opts...)
	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// summary renders packages as "name=version@layer path".
func summary(pkgs []inventory.Package) string {
	var s []string
	for _, p := range pkgs {
		s = append(s, fmt.Sprintf("%s=%s@%d %s", p.Name, p.Version, p.Layer.Index, p.Path))
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

const debianRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"

func TestLayers(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]entry
		want   string
	}{
		{
			name: "a package keeps the layer that introduced it when the database is rewritten",
			layers: [][]entry{
				{dir("var/"), dir("var/lib/"), dir("var/lib/dpkg/"), file("var/lib/dpkg/status", status("a=1", "b=1"))},
				{file("var/lib/dpkg/status", status("a=1", "b=2", "c=1"))},
			},
			want: "a=1@0 /var/lib/dpkg/status\nb=2@1 /var/lib/dpkg/status\nc=1@1 /var/lib/dpkg/status",
		},
		{
			name: "a package removed and installed again counts from its reinstallation",
			layers: [][]entry{
				{file("var/lib/dpkg/status", status("a=1", "b=1"))},
				{file("var/lib/dpkg/status", status("b=1"))},
				{file("var/lib/dpkg/status", status("a=1", "b=1"))},
			},
			want: "a=1@2 /var/lib/dpkg/status\nb=1@0 /var/lib/dpkg/status",
		},
		{
			name: "a whiteout deletes a lower file",
			layers: [][]entry{
				{file("var/lib/dpkg/status.d/a", status("a=1")), file("var/lib/dpkg/status.d/b", status("b=1"))},
				{file("var/lib/dpkg/status.d/.wh.a", "")},
			},
			want: "b=1@0 /var/lib/dpkg/status.d/b",
		},
		{
			name: "a whiteout of a directory deletes what is below it",
			layers: [][]entry{
				{file("var/lib/dpkg/status.d/a", status("a=1"))},
				{file("var/lib/dpkg/.wh.status.d", "")},
			},
			want: "",
		},
		{
			name: "an opaque directory hides lower contents but not its own",
			layers: [][]entry{
				{file("var/lib/dpkg/status.d/a", status("a=1"))},
				{dir("var/lib/dpkg/status.d/"), file("var/lib/dpkg/status.d/.wh..wh..opq", ""), file("var/lib/dpkg/status.d/b", status("b=1"))},
			},
			want: "b=1@1 /var/lib/dpkg/status.d/b",
		},
		{
			name: "a file recreated above its whiteout is seen",
			layers: [][]entry{
				{file("var/lib/dpkg/status.d/a", status("a=1"))},
				{file("var/lib/dpkg/status.d/.wh.a", "")},
				{file("var/lib/dpkg/status.d/a", status("a=2"))},
			},
			want: "a=2@2 /var/lib/dpkg/status.d/a",
		},
		{
			name: "a directory replaced by a file hides what was below it",
			layers: [][]entry{
				{file("var/lib/dpkg/status.d/a", status("a=1"))},
				{file("var/lib/dpkg/status.d", "not a directory")},
			},
			want: "",
		},
		{
			name: "a directory replaced by a symbolic link hides what was below it",
			layers: [][]entry{
				{file("var/lib/dpkg/status.d/a", status("a=1"))},
				{symlink("var/lib/dpkg/status.d", "/elsewhere")},
			},
			want: "",
		},
		{
			name: "a file replaced by a directory is gone",
			layers: [][]entry{
				{file("var/lib/dpkg/status.d/a", status("a=1"))},
				{dir("var/lib/dpkg/status.d/a/")},
			},
			want: "",
		},
		{
			name: "a hard link to a wanted file is read as that file",
			layers: [][]entry{
				{file("var/lib/dpkg/status.d/a", status("a=1")), hardlink("var/lib/dpkg/status.d/b", "var/lib/dpkg/status.d/a")},
			},
			want: "a=1@0 /var/lib/dpkg/status.d/a\na=1@0 /var/lib/dpkg/status.d/b",
		},
		{
			name: "entry names with ./ and a leading slash are the same path",
			layers: [][]entry{
				{file("./var/lib/dpkg/status", status("a=1"))},
				{file("/var/lib/dpkg/status", status("a=1", "b=1"))},
			},
			want: "a=1@0 /var/lib/dpkg/status\nb=1@1 /var/lib/dpkg/status",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var raws [][]byte
			for _, l := range tc.layers {
				raws = append(raws, tarball(t, l...))
			}
			res := analyzeImage(t, layered(t, raws...))
			if got := summary(res.Inventory.Packages); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestDistroThroughSymlink(t *testing.T) {
	img := layered(t,
		tarball(t, file("usr/lib/os-release", debianRelease), symlink("etc/os-release", "../usr/lib/os-release"),
			file("var/lib/dpkg/status", status("libc6=2.36-9"))),
	)
	res := analyzeImage(t, img)
	d := res.Inventory.Distro
	if d == nil || d.ID != "debian" || d.VersionID != "12" {
		t.Fatalf("distro = %+v, want debian 12", d)
	}
	p := res.Inventory.Packages[0]
	if want := "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12"; p.PURL != want {
		t.Errorf("purl %q, want %q", p.PURL, want)
	}
	if p.Layer.DiffID != img.Layers[0].DiffID || p.Layer.Digest != img.Layers[0].Digest {
		t.Errorf("layer %+v does not name the layer's digests", p.Layer)
	}
}

func TestDistroDeletedInUpperLayer(t *testing.T) {
	img := layered(t,
		tarball(t, file("etc/os-release", debianRelease)),
		tarball(t, file("etc/.wh.os-release", "")),
	)
	res := analyzeImage(t, img)
	if d := res.Inventory.Distro; d != nil && d.Source == "etc/os-release" {
		t.Errorf("distro %+v read from a deleted file", d)
	}
}

func TestHostileEntries(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside")
	layer := tarball(t,
		file("../../../../"+strings.TrimPrefix(outside, "/"), "escape"),
		file("a/../../b", "escape"),
		symlink("etc/evil", "../../../../../etc/shadow"),
		hardlink("var/lib/dpkg/status.d/self", "var/lib/dpkg/status.d/self"),
		hardlink("var/lib/dpkg/status.d/x", "../../outside"),
		file("var/lib/dpkg/status.d/\xff\xfe", status("weird=1")),
		file("var/lib/dpkg/status", status("ok=1")),
	)
	res := analyzeImage(t, layered(t, layer))
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("a file was written outside the analysis")
	}
	if got := summary(res.Inventory.Packages); got != "ok=1@0 /var/lib/dpkg/status\nweird=1@0 /var/lib/dpkg/status.d/\xff\xfe" {
		t.Errorf("packages:\n%s", got)
	}
	var msgs []string
	for _, w := range res.Warnings {
		msgs = append(msgs, w.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"climbs out of the layer root", "points outside the image root", "hard link to itself", "not valid UTF-8"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
	for _, w := range res.Warnings {
		if w.Layer != 0 || w.DiffID == "" {
			t.Errorf("warning %+v does not name its layer", w)
		}
	}
}

func TestBadLayers(t *testing.T) {
	good := tarball(t, file("var/lib/dpkg/status", status("a=1")), file("big", strings.Repeat("x", 100000)))
	blob := gz(t, good)
	corrupt := bytes.Clone(blob)
	corrupt[len(corrupt)/2] ^= 0xff
	tests := []struct {
		name    string
		blob    []byte
		diffID  string
		wantErr string
	}{
		{"truncated gzip", blob[:len(blob)/2], digest(good), "unexpected EOF"},
		{"corrupt gzip", corrupt, digest(good), "layer 0"},
		{"tar cut inside an entry", gz(t, good[:3000]), digest(good[:3000]), "truncated"},
		{"diff-id mismatch", blob, digest([]byte("other")), "diff-id mismatch"},
		{"not an archive", []byte("BZh91AY&SY"), "", "layer 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := &image.Image{Name: "bad-image", Layers: []*image.Layer{image.NewLayer(image.Layer{DiffID: tc.diffID, Digest: "sha256:abc"},
				func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tc.blob)), nil })}}
			a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, analyze.WithTempDir(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Analyze(context.Background(), img)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "bad-image") {
				t.Errorf("error %q does not name the image and say %q", err, tc.wantErr)
			}
		})
	}
}

func TestTarWithoutEndMarker(t *testing.T) {
	good := tarball(t, file("var/lib/dpkg/status", status("a=1")), file("other", "x"))
	// Cut after the first entry: a stream that looks complete to
	// archive/tar but lacks the end-of-archive marker.
	res := analyzeImage(t, layered(t, good[:1024]))
	if len(res.Inventory.Packages) != 1 {
		t.Errorf("packages %v", res.Inventory.Packages)
	}
	found := false
	for _, w := range res.Warnings {
		found = found || strings.Contains(w.Message, "end-of-archive marker")
	}
	if !found {
		t.Errorf("no warning about the missing end-of-archive marker: %v", res.Warnings)
	}
	if res := analyzeImage(t, layered(t, good)); len(res.Warnings) != 0 {
		t.Errorf("warnings for a complete tar: %v", res.Warnings)
	}
}

func TestCache(t *testing.T) {
	img := layered(t,
		tarball(t, file("var/lib/dpkg/status", status("a=1"))),
		tarball(t, file("var/lib/dpkg/status", status("a=1", "b=1")), file("var/lib/dpkg/status.d/.wh.x", "")),
	)
	for _, tc := range []struct {
		name  string
		cache func(t *testing.T) analyze.Cache
	}{
		{"memory", func(*testing.T) analyze.Cache { return analyze.NewMemCache() }},
		{"dir", func(t *testing.T) analyze.Cache {
			c, err := analyze.NewDirCache(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cache(t)
			first := analyzeImage(t, img, analyze.WithCache(c))
			second := analyzeImage(t, img, analyze.WithCache(c))
			for _, l := range first.Layers {
				if l.Cached {
					t.Errorf("first analysis: layer %d came from an empty cache", l.Index)
				}
			}
			for _, l := range second.Layers {
				if !l.Cached {
					t.Errorf("second analysis: layer %d was read again", l.Index)
				}
			}
			if a, b := summary(first.Inventory.Packages), summary(second.Inventory.Packages); a != b || a == "" {
				t.Errorf("cached result differs:\n%s\nvs\n%s", a, b)
			}
		})
	}
}

func TestSpoolToDisk(t *testing.T) {
	var many []string
	for i := 0; i < 2000; i++ {
		many = append(many, fmt.Sprintf("p%04d=1.%d", i, i))
	}
	img := layered(t, tarball(t, file("var/lib/dpkg/status", status(many...))))
	// A per-file memory limit below the file's size sends it to disk.
	res := analyzeImage(t, img, analyze.WithMemory(1024, 1024))
	if n := len(res.Inventory.Packages); n != 2000 {
		t.Errorf("%d packages, want 2000", n)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []analyze.Option{
		analyze.WithParallelism(0, 1),
		analyze.WithMemory(10, 20),
		analyze.WithMaxFileSize(0),
		analyze.WithTempDir(""),
	} {
		if _, err := analyze.New(nil, o); err == nil {
			t.Error("invalid option accepted")
		}
	}
	if _, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}, dpkg.Cataloger{}}); err == nil {
		t.Error("two catalogers with one name accepted")
	}
}

// FuzzLayer feeds arbitrary bytes to the walk as an uncompressed layer:
// whatever they are, the walk returns a result or an error, never panics,
// and never writes outside its temporary directory.
func FuzzLayer(f *testing.F) {
	f.Add(tarball(f, file("var/lib/dpkg/status", status("a=1")), file("etc/os-release", debianRelease)))
	f.Add(tarball(f, file("var/lib/dpkg/status.d/.wh..wh..opq", ""), symlink("etc/os-release", "../../../x"),
		hardlink("var/lib/dpkg/status.d/a", "var/lib/dpkg/status.d/a")))
	f.Add([]byte("not a tar"))
	dir := f.TempDir()
	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, analyze.WithTempDir(dir))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, layer []byte) {
		img := &image.Image{Name: "fuzz", Layers: []*image.Layer{image.NewLayer(image.Layer{},
			func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil })}}
		res, err := a.Analyze(context.Background(), img)
		if err == nil && res == nil {
			t.Fatal("no result and no error")
		}
		left, _ := os.ReadDir(dir)
		if len(left) != 0 {
			t.Fatalf("temporary files left behind: %v", left)
		}
	})
}
