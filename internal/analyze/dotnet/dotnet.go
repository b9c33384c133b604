// Package dotnet catalogs the NuGet packages a .NET application was built
// with, from the <app>.deps.json file the SDK writes beside it: its
// "libraries" map, keyed "Name/Version", says for each library whether it
// is a NuGet package, a project of the same solution, a reference
// assembly or a runtime pack. Only packages are reported; the others are
// not published on nuget.org under that name and version.
package dotnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// maxSize bounds the JSON read. The largest deps.json files (the shared
// framework's, big ASP.NET applications) are a few hundred KiB.
const maxSize = 32 << 20

// Cataloger reads .deps.json files.
type Cataloger struct{}

var (
	_ analyze.Cataloger = Cataloger{}
	_ analyze.Limited   = Cataloger{}
)

func (Cataloger) Name() string { return "nuget" }
func (Cataloger) Version() int { return 1 }

func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool {
	return strings.HasSuffix(p, ".deps.json") && !strings.HasSuffix(p, "/.deps.json") && p != ".deps.json"
}

// MaxSize is the limit of every file it reads.
func (Cataloger) MaxSize(string) int64 { return maxSize }

func (Cataloger) Catalog(_ context.Context, f *analyze.File) ([]inventory.Package, error) {
	data, err := f.Bytes(maxSize)
	if err != nil {
		return nil, fmt.Errorf("nuget: %w", err)
	}
	pkgs, err := Parse(data)
	if err != nil {
		err = fmt.Errorf("%w (in %s)", err, f.Path)
	}
	return pkgs, err
}

// Parse returns the NuGet packages of a deps.json file: the "libraries"
// entries of type "package", sorted by key (JSON objects have no order
// Go keeps). A malformed entry is reported in the error and the others
// are still returned.
func Parse(data []byte) ([]inventory.Package, error) {
	var deps struct {
		Libraries map[string]json.RawMessage `json:"libraries"`
	}
	if err := json.Unmarshal(data, &deps); err != nil {
		return nil, fmt.Errorf("nuget: deps.json: %w", err)
	}
	if deps.Libraries == nil {
		return nil, fmt.Errorf("nuget: deps.json: no \"libraries\" object")
	}
	keys := make([]string, 0, len(deps.Libraries))
	for k := range deps.Libraries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var (
		pkgs []inventory.Package
		errs errList
	)
	for _, k := range keys {
		var lib struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(deps.Libraries[k], &lib); err != nil {
			errs.add("library %q: %v", truncate(k), err)
			continue
		}
		if lib.Type != "package" {
			continue
		}
		// NuGet IDs and versions contain no "/", so the key splits once.
		name, version, ok := strings.Cut(k, "/")
		if !ok || name == "" || version == "" || strings.Contains(version, "/") {
			errs.add("library %q: key is not Name/Version", truncate(k))
			continue
		}
		pkgs = append(pkgs, inventory.Package{
			Name:      name,
			Version:   version,
			Type:      inventory.NuGet,
			Cataloger: "nuget",
			Evidence:  inventory.Installed,
		})
	}
	return pkgs, errs.err("nuget: deps.json")
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
