package dpkg

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files from dpkg-query")

// queryFormat makes dpkg-query print what the cataloger reports, so that
// the reference comes from dpkg itself.
const queryFormat = `${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n`

// dpkgQuery lists the packages of a status file with the real dpkg-query,
// keeping those whose files are on disk (the same rule as the cataloger).
func dpkgQuery(t *testing.T, status string) string {
	t.Helper()
	adm := t.TempDir()
	data, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(adm, "status"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-query", "--admindir="+adm, "-W", "-f="+queryFormat).Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		abbrev, rest, _ := strings.Cut(l, "\t")
		// Second letter of the abbreviation is the state: n (not
		// installed) and c (config-files) have no files on disk.
		if st := strings.TrimSpace(abbrev); len(st) >= 2 && (st[1] == 'n' || st[1] == 'c') {
			continue
		}
		lines = append(lines, rest)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func render(pkgs []inventory.Package) string {
	var lines []string
	for _, p := range pkgs {
		lines = append(lines, fmt.Sprintf("%s\t%s\t%s\t%s\t%s", p.Name, p.Version, p.Arch, p.Source.Name, p.Source.Version))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestRealStatus compares the cataloger with dpkg-query on the status files
// of real Debian roots. The golden files hold dpkg-query's output; when
// dpkg-query is installed the test also checks that it still says the same.
func TestRealStatus(t *testing.T) {
	for _, root := range []string{"debian-bookworm", "debian-bullseye"} {
		t.Run(root, func(t *testing.T) {
			status := testenv.Shared(t, "os/"+root+"/var/lib/dpkg/status")
			golden := filepath.Join("testdata", root+".dpkg-query.tsv")
			_, haveDpkg := exec.LookPath("dpkg-query")
			if haveDpkg == nil {
				want := dpkgQuery(t, status)
				if *update {
					if err := os.WriteFile(golden, []byte(want), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if g, err := os.ReadFile(golden); err != nil || string(g) != want {
					t.Fatalf("%s differs from what dpkg-query prints now; rerun with -update", golden)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(status)
			if err != nil {
				t.Fatal(err)
			}
			f := analyze.NewFile("var/lib/dpkg/status", 0o644, data)
			pkgs, err := Cataloger{}.Catalog(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(pkgs); got != string(want) {
				t.Errorf("packages differ from dpkg-query:\n%s", diff(string(want), got))
			}
		})
	}
}

func diff(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	g := map[string]bool{}
	var b strings.Builder
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	return b.String()
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"var/lib/dpkg/status", true},
		{"var/lib/dpkg/status-old", false},
		{"var/lib/dpkg/status.d/base", true},
		{"var/lib/dpkg/status.d/base.md5sums", false},
		{"var/lib/dpkg/status.d/sub/x", false},
		{"usr/var/lib/dpkg/status", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	const status = `Package: removed
Status: deinstall ok config-files
Version: 1.0

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2
Description: a
 multi-line
 .
 description

Package: zlib1g
Status: install ok half-configured
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: distroless-style
Version: 2.0
Architecture: all
`
	pkgs, err := Parse([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	got := render(pkgs)
	want := "distroless-style\t2.0\tall\tdistroless-style\t2.0\n" +
		"libssl3\t3.0.11-1~deb12u2\tamd64\topenssl\t3.0.11-1~deb12u2\n" +
		"zlib1g\t1:1.2.13.dfsg-1\tamd64\tzlib\t1:1.2.13.dfsg-1\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestParseMalformed(t *testing.T) {
	const status = "Package: good\nStatus: install ok installed\nVersion: 1\n\n" +
		"this line is not a field\nPackage: bad\n\n" +
		"Package: noversion\nStatus: install ok installed\n"
	pkgs, err := Parse([]byte(status))
	if len(pkgs) != 1 || pkgs[0].Name != "good" {
		t.Errorf("got %v, want only the good package", pkgs)
	}
	if err == nil || !strings.Contains(err.Error(), "paragraph 2 (line 5)") || !strings.Contains(err.Error(), "paragraph 3") {
		t.Errorf("error %v does not name both bad paragraphs", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (2)\n"))
	f.Add([]byte("\n\n \nPackage: x\n continuation\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := Parse(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.Source == nil {
				t.Fatalf("incomplete package %+v", p)
			}
		}
		if bytes.Count(data, []byte("Package")) < len(pkgs) {
			t.Fatalf("%d packages from %d paragraphs", len(pkgs), bytes.Count(data, []byte("Package")))
		}
	})
}
