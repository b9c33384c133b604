package dotnet

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// TestDepsJSON reads deps.json files written in the format the .NET SDK
// documents (dotnet is not installed here to produce real ones): an
// ASP.NET Core web API with project references and a prerelease package,
// and a self-contained app whose runtime pack is a "runtimepack" library.
// The expectations are the "libraries" keys of type "package", read as
// plain JSON and split at "/".
func TestDepsJSON(t *testing.T) {
	for _, tc := range []struct {
		file     string
		packages int // counted by hand in the fixture
	}{
		{"webapi/WebApi.deps.json", 14},
		{"selfcontained/Worker.deps.json", 3},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var raw struct {
				Libraries map[string]map[string]any `json:"libraries"`
			}
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			var want []string
			for k, v := range raw.Libraries {
				if v["type"] == "package" {
					want = append(want, strings.Replace(k, "/", " ", 1))
				}
			}
			sort.Strings(want)
			if len(want) != tc.packages {
				t.Fatalf("plain reading finds %d packages, the fixture has %d", len(want), tc.packages)
			}

			p := "app/" + filepath.Base(tc.file)
			if !(Cataloger{}).Wants(p, 0o644, int64(len(data))) {
				t.Fatalf("Wants(%q) = false", p)
			}
			pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(p, 0o644, data))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, p.Name+" "+p.Version)
				if p.Type != inventory.NuGet || p.Evidence != inventory.Installed || p.Cataloger != "nuget" {
					t.Errorf("%s: type/evidence/cataloger = %s/%s/%s", p.Name, p.Type, p.Evidence, p.Cataloger)
				}
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, data, err string
		n               int
	}{
		{"syntax", `{"libraries": {`, "nuget: deps.json: ", 0},
		{"not an object", `[]`, "nuget: deps.json: ", 0},
		{"no libraries", `{"targets": {}}`, `no "libraries" object`, 0},
		{"key without version", `{"libraries": {"A/1": {"type": "package"}, "B": {"type": "package"}}}`, `library "B": key is not Name/Version`, 1},
		{"key with two slashes", `{"libraries": {"A/1/2": {"type": "package"}}}`, `library "A/1/2"`, 0},
		{"entry not an object", `{"libraries": {"A/1": "package", "B/2": {"type": "package"}}}`, `library "A/1"`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := Parse([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
			if len(pkgs) != tc.n {
				t.Errorf("got %d packages, want %d", len(pkgs), tc.n)
			}
		})
	}
}

func TestParseTypes(t *testing.T) {
	pkgs, err := Parse([]byte(`{"libraries": {
		"App/1.0.0": {"type": "project"},
		"Ref/4.0.0": {"type": "referenceassembly"},
		"runtimepack.X/7.0.0": {"type": "runtimepack"},
		"Pkg/2.0.0-rc.1": {"type": "package"},
		"Untyped/1.0.0": {}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 || pkgs[0].Name != "Pkg" || pkgs[0].Version != "2.0.0-rc.1" {
		t.Errorf("got %+v, want only Pkg 2.0.0-rc.1", pkgs)
	}
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"app/WebApi.deps.json", true},
		{"usr/share/dotnet/shared/Microsoft.NETCore.App/6.0.25/Microsoft.NETCore.App.deps.json", true},
		{"app/WebApi.runtimeconfig.json", false},
		{"app/deps.json", false},
		{"app/.deps.json", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range []string{"webapi/WebApi.deps.json", "selfcontained/Worker.deps.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", file)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"libraries": {"A/1": {"type": "package"}, "/": {"type": "package"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := Parse(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || strings.Contains(p.Name+p.Version, "/") {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}

func TestCatalogNamesFile(t *testing.T) {
	const p = "app/App.deps.json"
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(p, 0o644, []byte("{")))
	if len(pkgs) != 0 || err == nil || !strings.HasPrefix(err.Error(), "nuget: deps.json: ") || !strings.Contains(err.Error(), p) {
		t.Errorf("got %v, %v; want an error naming the file", pkgs, err)
	}
}
