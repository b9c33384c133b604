package apk

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

var update = flag.Bool("update", false, "rewrite the golden files with awk")

// awkScript reads an installed database the simplest way there is, one
// line at a time, printing name, version, arch, origin and license of each
// paragraph. It is the reference the cataloger is compared with.
const awkScript = `
function flush() { if (p != "") print p "\t" v "\t" a "\t" o "\t" l; p = v = a = o = l = "" }
/^P:/ { p = substr($0, 3) }
/^V:/ { v = substr($0, 3) }
/^A:/ { a = substr($0, 3) }
/^o:/ { o = substr($0, 3) }
/^L:/ { l = substr($0, 3) }
/^[ \t]*$/ { flush() }
END { flush() }
`

func awkList(t *testing.T, db string) string {
	t.Helper()
	out, err := exec.Command("awk", awkScript, db).Output()
	if err != nil {
		t.Fatalf("awk: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func render(pkgs []inventory.Package) string {
	var lines []string
	for _, p := range pkgs {
		lic := strings.Join(p.Licenses, " ")
		lines = append(lines, fmt.Sprintf("%s\t%s\t%s\t%s\t%s", p.Name, p.Version, p.Arch, p.Source.Name, lic))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestRealInstalled compares the cataloger with awk's reading of the
// installed databases of the five real Alpine roots, and with a count of
// their "P:" lines.
func TestRealInstalled(t *testing.T) {
	for _, root := range []string{"alpine-3.6.5", "alpine-3.7.3", "alpine-3.8.5", "alpine-3.10.3", "alpine-3.20.3"} {
		t.Run(root, func(t *testing.T) {
			db := testenv.Shared(t, "os/"+root+"/lib/apk/db/installed")
			golden := filepath.Join("testdata", root+".awk.tsv")
			if _, err := exec.LookPath("awk"); err == nil {
				want := awkList(t, db)
				if *update {
					if err := os.WriteFile(golden, []byte(want), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if g, err := os.ReadFile(golden); err != nil || string(g) != want {
					t.Fatalf("%s differs from what awk prints now; rerun with -update", golden)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile("lib/apk/db/installed", 0o644, data))
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(data, []byte("\nP:")) + btoi(bytes.HasPrefix(data, []byte("P:"))); len(pkgs) != n {
				t.Errorf("%d packages, file has %d P: lines", len(pkgs), n)
			}
			if got := render(pkgs); got != string(want) {
				t.Errorf("got\n%s\nwant (awk)\n%s", got, want)
			}
			for _, p := range pkgs {
				if p.Type != inventory.APK || p.Cataloger != "apk" || p.Evidence != inventory.Installed || p.Source.Version != p.Version {
					t.Errorf("%s: type %q cataloger %q evidence %q source version %q", p.Name, p.Type, p.Cataloger, p.Evidence, p.Source.Version)
				}
			}
		})
	}
}

// TestOrigin checks a case the real roots show: libcrypto and libssl are
// built from openssl, which is what Alpine's advisories name.
func TestOrigin(t *testing.T) {
	data, err := os.ReadFile(testenv.Shared(t, "os/alpine-3.10.3/lib/apk/db/installed"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pkgs {
		if p.Name == "libcrypto1.1" {
			found = true
			if p.Source.Name != "openssl" {
				t.Errorf("libcrypto1.1 source %q, want openssl", p.Source.Name)
			}
		}
	}
	if !found {
		t.Error("libcrypto1.1 not found")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"lib/apk/db/installed", true},
		{"usr/lib/apk/db/installed", true},
		{"lib/apk/db/installed.old", false},
		{"lib/apk/db/triggers", false},
		{"var/lib/apk/db/installed", false},
		{"x/lib/apk/db/installed", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, db, want string
	}{
		{"empty", "", "\n"},
		{"blank lines only", "\n \n\n", "\n"},
		{
			"two packages, extra blank lines, no final newline",
			"\n\nC:Q1abc=\nP:musl\nV:1.1.24-r2\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:libc.musl-x86_64.so.1\n\n\n" +
				"P:libssl1.1\nV:1.1.1d-r0\nA:x86_64\nL:OpenSSL\no:openssl",
			"libssl1.1\t1.1.1d-r0\tx86_64\topenssl\tOpenSSL\nmusl\t1.1.24-r2\tx86_64\tmusl\tMIT\n",
		},
		{
			"no origin: own source, no license",
			"P:foo\nV:1-r0\n",
			"foo\t1-r0\t\tfoo\t\n",
		},
		{
			"value with colons",
			"P:a\nV:2:1-r0\nL:MIT AND (BSD-2-Clause OR GPL-2.0-only)\n",
			"a\t2:1-r0\t\ta\tMIT AND (BSD-2-Clause OR GPL-2.0-only)\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := Parse([]byte(tc.db))
			if err != nil {
				t.Fatal(err)
			}
			if got := render(pkgs); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	db := "P:good\nV:1\n\n" +
		"P:bad\nthis is not a field\nV:1\n\n" +
		"P:noversion\n\n" +
		"P:one\nV:1\nP:two\nV:2\n\n" +
		"P:good2\nV:2\n"
	pkgs, err := Parse([]byte(db))
	if got := render(pkgs); got != "good\t1\t\tgood\t\ngood2\t2\t\tgood2\t\n" {
		t.Errorf("got %q, want only the two good packages", got)
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"3 malformed", "paragraph at line 4: line 5 is not a field", "paragraph at line 8: missing", "paragraph at line 10: line 12: second P:"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	_, err = Cataloger{}.Catalog(context.Background(), analyze.NewFile("lib/apk/db/installed", 0o644, []byte(db)))
	if err == nil || !strings.HasPrefix(err.Error(), "apk: lib/apk/db/installed: ") {
		t.Errorf("Catalog error %v does not name the package and file", err)
	}
}

func TestParseManyErrors(t *testing.T) {
	db := strings.Repeat("garbage\n\n", 1000)
	_, err := Parse([]byte(db))
	if err == nil || !strings.Contains(err.Error(), "1000 malformed") || !strings.Contains(err.Error(), "and 990 more") || len(err.Error()) > 2000 {
		t.Errorf("error not bounded or not counted: %d bytes: %.200v", len(fmt.Sprint(err)), err)
	}
}

func TestCatalogTooLarge(t *testing.T) {
	f := analyze.NewFile("lib/apk/db/installed", 0o644, make([]byte, maxDBSize+1))
	if _, err := (Cataloger{}).Catalog(context.Background(), f); err == nil {
		t.Error("no error for an oversized database")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("P:a\nV:1\no:b\nL:MIT\n\nP:c\nV:2\n"))
	f.Add([]byte("P:\nV:\n\n:\n\nPP\n"))
	// The last paragraph of a real database (a whole one would make the
	// fuzzer spend its time minimizing).
	if data, err := os.ReadFile(filepath.Join(testenv.Root(), "..", "shared", "testdata", "os", "alpine-3.20.3", "lib", "apk", "db", "installed")); err == nil {
		paras := bytes.Split(bytes.TrimSpace(data), []byte("\n\n"))
		f.Add(paras[len(paras)-1])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := Parse(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.Source == nil || p.Source.Name == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
		// Every package comes from a P: line of its own.
		if n := bytes.Count(data, []byte("P:")); len(pkgs) > n {
			t.Fatalf("%d packages from %d P: fields", len(pkgs), n)
		}
	})
}
