package rust

import (
	"errors"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/vigilsec/vigil/internal/inventory"
)

// maxLockSize bounds the Cargo.lock read into memory. The lock files of
// the largest workspaces are a few MiB.
const maxLockSize = 16 << 20

// maxNesting bounds how deeply arrays and tables may nest. Cargo writes
// two levels at most; the TOML decoder slows down dramatically on deeply
// nested input, so a file beyond the bound is refused before decoding.
const maxNesting = 16

// lockFile is the part of Cargo.lock this package reads. Every format
// revision lists crates as [[package]] tables; the first one (before Rust
// 1.38 or so) could also hold the workspace's root crate in [root].
// Dependency lists, checksums and the old [metadata] table are ignored.
type lockFile struct {
	Root    *lockPackage  `toml:"root"`
	Package []lockPackage `toml:"package"`
}

type lockPackage struct {
	Name    string `toml:"name"`
	Version string `toml:"version"`
	Source  string `toml:"source"`
}

// ParseLock returns the crates a Cargo.lock lists, in any of its format
// revisions (1 to 4). Crates without a source are the workspace's own
// crates and path dependencies; they are reported too, with the source
// "local", since a vulnerable crate vendored by path is still vulnerable.
// Each crate's Metadata says where it comes from: "cargo.source" is
// "crates.io", "registry" (another registry), "git" or "local", and
// "cargo.source.url" holds the lock file's source as written.
func ParseLock(data []byte) ([]inventory.Package, error) {
	if d := nesting(data, maxNesting); d > maxNesting {
		return nil, fmt.Errorf("rust: Cargo.lock: arrays or tables nested more than %d deep", maxNesting)
	}
	var lock lockFile
	if _, err := toml.Decode(string(data), &lock); err != nil {
		return nil, fmt.Errorf("rust: Cargo.lock: %w", err)
	}
	entries := lock.Package
	if lock.Root != nil {
		entries = append([]lockPackage{*lock.Root}, entries...)
	}
	var (
		pkgs []inventory.Package
		errs []error
	)
	for i, e := range entries {
		if e.Name == "" || e.Version == "" {
			errs = append(errs, fmt.Errorf("package %d (%q): missing name or version", i+1, e.Name))
			continue
		}
		md := map[string]string{"cargo.source": sourceKind(e.Source)}
		if e.Source != "" {
			md["cargo.source.url"] = e.Source
		}
		pkgs = append(pkgs, pkg(e.Name, e.Version, inventory.Declared, md))
	}
	if err := errors.Join(errs...); err != nil {
		return pkgs, fmt.Errorf("rust: Cargo.lock: %w", err)
	}
	return pkgs, nil
}

// sourceKind names a Cargo.lock source in the words cargo-auditable uses,
// so that both kinds of evidence say the same: RustSec advisories apply
// to crates from crates.io, whichever index protocol fetched them.
func sourceKind(src string) string {
	switch {
	case src == "":
		return "local"
	case src == "registry+https://github.com/rust-lang/crates.io-index", src == "sparse+https://index.crates.io/":
		return "crates.io"
	case strings.HasPrefix(src, "registry+"), strings.HasPrefix(src, "sparse+"):
		return "registry"
	case strings.HasPrefix(src, "git+"):
		return "git"
	case strings.HasPrefix(src, "path+"):
		return "local"
	}
	return "other"
}

// nesting returns the deepest nesting of brackets and braces in a TOML
// document outside strings and comments, stopping as soon as it exceeds
// limit. It is a cheap guard, not a TOML lexer: it only needs to see the
// nesting that the decoder would see.
func nesting(data []byte, limit int) int {
	depth, max := 0, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case '"', '\'':
			i = skipString(data, i)
		case '[', '{':
			depth++
			if depth > max {
				max = depth
				if max > limit {
					return max
				}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return max
}

// skipString returns the index of the last byte of the string that starts
// at data[i]: basic ("...") or literal ('...'), single- or multi-line.
func skipString(data []byte, i int) int {
	q := data[i]
	multi := i+2 < len(data) && data[i+1] == q && data[i+2] == q
	if multi {
		i += 2
	}
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\\' && q == '"':
			i++ // the escaped byte cannot end the string
		case c == '\n' && !multi:
			return i
		case c == q && !multi:
			return i
		case c == q && i+2 < len(data) && data[i+1] == q && data[i+2] == q:
			return i + 2
		}
	}
	return len(data)
}
