// Package python catalogs Python distributions: the metadata that pip and
// setuptools write when a distribution is installed (*.dist-info/METADATA,
// *.egg-info/PKG-INFO, or a bare *.egg-info file as older setuptools
// write it), and the exact pins of requirements files, poetry.lock and
// Pipfile.lock.
//
// Names are kept as the file writes them ("PyYAML"); normalizing them to
// PyPI's canonical form is left to matching.
package python

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// Size limits. Metadata files hold the project's whole README as their
// body, which can run to a few hundred KiB; lock files of large projects
// reach a few MiB.
const (
	maxMetadataSize     = 16 << 20
	maxRequirementsSize = 4 << 20
	maxLockSize         = 64 << 20
)

// Cataloger reads Python package metadata and lock files.
type Cataloger struct{}

var (
	_ analyze.Cataloger = Cataloger{}
	_ analyze.Limited   = Cataloger{}
)

func (Cataloger) Name() string { return "python" }
func (Cataloger) Version() int { return 1 }

type kind int

const (
	none kind = iota
	metadataFile
	requirementsFile
	poetryLockFile
	pipfileLockFile
)

func kindOf(p string) kind {
	dir, base := path.Split(p)
	parent := path.Base(dir)
	switch {
	case base == "METADATA" && strings.HasSuffix(parent, ".dist-info"):
		return metadataFile
	case base == "PKG-INFO" && (strings.HasSuffix(parent, ".egg-info") || parent == "EGG-INFO"):
		// EGG-INFO is the metadata directory inside an unzipped .egg.
		return metadataFile
	case strings.HasSuffix(base, ".egg-info") && len(base) > len(".egg-info"):
		// Only regular files are offered, so this is the single-file
		// form distutils and old setuptools wrote.
		return metadataFile
	case base == "poetry.lock":
		return poetryLockFile
	case base == "Pipfile.lock":
		return pipfileLockFile
	case strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt"):
		return requirementsFile
	}
	return none
}

func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool { return kindOf(p) != none }

// MaxSize is the largest of the limits of the files it reads.
func (Cataloger) MaxSize(string) int64 {
	return max(maxMetadataSize, maxRequirementsSize, maxLockSize)
}

func (c Cataloger) Catalog(_ context.Context, f *analyze.File) ([]inventory.Package, error) {
	var (
		pkgs []inventory.Package
		err  error
	)
	switch kindOf(f.Path) {
	case metadataFile:
		var data []byte
		if data, err = f.Bytes(maxMetadataSize); err != nil {
			return nil, fmt.Errorf("python: %w", err)
		}
		var p inventory.Package
		if p, err = ParseMetadata(data); err == nil {
			pkgs = []inventory.Package{p}
		}
	case requirementsFile:
		var data []byte
		if data, err = f.Bytes(maxRequirementsSize); err != nil {
			return nil, fmt.Errorf("python: %w", err)
		}
		pkgs, err = ParseRequirements(data)
	case poetryLockFile:
		var data []byte
		if data, err = f.Bytes(maxLockSize); err != nil {
			return nil, fmt.Errorf("python: %w", err)
		}
		pkgs, err = ParsePoetryLock(data)
	case pipfileLockFile:
		var data []byte
		if data, err = f.Bytes(maxLockSize); err != nil {
			return nil, fmt.Errorf("python: %w", err)
		}
		pkgs, err = ParsePipfileLock(data)
	default:
		return nil, nil
	}
	if err != nil {
		// The parsers' errors start with "python: <kind>:"; add the file.
		err = fmt.Errorf("%w (in %s)", err, f.Path)
	}
	return pkgs, err
}

func newPackage(name, version string, ev inventory.Evidence) inventory.Package {
	return inventory.Package{
		Name:      name,
		Version:   version,
		Type:      inventory.PyPI,
		Cataloger: "python",
		Evidence:  ev,
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
