// Package rust catalogs Rust crates from two sources: Cargo.lock files,
// which declare the crates a project builds with, and the dependency
// lists that cargo-auditable embeds in the executables it builds (an ELF
// section ".dep-v0"), which record the crates compiled in.
package rust

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// minExecSize skips files too small to be an executable worth opening.
const minExecSize = 1 << 10

// Cataloger reads Cargo.lock files and cargo-auditable executables.
type Cataloger struct{}

var _ analyze.Cataloger = Cataloger{}

func (Cataloger) Name() string { return "rust" }
func (Cataloger) Version() int { return 1 }

// Wants offers every Cargo.lock of a project, and every executable regular file outside
// the kernel's virtual file systems; Catalog turns away the executables
// that are not ELF files after reading four bytes.
func (Cataloger) Wants(p string, mode fs.FileMode, size int64) bool {
	if path.Base(p) == "Cargo.lock" {
		// Crates unpacked into cargo's download cache may carry the
		// lock file of their own development; it says nothing about
		// what was built in the image.
		return !strings.Contains("/"+p, "/.cargo/registry/") && !strings.Contains("/"+p, "/.cargo/git/")
	}
	if !mode.IsRegular() || mode.Perm()&0o111 == 0 || size < minExecSize {
		return false
	}
	for _, dir := range []string{"proc/", "sys/", "dev/"} {
		if strings.HasPrefix(p, dir) {
			return false
		}
	}
	return true
}

// Catalog returns the crates of a Cargo.lock file or of a cargo-auditable
// executable. Executables without audit data yield nothing.
func (Cataloger) Catalog(ctx context.Context, f *analyze.File) ([]inventory.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if path.Base(f.Path) == "Cargo.lock" {
		data, err := f.Bytes(maxLockSize)
		if err != nil {
			return nil, fmt.Errorf("rust: %w", err)
		}
		pkgs, err := ParseLock(data)
		if err != nil {
			return pkgs, fmt.Errorf("rust: %s: %w", f.Path, err)
		}
		return pkgs, nil
	}
	pkgs, err := readAuditable(f)
	if err != nil {
		return nil, fmt.Errorf("rust: %s: %w", f.Path, err)
	}
	return pkgs, nil
}

func pkg(name, version string, evidence inventory.Evidence, md map[string]string) inventory.Package {
	return inventory.Package{
		Name:      name,
		Version:   version,
		Type:      inventory.Cargo,
		Cataloger: Cataloger{}.Name(),
		Evidence:  evidence,
		Metadata:  md,
	}
}
