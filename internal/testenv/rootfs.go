package testenv

import (
	"archive/tar"
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DebianRootfs writes an uncompressed tar of a Debian root's package
// database and release files, copied from the shared test data
// (os/<name>, such as "debian-bullseye"), with extra files added, and
// returns its path. When pad is more than 0, the dpkg status file's last
// package gets a Description longer by at least pad bytes — more
// continuation lines, as dpkg writes them — the shape of a status file
// padded to get past a size limit. The tar is written as a stream, so
// that a large pad does not grow the test's own memory.
func DebianRootfs(t testing.TB, name string, pad int, extra map[string][]byte) string {
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
	line := " " + strings.Repeat("padding ", 127) + "\n"
	lines := 0
	if pad > 0 {
		status = append([]byte(strings.TrimRight(string(status), "\n")), "\n .\n"...)
		lines = (pad + len(line) - 1) / len(line)
	}
	out := filepath.Join(t.TempDir(), name+".tar")
	fh, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	bw := bufio.NewWriterSize(fh, 1<<20)
	tw := tar.NewWriter(bw)
	header := func(h *tar.Header) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	write := func(b []byte) {
		if _, err := tw.Write(b); err != nil {
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
				header(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir})
			}
		}
	}
	file := func(p string, data []byte) {
		dir(p)
		header(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		write(data)
	}
	file("usr/lib/os-release", read("usr/lib/os-release"))
	dir("etc/os-release")
	header(&tar.Header{Name: "etc/os-release", Typeflag: tar.TypeSymlink, Linkname: "../usr/lib/os-release", Mode: 0o777})
	file("etc/debian_version", read("etc/debian_version"))
	dir("var/lib/dpkg/status")
	size := int64(len(status))
	if lines > 0 {
		size += int64(lines*len(line)) + 1
	}
	header(&tar.Header{Name: "var/lib/dpkg/status", Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
	write(status)
	for range lines {
		write([]byte(line))
	}
	if lines > 0 {
		write([]byte("\n"))
	}
	names := make([]string, 0, len(extra))
	for p := range extra {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		file(p, extra[p])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	return out
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
	return RootfsImage(t, rootfs)
}
