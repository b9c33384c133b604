package php

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// entry is an independent reading of a package entry: plain maps, no
// shared code with the cataloger.
type entry struct {
	name, version string
	licenses      []string
	dev           bool
}

func readEntries(t *testing.T, list []any, dev func(string) bool) []entry {
	t.Helper()
	var out []entry
	for _, x := range list {
		m := x.(map[string]any)
		e := entry{name: m["name"].(string), version: m["version"].(string)}
		for _, l := range m["license"].([]any) {
			e.licenses = append(e.licenses, l.(string))
		}
		e.dev = dev(e.name)
		out = append(out, e)
	}
	return out
}

func check(t *testing.T, pkgs []inventory.Package, want []entry, ev inventory.Evidence) {
	t.Helper()
	if len(pkgs) != len(want) {
		t.Fatalf("got %d packages, the file lists %d", len(pkgs), len(want))
	}
	for i, w := range want {
		p := pkgs[i]
		// The documented rule: a "v" before a digit is dropped, and the
		// original spelling kept as composer.pretty_version.
		wantVer, pretty := w.version, ""
		if len(w.version) > 1 && w.version[0] == 'v' && w.version[1] >= '0' && w.version[1] <= '9' {
			wantVer, pretty = w.version[1:], w.version
		}
		if p.Name != w.name || p.Version != wantVer || p.Metadata["composer.pretty_version"] != pretty {
			t.Errorf("package %d: got %s %s (pretty %q), want %s %s", i, p.Name, p.Version, p.Metadata["composer.pretty_version"], w.name, wantVer)
		}
		if !reflect.DeepEqual(p.Licenses, w.licenses) {
			t.Errorf("%s: licenses %q, want %q", p.Name, p.Licenses, w.licenses)
		}
		if (p.Metadata["composer.dev"] == "true") != w.dev {
			t.Errorf("%s: composer.dev = %q, want %v", p.Name, p.Metadata["composer.dev"], w.dev)
		}
		if p.Type != inventory.Composer || p.Evidence != ev || p.Cataloger != "composer" {
			t.Errorf("%s: type/evidence/cataloger = %s/%s/%s", p.Name, p.Type, p.Evidence, p.Cataloger)
		}
	}
}

func catalog(t *testing.T, file, imagePath string) ([]byte, []inventory.Package) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !(Cataloger{}).Wants(imagePath, 0o644, int64(len(data))) {
		t.Fatalf("Wants(%q) = false", imagePath)
	}
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(imagePath, 0o644, data))
	if err != nil {
		t.Fatal(err)
	}
	return data, pkgs
}

// TestLock reads a Laravel application's composer.lock, written in the
// documented format with tag versions ("v5.4.29"), a branch version
// ("dev-main") and a packages-dev list. The expectations are the
// entries of "packages" then "packages-dev", read as plain JSON.
func TestLock(t *testing.T) {
	data, pkgs := catalog(t, filepath.Join("testdata", "laravel-app", "composer.lock"), "var/www/html/composer.lock")
	var raw struct {
		Packages    []any `json:"packages"`
		PackagesDev []any `json:"packages-dev"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	want := append(readEntries(t, raw.Packages, func(string) bool { return false }),
		readEntries(t, raw.PackagesDev, func(string) bool { return true })...)
	if len(want) != 19 {
		t.Fatalf("fixture has %d packages, expected 15 + 4", len(want))
	}
	check(t, pkgs, want, inventory.Declared)

	// Spot checks of the version rule, read off the file by hand.
	got := map[string]string{}
	for _, p := range pkgs {
		got[p.Name] = p.Version
	}
	for name, v := range map[string]string{"symfony/http-kernel": "5.4.29", "laravel/framework": "8.83.27", "mycompany/internal-lib": "dev-main", "guzzlehttp/guzzle": "7.8.0"} {
		if got[name] != v {
			t.Errorf("%s: version %q, want %q", name, got[name], v)
		}
	}
}

// TestInstalled reads installed.json in both layouts: Composer 1's bare
// array and Composer 2's object with "dev-package-names".
func TestInstalled(t *testing.T) {
	t.Run("composer2", func(t *testing.T) {
		data, pkgs := catalog(t, filepath.Join("testdata", "composer2", "vendor", "composer", "installed.json"), "var/www/html/vendor/composer/installed.json")
		var raw struct {
			Packages []any    `json:"packages"`
			DevNames []string `json:"dev-package-names"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		dev := strings.Join(raw.DevNames, "\n")
		want := readEntries(t, raw.Packages, func(n string) bool { return strings.Contains("\n"+dev+"\n", "\n"+n+"\n") })
		if len(want) != 8 || len(raw.DevNames) != 2 {
			t.Fatalf("fixture has %d packages, %d dev", len(want), len(raw.DevNames))
		}
		check(t, pkgs, want, inventory.Installed)
	})
	t.Run("composer1", func(t *testing.T) {
		data, pkgs := catalog(t, filepath.Join("testdata", "composer1", "vendor", "composer", "installed.json"), "vendor/composer/installed.json")
		var raw []any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		want := readEntries(t, raw, func(string) bool { return false })
		if len(want) != 5 {
			t.Fatalf("fixture has %d packages", len(want))
		}
		check(t, pkgs, want, inventory.Installed)
	})
}

func TestVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v5.4.29":  "5.4.29",
		"V1.0":     "1.0",
		"5.4.29":   "5.4.29",
		"dev-main": "dev-main",
		"v":        "v",
		"vx":       "vx",
		"1.x-dev":  "1.x-dev",
		"":         "",
	} {
		if got := Version(in); got != want {
			t.Errorf("Version(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func([]byte) ([]inventory.Package, error)
		data  string
		err   string
		n     int
	}{
		{"lock syntax", ParseLock, `{"packages": [`, "composer: composer.lock: ", 0},
		{"lock without lists", ParseLock, `{"_readme": []}`, `no "packages" list`, 0},
		{"lock entry without version", ParseLock, `{"packages": [{"name": "a/b", "version": "1"}, {"name": "c/d"}]}`, "packages[1]: missing name or version", 1},
		{"lock entry wrong type", ParseLock, `{"packages-dev": [{"name": 3}, {"name": "a/b", "version": "1"}]}`, "packages-dev[0]:", 1},
		{"installed syntax", ParseInstalled, `[{"name": }]`, "composer: installed.json: ", 0},
		{"installed object without packages", ParseInstalled, `{"dev": true}`, `no "packages" list`, 0},
		{"installed array entry", ParseInstalled, `[{"name": "a/b", "version": "v1"}, {"version": "2"}]`, "packages[1]: missing name or version", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := tc.parse([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "composer: ") {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
			if len(pkgs) != tc.n {
				t.Errorf("got %d packages, want %d", len(pkgs), tc.n)
			}
		})
	}
}

func TestLicenseShapes(t *testing.T) {
	pkgs, err := ParseLock([]byte(`{"packages": [
		{"name": "a/a", "version": "1", "license": "MIT"},
		{"name": "b/b", "version": "1", "license": ["GPL-2.0-only", "MIT"]},
		{"name": "c/c", "version": "1"},
		{"name": "d/d", "version": "1", "license": {"odd": true}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"MIT"}, {"GPL-2.0-only", "MIT"}, nil, nil}
	for i, p := range pkgs {
		if !reflect.DeepEqual(p.Licenses, want[i]) {
			t.Errorf("%s: licenses %q, want %q", p.Name, p.Licenses, want[i])
		}
	}
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"var/www/html/composer.lock", true},
		{"composer.lock", true},
		{"var/www/html/composer.json", false},
		{"var/www/html/vendor/composer/installed.json", true},
		{"vendor/composer/installed.json", true},
		{"var/www/html/vendor/composer/installed.php", false},
		{"var/www/html/installed.json", false},
		{"var/www/html/myvendor/composer/installed.json", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func FuzzParseLock(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "laravel-app", "composer.lock")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"packages": [{"name": "a/b", "version": "v1", "license": "MIT"}], "packages-dev": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParseLock(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
	})
}

func FuzzParseInstalled(f *testing.F) {
	for _, d := range []string{"composer1", "composer2"} {
		if b, err := os.ReadFile(filepath.Join("testdata", d, "vendor", "composer", "installed.json")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"packages": [{"name": "a/b", "version": "1"}], "dev-package-names": ["a/b"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParseInstalled(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
	})
}

func TestCatalogNamesFile(t *testing.T) {
	const p = "srv/composer.lock"
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(p, 0o644, []byte("<html>")))
	if len(pkgs) != 0 || err == nil || !strings.HasPrefix(err.Error(), "composer: composer.lock: ") || !strings.Contains(err.Error(), p) {
		t.Errorf("got %v, %v; want an error naming the file", pkgs, err)
	}
}
