package distro_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze/apk"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
	"github.com/vigilsec/vigil/internal/distro"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// TestFromRealPackages guesses each real root's distribution from its
// package database alone and compares with its os-release, read by sh.
// Alpine's minirootfs has no alpine-release package (grep says whether a
// database has one), so only the ID can be told there.
func TestFromRealPackages(t *testing.T) {
	for _, tc := range []struct {
		root, db string
		parse    func([]byte) ([]inventory.Package, error)
	}{
		{"debian-bookworm", "var/lib/dpkg/status", dpkg.Parse},
		{"debian-bullseye", "var/lib/dpkg/status", dpkg.Parse},
		{"alpine-3.6.5", "lib/apk/db/installed", apk.Parse},
		{"alpine-3.20.3", "lib/apk/db/installed", apk.Parse},
	} {
		t.Run(tc.root, func(t *testing.T) {
			root := testenv.Shared(t, "os/"+tc.root)
			data, err := os.ReadFile(filepath.Join(root, tc.db))
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := tc.parse(data)
			if err != nil {
				t.Fatal(err)
			}
			osRelease := filepath.Join(root, "usr/lib/os-release")
			if _, err := os.Stat(osRelease); err != nil {
				osRelease = filepath.Join(root, "etc/os-release")
			}
			out, err := exec.Command("env", "-i", "sh", "-c", `. "$1"; printf '%s %s %s' "$ID" "$VERSION_ID" "$VERSION_CODENAME"`,
				"sh", osRelease).Output()
			if err != nil {
				t.Fatalf("sh: %v", err)
			}
			want := strings.Split(string(out), " ")
			if strings.HasPrefix(tc.root, "alpine") && !bytes.Contains(data, []byte("\nP:alpine-release\n")) {
				want[1] = ""
			}
			d := distro.FromPackages(pkgs)
			if d == nil {
				t.Fatal("nothing detected")
			}
			if d.ID != want[0] || d.VersionID != want[1] || d.Codename != want[2] || d.Source != "packages" {
				t.Errorf("got %+v, want %q", *d, want)
			}
		})
	}
}
