package testenv

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DebianRootfs returns an uncompressed tar of a Debian root's package
// database and release files, copied from the shared test data
// (os/<name>, such as "debian-bullseye"), with extra files added. When
// pad is more than 0, the dpkg status file's last package gets a
// Description longer by at least pad bytes — more continuation lines, as
// dpkg writes them — the shape of a status file padded to get past a
// size limit.
func DebianRootfs(t testing.TB, name string, pad int, extra map[string][]byte) []byte {
	t.Helper()
	root := Shared(t, "os/"+name)
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	status := read("var/lib/dpkg/status")
	if pad > 0 {
		var b bytes.Buffer
		b.Grow(len(status) + pad + 1<<20)
		b.WriteString(strings.TrimRight(string(status), "\n"))
		b.WriteString("\n .\n")
		line := " " + strings.Repeat("padding ", 127) + "\n"
		for n := 0; n < pad; n += len(line) {
			b.WriteString(line)
		}
		b.WriteString("\n")
		status = b.Bytes()
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	file := func(p string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	dirs := map[string]bool{}
	dir := func(p string) {
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	dir("usr/lib/os-release")
	file("usr/lib/os-release", read("usr/lib/os-release"))
	dir("etc/os-release")
	if err := tw.WriteHeader(&tar.Header{Name: "etc/os-release", Typeflag: tar.TypeSymlink, Linkname: "../usr/lib/os-release", Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	file("etc/debian_version", read("etc/debian_version"))
	dir("var/lib/dpkg/status")
	file("var/lib/dpkg/status", status)
	names := make([]string, 0, len(extra))
	for p := range extra {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		dir(p)
		file(p, extra[p])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// DebianImage is a one-layer linux/amd64 image of DebianRootfs
// ("debian-bullseye", padded by pad) with one npm package that no
// advisory names (inherits, from the shared npm fixture), so that the
// image has packages beside its OS ones.
func DebianImage(t testing.TB, pad int) v1.Image {
	t.Helper()
	pkg, err := os.ReadFile(Shared(t, "lang/npm-app/node_modules/inherits/package.json"))
	if err != nil {
		t.Fatal(err)
	}
	rootfs := DebianRootfs(t, "debian-bullseye", pad, map[string][]byte{"app/node_modules/inherits/package.json": pkg})
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(rootfs)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}
