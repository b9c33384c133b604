package distro

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// FuzzReleaseFiles detects the distribution from arbitrary release files
// other than os-release (alpine-release, the Red Hat family's, Debian's
// debian_version, lsb-release), each present or not: it never panics,
// says which file it read, and takes nothing longer than that file.
func FuzzReleaseFiles(f *testing.F) {
	for _, root := range []string{"alpine-3.6.5", "alpine-3.20.3", "debian-bullseye", "debian-bookworm"} {
		dir := testenv.Shared(f, "os/"+root)
		alpine, _ := os.ReadFile(filepath.Join(dir, "etc/alpine-release"))
		debian, _ := os.ReadFile(filepath.Join(dir, "etc/debian_version"))
		f.Add(alpine, []byte(nil), debian, []byte(nil), uint8(0))
	}
	f.Add([]byte(nil), []byte("CentOS Linux release 7.9.2009 (Core)\n"), []byte(nil), []byte(nil), uint8(2))
	f.Add([]byte(nil), []byte("Rocky Linux release 9.3 (Blue Onyx)\n"), []byte(nil), []byte(nil), uint8(1))
	f.Add([]byte(nil), []byte("Red Hat Enterprise Linux release 8.10 (Ootpa)\n"), []byte(nil), []byte(nil), uint8(3))
	f.Add([]byte(nil), []byte(nil), []byte("trixie/sid\n"), []byte("DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n"), uint8(0))
	f.Fuzz(func(t *testing.T, alpine, redhat, debian, lsb []byte, which uint8) {
		files := map[string][]byte{}
		if alpine != nil {
			files[alpineRelease] = alpine
		}
		if redhat != nil {
			files[redhatFiles[int(which)%len(redhatFiles)]] = redhat
		}
		if debian != nil {
			files[debianVersion] = debian
		}
		if lsb != nil {
			files[lsbRelease] = lsb
		}
		for p := range files {
			if !Wants(p) {
				t.Fatalf("Detect reads %s, which Wants refuses", p)
			}
		}
		d := Detect(func(p string) ([]byte, bool) { b, ok := files[p]; return b, ok })
		if d == nil {
			return
		}
		src, ok := files[strings.TrimPrefix(d.Source, "/")]
		if !ok {
			t.Fatalf("source %q is not a file given", d.Source)
		}
		for _, v := range []string{d.ID, d.VersionID, d.Codename} {
			if len(v) > len(src) && len(v) > 32 {
				t.Fatalf("%q is longer than %s (%d bytes)", v, d.Source, len(src))
			}
			if strings.ContainsAny(v, "\n\r") {
				t.Fatalf("%q holds a line break", v)
			}
		}
		if d.ID == "" {
			t.Fatalf("a distribution without an id: %+v", d)
		}
	})
}
