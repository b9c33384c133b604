package match_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/apk"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
	"github.com/vigilsec/vigil/internal/distro"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// importDB builds a database from shared test data paths.
func importDB(t testing.TB, rel ...string) *vulndb.DB {
	t.Helper()
	var paths []string
	for _, r := range rel {
		paths = append(paths, testenv.Shared(t, r))
	}
	d, err := vulndb.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Import(context.Background(), paths, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(context.Background(), d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// osInventory reads a real package database and os-release from the shared
// test roots, with the distribution detected from the root's own files.
func osInventory(t testing.TB, root string, c analyze.Cataloger, dbPath string) *inventory.Inventory {
	t.Helper()
	dir := testenv.Shared(t, "os/"+root)
	data, err := os.ReadFile(filepath.Join(dir, dbPath))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := c.Catalog(context.Background(), analyze.NewFile(dbPath, 0o644, data))
	if err != nil {
		t.Fatal(err)
	}
	d := distro.Detect(func(p string) ([]byte, bool) {
		b, err := os.ReadFile(filepath.Join(dir, p))
		return b, err == nil
	})
	if d == nil {
		t.Fatalf("%s: no distribution detected", root)
	}
	for i := range pkgs {
		pkgs[i].PURL = inventory.PURL(&pkgs[i], d)
	}
	return &inventory.Inventory{Distro: d, Packages: pkgs}
}

type pkgVuln struct{ pkg, id string }

func findings(res *match.Result) []pkgVuln {
	var out []pkgVuln
	for _, f := range res.Findings {
		out = append(out, pkgVuln{f.Package.Name, f.ID})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].pkg != out[j].pkg {
			return out[i].pkg < out[j].pkg
		}
		return out[i].id < out[j].id
	})
	return out
}

// TestAlpineSecdb matches the real Alpine roots against the real 2020
// secdb. The shared test data's README records what apk's own ordering
// gives: only 3.7.3 has a package below a secfix (musl and musl-utils
// 1.1.18-r3 < 1.1.18-r4, CVE-2019-14697); 3.6.5, 3.8.5 and 3.10.3 contain
// every fix, and there is no data for 3.20.
func TestAlpineSecdb(t *testing.T) {
	db := importDB(t, "vulndb/alpine-secdb")
	want := map[string][]pkgVuln{
		"alpine-3.6.5":  nil,
		"alpine-3.7.3":  {{"musl", "CVE-2019-14697"}, {"musl-utils", "CVE-2019-14697"}},
		"alpine-3.8.5":  nil,
		"alpine-3.10.3": nil,
		"alpine-3.20.3": nil,
	}
	for root, w := range want {
		t.Run(root, func(t *testing.T) {
			inv := osInventory(t, root, apk.Cataloger{}, "lib/apk/db/installed")
			res, err := match.Match(context.Background(), db, inv)
			if err != nil {
				t.Fatal(err)
			}
			got := findings(res)
			if len(got) != len(w) {
				t.Fatalf("findings %v, want %v", got, w)
			}
			for i := range w {
				if got[i] != w[i] {
					t.Errorf("finding %d: %v, want %v", i, got[i], w[i])
				}
			}
			for _, f := range res.Findings {
				if f.Fix != match.Fixed || f.FixedVersion != "1.1.18-r4" {
					t.Errorf("%s %s: fix %s %q, want fixed in 1.1.18-r4", f.Package.Name, f.ID, f.Fix, f.FixedVersion)
				}
				if f.Ecosystem != "Alpine:v3.7" {
					t.Errorf("ecosystem %s", f.Ecosystem)
				}
			}
		})
	}
}

// TestDebianLists checks the Debian roots against the DSA/DLA lists,
// whose fixes predate every installed version: no findings. The test
// also proves the lookups were real: the same packages at the version
// just before a listed fix are found.
func TestDebianLists(t *testing.T) {
	db := importDB(t, "vulndb/debian")
	for _, tc := range []struct{ root, eco string }{{"debian-bullseye", "Debian:11"}, {"debian-bookworm", "Debian:12"}} {
		t.Run(tc.root, func(t *testing.T) {
			inv := osInventory(t, tc.root, dpkg.Cataloger{}, "var/lib/dpkg/status")
			res, err := match.Match(context.Background(), db, inv)
			if err != nil {
				t.Fatal(err)
			}
			if got := findings(res); len(got) != 0 {
				t.Errorf("false positives: %v", got)
			}
			// How many of the image's source packages have advisories
			// for this release at all: the no-findings result above
			// must come from version comparison, not from empty lookups.
			consulted := 0
			seen := map[string]bool{}
			for _, p := range inv.Packages {
				if seen[p.Source.Name] {
					continue
				}
				seen[p.Source.Name] = true
				advs, err := db.Affecting(context.Background(), tc.eco, p.Source.Name)
				if err != nil {
					t.Fatal(err)
				}
				if len(advs) > 0 {
					consulted++
				}
			}
			if tc.eco == "Debian:11" && consulted < 10 {
				t.Errorf("only %d source packages have %s advisories: the test proves little", consulted, tc.eco)
			}
			t.Logf("%d source packages have %s advisories", consulted, tc.eco)
		})
	}
}

// TestDebianPositiveControl takes real DSA lines for bullseye and checks
// that a package one step below the fixed version is reported with that
// fix, and one at the fixed version is not.
func TestDebianPositiveControl(t *testing.T) {
	db := importDB(t, "vulndb/debian/DSA")
	d := &inventory.Distro{ID: "debian", VersionID: "11"}
	for _, tc := range []struct {
		src, below, fixed, dsa string
	}{
		// From DSA/list: "[bullseye] - xorg-server 2:1.20.11-1+deb11u6" (DSA-5380-1).
		{"xorg-server", "2:1.20.11-1+deb11u5", "2:1.20.11-1+deb11u6", "DSA-5380-1"},
	} {
		mk := func(v string) *inventory.Inventory {
			p := inventory.Package{Name: "xserver-xorg-core", Version: v, Type: inventory.Deb,
				Source: &inventory.Source{Name: tc.src, Version: v}}
			p.PURL = inventory.PURL(&p, d)
			return &inventory.Inventory{Distro: d, Packages: []inventory.Package{p}}
		}
		res, err := match.Match(context.Background(), db, mk(tc.below))
		if err != nil {
			t.Fatal(err)
		}
		var hit *match.Finding
		for _, f := range res.Findings {
			if f.ID == tc.dsa || strings.Contains(strings.Join(f.Aliases, " "), tc.dsa) {
				hit = f
			}
		}
		if hit == nil {
			t.Fatalf("%s %s: %s not reported; findings %v", tc.src, tc.below, tc.dsa, findings(res))
		}
		if hit.FixedVersion != tc.fixed {
			t.Errorf("fixed version %q, want %q", hit.FixedVersion, tc.fixed)
		}
		res, err = match.Match(context.Background(), db, mk(tc.fixed))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			if f.ID == tc.dsa {
				t.Errorf("%s reported at its fixed version", tc.dsa)
			}
		}
	}
}

// BenchmarkMatch matches the real Debian bullseye root's packages against
// the DSA/DLA lists, and the Alpine 3.7.3 root's against the secdb: the
// cost matching adds to a scan with a warm database.
func BenchmarkMatch(b *testing.B) {
	for _, tc := range []struct {
		name, root, db, file string
		c                    analyze.Cataloger
	}{
		{"debian-bullseye", "debian-bullseye", "vulndb/debian", "var/lib/dpkg/status", dpkg.Cataloger{}},
		{"alpine-3.7.3", "alpine-3.7.3", "vulndb/alpine-secdb", "lib/apk/db/installed", apk.Cataloger{}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			db := importDB(b, tc.db)
			inv := osInventory(b, tc.root, tc.c, tc.file)
			b.ResetTimer()
			for b.Loop() {
				if _, err := match.Match(context.Background(), db, inv); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(inv.Packages)), "packages")
		})
	}
}
