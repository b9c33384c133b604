// Package npm catalogs JavaScript packages: those installed under
// node_modules or in Debian's system module directories (one package.json
// each), and those that npm, yarn and pnpm lock files declare.
package npm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

const (
	// maxManifestSize bounds a package.json. The largest real ones (with
	// long "contributors" or embedded READMEs) stay well under 100 KiB.
	maxManifestSize = 1 << 20
	// maxLockSize bounds a lock file; those of large monorepos reach a
	// few tens of MiB.
	maxLockSize = 64 << 20
)

// name is the cataloger's name, also set on every package it reports.
const name = "npm"

// devKey is the metadata key set to "true" on packages that a lock file
// says are needed only for development.
const devKey = "npm.dev"

// Cataloger reads package.json files of installed packages and npm, yarn
// and pnpm lock files.
type Cataloger struct{}

var (
	_ analyze.Cataloger = Cataloger{}
	_ analyze.Limited   = Cataloger{}
)

func (Cataloger) Name() string { return name }
func (Cataloger) Version() int { return 1 }

func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool {
	dir, base := path.Split(p)
	switch base {
	case "package.json":
		return isPackageDir(dir)
	case "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml":
		// A lock file inside an installed package records how that
		// package was developed, not what is installed.
		return !insideInstalled(dir)
	}
	return false
}

// MaxSize is the limit of the kind of file at p.
func (Cataloger) MaxSize(p string) int64 {
	if path.Base(p) == "package.json" {
		return maxManifestSize
	}
	return maxLockSize
}

func (Cataloger) Catalog(_ context.Context, f *analyze.File) ([]inventory.Package, error) {
	var (
		parse func([]byte) ([]inventory.Package, error)
		max   int64 = maxLockSize
	)
	switch path.Base(f.Path) {
	case "package.json":
		parse, max = parsePackageJSON, maxManifestSize
	case "package-lock.json", "npm-shrinkwrap.json":
		parse = parsePackageLock
	case "yarn.lock":
		parse = parseYarnLock
	case "pnpm-lock.yaml":
		parse = parsePnpmLock
	default:
		return nil, nil
	}
	data, err := f.Bytes(max)
	if err != nil {
		return nil, fmt.Errorf("npm: %w", err)
	}
	// Node strips a byte order mark before parsing package.json, and
	// editors on Windows write one.
	pkgs, err := parse(bytes.TrimPrefix(data, []byte("\ufeff")))
	if err != nil {
		return pkgs, fmt.Errorf("npm: %s: %w", f.Path, err)
	}
	return pkgs, nil
}

// systemModuleDirs are where Debian installs its packaged node modules
// (node's global search path there): each holds one directory per module.
var systemModuleDirs = []string{"usr/share/nodejs/", "usr/lib/nodejs/"}

// isPackageDir reports whether dir ("a/node_modules/b/") is the top
// directory of an installed package: a directory directly inside
// node_modules or a system module directory, or a scoped one
// ("node_modules/@scope/name/"). Deeper package.json files are parts of
// a package (test fixtures, "type": "module" markers), not packages.
func isPackageDir(dir string) bool {
	parent, pkg := path.Split(strings.TrimSuffix(dir, "/"))
	if pkg == "" || pkg[0] == '.' || pkg[0] == '@' {
		// Hidden directories such as node_modules/.bin and .cache, and
		// scopes, which hold packages but are none.
		return false
	}
	if scope := path.Base(parent); strings.HasPrefix(scope, "@") && len(scope) > 1 {
		parent = strings.TrimSuffix(parent, scope+"/")
	}
	return isModuleDir(parent)
}

// isModuleDir reports whether dir (ending in "/", or "") holds installed
// packages.
func isModuleDir(dir string) bool {
	if dir == "node_modules/" || strings.HasSuffix(dir, "/node_modules/") {
		return true
	}
	for _, d := range systemModuleDirs {
		if dir == d {
			return true
		}
	}
	// Debian's multiarch module directory, usr/lib/<triplet>/nodejs/.
	if rest, ok := strings.CutPrefix(dir, "usr/lib/"); ok {
		triplet, nodejs, _ := strings.Cut(rest, "/")
		return triplet != "" && nodejs == "nodejs/"
	}
	return false
}

// insideInstalled reports whether dir is within an installed package
// tree: under a node_modules directory or a system module directory.
func insideInstalled(dir string) bool {
	if strings.HasPrefix(dir, "node_modules/") || strings.Contains(dir, "/node_modules/") {
		return true
	}
	for i := 0; i <= len(dir); i++ {
		if (i == 0 || dir[i-1] == '/') && isModuleDir(dir[:i]) {
			return true
		}
	}
	return false
}

// lockSet collects the packages of one lock file, reporting each
// name@version once. A package is dev-only if every occurrence is.
type lockSet struct {
	index map[string]int
	pkgs  []inventory.Package
}

// add returns the package, valid until the next call, for the caller to
// fill in further fields.
func (s *lockSet) add(pkgName, version string, dev bool) *inventory.Package {
	if s.index == nil {
		s.index = map[string]int{}
	}
	key := pkgName + "@" + version
	if i, ok := s.index[key]; ok {
		if !dev {
			s.pkgs[i].Metadata = nil
		}
		return &s.pkgs[i]
	}
	p := inventory.Package{
		Name:      pkgName,
		Version:   version,
		Type:      inventory.NPM,
		Cataloger: name,
		Evidence:  inventory.Declared,
	}
	if dev {
		p.Metadata = map[string]string{devKey: "true"}
	}
	s.index[key] = len(s.pkgs)
	s.pkgs = append(s.pkgs, p)
	return &s.pkgs[len(s.pkgs)-1]
}

// sorted returns the packages ordered by name and version, so that
// results do not depend on map order.
func (s *lockSet) sorted() []inventory.Package {
	sort.Slice(s.pkgs, func(i, j int) bool {
		a, b := s.pkgs[i], s.pkgs[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version < b.Version
	})
	return s.pkgs
}

// splitSpec splits "name@rest" where name may be scoped ("@scope/name"):
// the separator is the first "@" after the first character.
func splitSpec(s string) (pkgName, rest string, ok bool) {
	if len(s) < 2 {
		return "", "", false
	}
	i := strings.IndexByte(s[1:], '@')
	if i < 0 {
		return "", "", false
	}
	pkgName, rest = s[:i+1], s[i+2:]
	if pkgName[0] == '@' && !strings.Contains(pkgName, "/") {
		// "@scope@1.0.0": a scope is not a package.
		return "", "", false
	}
	return pkgName, rest, true
}

// errorList gathers problems with single entries, so that one bad entry
// does not hide the good ones.
type errorList []string

func (e *errorList) add(format string, args ...any) {
	if len(*e) < 10 {
		*e = append(*e, fmt.Sprintf(format, args...))
	} else if len(*e) == 10 {
		*e = append(*e, "…")
	}
}

func (e errorList) err() error {
	if len(e) == 0 {
		return nil
	}
	return errors.New(strings.Join(e, "; "))
}
