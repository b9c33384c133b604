package dpkg

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/testenv"
)

// FuzzOwned reads arbitrary dpkg file lists, as info/*.list and as
// distroless status.d/*.md5sums: each gives one owner named for its
// package, with one non-empty path per line at most; a list read back
// from its paths gives the same paths; a malformed md5sums line is an
// error naming the file and line.
func FuzzOwned(f *testing.F) {
	for _, p := range []string{"var/lib/dpkg/info/base-files.list", "var/lib/dpkg/info/base-files.md5sums"} {
		name, _ := testenv.ImageFile(f, "debian-bookworm-minbase", p)
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(p, ".md5sums"))
	}
	f.Add([]byte("/.\n/usr\n\n  /usr/bin/x  \n"), false)
	f.Add([]byte("0123  usr/bin/a\nno two spaces\n"), true)
	f.Add([]byte(strings.Repeat("x", 70<<10)), false)
	f.Fuzz(func(t *testing.T, data []byte, md5sums bool) {
		path := "var/lib/dpkg/info/libc6:amd64.list"
		if md5sums {
			path = "var/lib/dpkg/status.d/libc6.md5sums"
		}
		if !(Cataloger{}).WantsOwned(path) {
			t.Fatalf("WantsOwned(%s) = false", path)
		}
		got, err := Cataloger{}.Owned(context.Background(), analyze.NewFile(path, 0o644, data))
		if err != nil {
			if !strings.Contains(err.Error(), "dpkg: ") {
				t.Fatalf("error %q has no package prefix", err)
			}
			if strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if len(got) != 1 || got[0].Owner != "deb:libc6" {
			t.Fatalf("owners %+v", got)
		}
		files := got[0].Files
		if len(files) > strings.Count(string(data), "\n")+1 {
			t.Fatalf("%d paths from %d lines", len(files), strings.Count(string(data), "\n")+1)
		}
		for _, p := range files {
			if p == "" || p != strings.TrimSpace(p) || strings.Contains(p, "\n") {
				t.Fatalf("path %q", p)
			}
		}
		if md5sums {
			return
		}
		again, err := Cataloger{}.Owned(context.Background(), analyze.NewFile(path, 0o644, []byte(strings.Join(files, "\n"))))
		if err != nil || len(again) != 1 || !slices.Equal(again[0].Files, files) {
			t.Fatalf("read back: %+v, %v; want %q", again, err, files)
		}
	})
}
