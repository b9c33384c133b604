// Package ruby catalogs Ruby gems: the specifications RubyGems writes for
// every installed gem (specifications/*.gemspec, including the default
// gems shipped with Ruby in specifications/default/) and the gems a
// Bundler lock file (Gemfile.lock, gems.locked) resolves.
//
// Gemspecs are Ruby code. They are read, never evaluated: RubyGems writes
// them in a fixed shape (`s.name = "rake".freeze`), and only literal
// assignments of the fields needed are parsed.
package ruby

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// Size limits: a generated gemspec lists the gem's files and runs to a
// few hundred KiB at most; lock files of large applications to a few
// hundred KiB.
const (
	maxGemspecSize = 4 << 20
	maxLockSize    = 16 << 20
)

// Cataloger reads installed gem specifications and Bundler lock files.
type Cataloger struct{}

var (
	_ analyze.Cataloger = Cataloger{}
	_ analyze.Limited   = Cataloger{}
)

func (Cataloger) Name() string { return "gem" }
func (Cataloger) Version() int { return 1 }

func isLockFile(p string) bool {
	base := path.Base(p)
	return base == "Gemfile.lock" || base == "gems.locked"
}

// isSpec reports whether p is a gemspec RubyGems installed: those live in
// a "specifications" directory of a gem home (or its "default"
// subdirectory). Gemspecs elsewhere are hand-written project files that
// compute their values in Ruby.
func isSpec(p string) bool {
	if !strings.HasSuffix(p, ".gemspec") {
		return false
	}
	dir := path.Dir(p)
	return path.Base(dir) == "specifications" ||
		path.Base(dir) == "default" && path.Base(path.Dir(dir)) == "specifications"
}

func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool {
	return isSpec(p) || isLockFile(p)
}

// MaxSize is the larger of a gemspec's and a lock file's limits.
func (Cataloger) MaxSize(string) int64 { return max(maxGemspecSize, maxLockSize) }

func (Cataloger) Catalog(_ context.Context, f *analyze.File) ([]inventory.Package, error) {
	switch {
	case isSpec(f.Path):
		data, err := f.Bytes(maxGemspecSize)
		if err != nil {
			return nil, fmt.Errorf("gem: %w", err)
		}
		p, err := ParseGemspec(data)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, f.Path)
		}
		if strings.Contains(f.Path, "/specifications/default/") || strings.HasPrefix(f.Path, "specifications/default/") {
			// Installed with Ruby itself, not by gem or bundle.
			p.Metadata = map[string]string{"gem.default": "true"}
		}
		return []inventory.Package{p}, nil
	case isLockFile(f.Path):
		data, err := f.Bytes(maxLockSize)
		if err != nil {
			return nil, fmt.Errorf("gem: %w", err)
		}
		pkgs, err := ParseGemfileLock(data)
		if err != nil {
			err = fmt.Errorf("%w (in %s)", err, f.Path)
		}
		return pkgs, err
	}
	return nil, nil
}

func newPackage(name, version string, ev inventory.Evidence) inventory.Package {
	return inventory.Package{
		Name:      name,
		Version:   version,
		Type:      inventory.Gem,
		Cataloger: "gem",
		Evidence:  ev,
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
