// Package binary catalogs runtimes and programs that are installed without
// a package manager — a Node.js or Python unpacked from a tarball under
// /usr/local, a JDK under /opt, a Go installation, a statically linked
// BusyBox, curl or OpenSSL — from their own files: the version string a
// program carries in its read-only data, a JDK's release file, a Go
// installation's VERSION file.
//
// Each is reported as a package of type generic (pkg:generic/node@18.19.0)
// with the CPE NVD names the product by, so that it is matched through
// NVD's applicability statements; a Go installation is reported as the
// Go modules "stdlib" and "toolchain", which the Go vulnerability database
// covers. Files that an OS package installed are left to that package:
// the walk drops what this cataloger finds in them (see analyze's
// merge), so a Debian python3.11 is reported once, as the Debian package.
//
// Only the sections of an executable that hold constant data are read,
// in bounded chunks: a 90 MB node binary never sits in memory.
package binary

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/gobin"
	"github.com/vigilsec/vigil/internal/inventory"
)

// Cataloger finds runtimes from their binaries.
type Cataloger struct{}

var _ analyze.Cataloger = Cataloger{}

func (Cataloger) Name() string { return "binary" }
func (Cataloger) Version() int { return 1 }

const (
	// minExe skips files too small to be a program of interest.
	minExe = 1 << 10
	// maxText bounds the text files read whole: a JDK's release file,
	// a Go installation's VERSION.
	maxText = 64 << 10
)

var (
	pythonExe = regexp.MustCompile(`^python([23](?:\.[0-9]{1,2})?)?$`)
	pythonLib = regexp.MustCompile(`^libpython([23]\.[0-9]{1,2})[dmu]*\.so(?:\.[0-9.]+)?$`)
	sslLib    = regexp.MustCompile(`^lib(?:crypto|ssl)\.so(?:\.[0-9.]+)?$`)
	curlLib   = regexp.MustCompile(`^libcurl\.so(?:\.[0-9.]+)?$`)
)

// kind says what a file could be, from its name.
type kind int

const (
	none kind = iota
	nodeExe
	pythonFile
	busyboxExe
	curlFile
	opensslFile
	javaRelease
	goVersion
)

func kindOf(p string, mode fs.FileMode, size int64) kind {
	if !mode.IsRegular() {
		return none
	}
	for _, dir := range []string{"proc/", "sys/", "dev/"} {
		if strings.HasPrefix(p, dir) {
			return none
		}
	}
	base := path.Base(p)
	switch base {
	case "release":
		if size <= maxText {
			return javaRelease
		}
		return none
	case "VERSION":
		if size <= maxText {
			return goVersion
		}
		return none
	}
	if size < minExe {
		return none
	}
	exe := mode.Perm()&0o111 != 0
	switch {
	case exe && (base == "node" || base == "nodejs"):
		return nodeExe
	case exe && base == "busybox":
		return busyboxExe
	case exe && base == "curl", curlLib.MatchString(base):
		return curlFile
	case exe && base == "openssl", sslLib.MatchString(base):
		return opensslFile
	case exe && pythonExe.MatchString(base), pythonLib.MatchString(base):
		return pythonFile
	}
	return none
}

// Wants offers the files whose names say they may be one of the programs
// this cataloger knows.
func (Cataloger) Wants(p string, mode fs.FileMode, size int64) bool {
	return kindOf(p, mode, size) != none
}

// Catalog returns the program the file is, if its content says which
// version it is; a file without a recognisable version yields nothing.
func (c Cataloger) Catalog(ctx context.Context, f *analyze.File) ([]inventory.Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch k := kindOf(f.Path, f.Mode, f.Size); k {
	case javaRelease:
		b, err := f.Bytes(maxText)
		if err != nil {
			return nil, fmt.Errorf("binary: %w", err)
		}
		return javaPackages(b), nil
	case goVersion:
		b, err := f.Bytes(maxText)
		if err != nil {
			return nil, fmt.Errorf("binary: %w", err)
		}
		return goPackages(b), nil
	case none:
		return nil, nil
	default:
		found, err := Scan(ctx, f, f.Size, classesOf(k, path.Base(f.Path)))
		if err != nil {
			return nil, fmt.Errorf("binary: %s: %w", f.Path, err)
		}
		var pkgs []inventory.Package
		for _, m := range found {
			pkgs = append(pkgs, m.Class.Package(m.Version))
		}
		return pkgs, nil
	}
}

// classesOf are the classes worth looking for in a file of kind k. Node
// links OpenSSL statically, and so may curl; a statically linked OpenSSL
// in them is reported beside them.
func classesOf(k kind, base string) []*Class {
	switch k {
	case nodeExe:
		return []*Class{Node, OpenSSL}
	case busyboxExe:
		return []*Class{BusyBox}
	case curlFile:
		return []*Class{Curl, OpenSSL}
	case opensslFile:
		return []*Class{OpenSSL}
	case pythonFile:
		if m := pythonLib.FindStringSubmatch(base); m != nil {
			return []*Class{pythonClass(m[1])}
		}
		if m := pythonExe.FindStringSubmatch(base); m != nil && strings.Contains(m[1], ".") {
			return []*Class{pythonClass(m[1])}
		}
		return []*Class{Python}
	}
	return nil
}

// javaPackages reads a JDK's or JRE's release file: shell-style
// KEY="value" lines, of which JAVA_VERSION is the release
// ("17.0.9", "1.8.0_392", "21").
func javaPackages(b []byte) []inventory.Package {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		vals[k] = strings.Trim(v, `"`)
	}
	v := vals["JAVA_VERSION"]
	if !javaVersion.MatchString(v) {
		return nil
	}
	p := OpenJDK.Package(v)
	for k, key := range map[string]string{"IMPLEMENTOR": "java.implementor", "JAVA_RUNTIME_VERSION": "java.runtimeVersion", "IMPLEMENTOR_VERSION": "java.implementorVersion"} {
		if s := vals[k]; s != "" && len(s) <= 128 {
			p.Metadata[key] = s
		}
	}
	return []inventory.Package{p}
}

var javaVersion = regexp.MustCompile(`^[0-9]{1,3}(?:\.[0-9]{1,3}){0,3}(?:_[0-9]{1,4})?$`)

// goPackages reads a Go installation's VERSION file, whose first line
// names the release ("go1.22.3"; from Go 1.21 on, a "time" line
// follows). The installation is the standard library and the go command
// of that release: the Go vulnerability database's modules "stdlib" and
// "toolchain".
func goPackages(b []byte) []inventory.Package {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	name := strings.TrimSpace(string(line))
	if !strings.HasPrefix(name, "go1") || strings.ContainsAny(name, " \t") {
		return nil
	}
	v, ok := gobin.Semver(name)
	if !ok {
		return nil
	}
	var pkgs []inventory.Package
	for _, mod := range []string{"stdlib", "toolchain"} {
		pkgs = append(pkgs, inventory.Package{
			Name: mod, Version: v, Type: inventory.Go, Cataloger: Cataloger{}.Name(), Evidence: inventory.Installed,
			Metadata: map[string]string{"go.toolchain": name},
		})
	}
	return pkgs
}
