package python

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/vigilsec/vigil/internal/inventory"
)

// poetryLock is the part of poetry.lock this cataloger reads. Lock files
// before format 2.0 (Poetry < 1.5) say "category" = "dev" for packages
// only development needs; later ones no longer record it.
type poetryLock struct {
	Package []struct {
		Name     string `toml:"name"`
		Version  string `toml:"version"`
		Category string `toml:"category"`
		Source   struct {
			Type string `toml:"type"`
		} `toml:"source"`
	} `toml:"package"`
}

// ParsePoetryLock returns the packages of a poetry.lock file, one per
// [[package]] table. Development packages carry Metadata "python.dev" =
// "true"; packages not from a package index carry "python.source", the
// lock's source type ("git", "directory", "file", "url").
func ParsePoetryLock(data []byte) ([]inventory.Package, error) {
	var lock poetryLock
	if _, err := toml.Decode(string(data), &lock); err != nil {
		return nil, fmt.Errorf("python: poetry.lock: %w", err)
	}
	var (
		pkgs []inventory.Package
		errs errList
	)
	for i, e := range lock.Package {
		name, version := strings.TrimSpace(e.Name), strings.TrimSpace(e.Version)
		if name == "" || version == "" {
			errs.add("package %d: missing name or version", i+1)
			continue
		}
		p := newPackage(name, version, inventory.Declared)
		if e.Category == "dev" {
			p.Metadata = map[string]string{"python.dev": "true"}
		}
		if t := e.Source.Type; t != "" && t != "legacy" {
			// "legacy" is a secondary package index: still an index
			// release.
			if p.Metadata == nil {
				p.Metadata = map[string]string{}
			}
			p.Metadata["python.source"] = t
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, errs.err("python: poetry.lock")
}
