// Package gobin catalogs the Go modules compiled into Go executables, as
// recorded by the Go linker in the binary's build information: the main
// module, every dependency module (after replacements) and the Go standard
// library, reported as the module "stdlib" at the toolchain's version —
// and, from the binary's function table, which packages and functions of
// each module are compiled in (inventory.GoCode), so that a vulnerability
// in code the binary does not contain can be told apart.
package gobin

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"io/fs"
	"runtime/debug"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// minSize skips files too small to be any real executable, let alone a Go
// one (the smallest Go binaries are about a megabyte).
const minSize = 1 << 10

// Cataloger reads the build information of Go executables.
type Cataloger struct{}

var _ analyze.Cataloger = Cataloger{}

func (Cataloger) Name() string { return "gobin" }
func (Cataloger) Version() int { return 2 }

// Wants offers every executable regular file outside the kernel's virtual
// file systems; Catalog then rejects the non-Go ones cheaply.
func (Cataloger) Wants(p string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() || mode.Perm()&0o111 == 0 || size < minSize {
		return false
	}
	for _, dir := range []string{"proc/", "sys/", "dev/"} {
		if strings.HasPrefix(p, dir) {
			return false
		}
	}
	return true
}

// errNotGoExe is what debug/buildinfo says about a well-formed executable
// that has no Go build information. The package does not export the
// error, so it is recognised by its text; TestNotGo notices if it changes.
const errNotGoExe = "not a Go executable"

// Catalog returns the modules of a Go executable, and nothing for any
// other file. An executable that cannot be read (truncated, corrupt) is
// an error.
func (c Cataloger) Catalog(ctx context.Context, f *analyze.File) ([]inventory.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ok, err := isExecutable(f)
	if err != nil {
		return nil, fmt.Errorf("gobin: %s: %w", f.Path, err)
	}
	if !ok {
		return nil, nil
	}
	// buildinfo reads the headers and then searches the data segment in
	// 1 MiB chunks through the ReaderAt: the binary is never loaded whole.
	bi, err := buildinfo.Read(f)
	if err != nil {
		if err.Error() == errNotGoExe {
			return nil, nil
		}
		return nil, fmt.Errorf("gobin: %s: read build info: %w", f.Path, err)
	}
	pkgs := Packages(bi)
	names, ok, err := functionNames(f)
	if err != nil {
		return nil, fmt.Errorf("gobin: %s: %w", f.Path, err)
	}
	if ok {
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		attachCode(pkgs, names, goos, goarch)
	}
	return pkgs, nil
}

// Packages returns the modules a Go binary's build information lists.
//
// Go vulnerability data is keyed by module path, so a replaced module is
// reported under the path whose code is actually in the binary: the
// original path with the replacement's version when the replacement is
// another version of the same module, the replacement's path and version
// when it is a different module (a fork), and the original path at
// "(devel)" when it is a local directory, whose version is unknown. The
// replaced requirement is kept in "go.replaces" and the replacement in
// "go.replacement".
func Packages(bi *debug.BuildInfo) []inventory.Package {
	var pkgs []inventory.Package
	if bi.Main.Path != "" {
		md := map[string]string{"go.main": "true"}
		if bi.Path != "" {
			md["go.package"] = bi.Path
		}
		for _, s := range bi.Settings {
			if keepSetting(s.Key) {
				md["go.build."+s.Key] = s.Value
			}
		}
		pkgs = append(pkgs, pkg(bi.Main.Path, orDevel(bi.Main.Version), md))
	}
	for _, m := range bi.Deps {
		if m == nil || m.Path == "" {
			continue
		}
		if m.Replace == nil {
			pkgs = append(pkgs, pkg(m.Path, orDevel(m.Version), nil))
			continue
		}
		r := m.Replace
		md := map[string]string{"go.replaces": m.Path + "@" + m.Version}
		switch {
		case isLocal(r):
			md["go.replacement"] = r.Path
			pkgs = append(pkgs, pkg(m.Path, devel, md))
		case r.Path == m.Path:
			md["go.replacement"] = r.Path + "@" + r.Version
			pkgs = append(pkgs, pkg(m.Path, r.Version, md))
		default:
			md["go.replacement"] = r.Path + "@" + r.Version
			pkgs = append(pkgs, pkg(r.Path, r.Version, md))
		}
	}
	if bi.GoVersion != "" {
		v, ok := semver(bi.GoVersion)
		if !ok {
			// A development toolchain ("devel go1.27-abcdef ...") has
			// no release version to match advisories against.
			v = devel
		}
		pkgs = append(pkgs, pkg("stdlib", v, map[string]string{"go.toolchain": bi.GoVersion}))
	}
	return pkgs
}

// devel is the version the go command gives modules built from a source
// tree rather than a released version.
const devel = "(devel)"

func orDevel(v string) string {
	if v == "" {
		return devel
	}
	return v
}

func pkg(name, version string, md map[string]string) inventory.Package {
	return inventory.Package{
		Name:      name,
		Version:   version,
		Type:      inventory.Go,
		Cataloger: Cataloger{}.Name(),
		Evidence:  inventory.Installed,
		Metadata:  md,
	}
}

// isLocal reports a replacement by a directory on the build machine: the
// go command records it with the version "(devel)" (older toolchains with
// none) and its path is a file system path, not a module path.
func isLocal(r *debug.Module) bool {
	if r.Version == "" || r.Version == devel {
		return true
	}
	p := r.Path
	return strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "/") ||
		strings.HasPrefix(p, `.\`) || strings.HasPrefix(p, `..\`) || len(p) > 2 && p[1] == ':'
}

// keepSetting selects the build settings worth carrying: those that tell
// where and how the binary was built. -ldflags is left out: it is long and
// can hold values injected at build time that are nobody's business.
func keepSetting(key string) bool {
	switch key {
	case "GOOS", "GOARCH", "GOAMD64", "GOARM", "GOARM64", "CGO_ENABLED",
		"-buildmode", "-compiler", "-trimpath", "-tags", "-race",
		"vcs", "vcs.revision", "vcs.time", "vcs.modified":
		return true
	}
	return false
}
