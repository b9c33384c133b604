package npm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil/internal/inventory"
)

// maxPnpmDocuments bounds the YAML documents read from one lock file.
// pnpm writes one, or two when it also locks its own version (the "env"
// lockfile comes first).
const maxPnpmDocuments = 4

// pnpmLock is the part of a pnpm-lock.yaml that names packages. The
// "packages" keys changed over time:
//
//	5.x  /name/1.0.0, /@scope/name/1.0.0_peer@2.0.0
//	6.x  /name@1.0.0, /@scope/name@1.0.0(peer@2.0.0)
//	9.x  name@1.0.0 (peer variants only under "snapshots")
//
// Up to 6.x each package says whether it is only for development; 9.x
// drops that, and the lock's dependency graph has to tell.
type pnpmLock struct {
	LockfileVersion string                  `yaml:"lockfileVersion"`
	Importers       map[string]pnpmImporter `yaml:"importers"`
	Packages        map[string]pnpmPackage  `yaml:"packages"`
	Snapshots       map[string]pnpmSnapshot `yaml:"snapshots"`
}

type pnpmPackage struct {
	// Name and Version are written when the key does not hold them
	// (git and tarball dependencies).
	Name       string `yaml:"name"`
	Version    string `yaml:"version"`
	Dev        *bool  `yaml:"dev"`
	Resolution struct {
		Type string `yaml:"type"`
	} `yaml:"resolution"`
}

type pnpmImporter struct {
	Dependencies         map[string]pnpmImporterDep `yaml:"dependencies"`
	OptionalDependencies map[string]pnpmImporterDep `yaml:"optionalDependencies"`
	DevDependencies      map[string]pnpmImporterDep `yaml:"devDependencies"`
}

type pnpmImporterDep struct {
	Version string `yaml:"version"`
}

type pnpmSnapshot struct {
	Dependencies         map[string]string `yaml:"dependencies"`
	OptionalDependencies map[string]string `yaml:"optionalDependencies"`
}

// parsePnpmLock returns the packages a pnpm-lock.yaml declares.
func parsePnpmLock(data []byte) ([]inventory.Package, error) {
	var (
		set  lockSet
		errs errorList
		docs int
	)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var lock pnpmLock
		err := dec.Decode(&lock)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pnpm-lock: %w", err)
		}
		if docs++; docs > maxPnpmDocuments {
			return nil, fmt.Errorf("pnpm-lock: more than %d YAML documents", maxPnpmDocuments)
		}
		major, err := lockMajor(lock.LockfileVersion)
		if err != nil {
			return nil, fmt.Errorf("pnpm-lock: document %d: %w", docs, err)
		}
		var devOnly map[string]bool
		if major >= 9 {
			devOnly = lock.devOnly()
		}
		for key, p := range lock.Packages {
			if p.Resolution.Type == "directory" {
				// A local directory: the project's own code.
				continue
			}
			pkgName, version := pnpmKey(key, major)
			if p.Name != "" {
				pkgName = p.Name
			}
			if p.Version != "" {
				version = p.Version
			}
			if pkgName == "" || version == "" {
				errs.add("package key %q: no name and version", truncate(key))
				continue
			}
			dev := p.Dev != nil && *p.Dev
			if major >= 9 {
				dev = devOnly[key]
			}
			set.add(pkgName, version, dev)
		}
	}
	if docs == 0 {
		return nil, errors.New("pnpm-lock: empty")
	}
	return set.sorted(), errs.err()
}

// lockMajor returns the major number of a lockfileVersion ("5.4", "9.0").
func lockMajor(v string) (int, error) {
	if v == "" {
		return 0, errors.New("no lockfileVersion")
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("lockfileVersion %q is not a number", truncate(v))
	}
	return n, nil
}

// pnpmKey returns the name and version in a "packages" key, without the
// peer-dependency suffix that tells apart copies resolved against
// different peers; "" for what the key does not hold.
func pnpmKey(key string, major int) (pkgName, version string) {
	if major >= 6 {
		s := strings.TrimPrefix(key, "/")
		s, _, _ = strings.Cut(s, "(")
		pkgName, version, _ = splitSpec(s)
		return pkgName, version
	}
	s, ok := strings.CutPrefix(key, "/")
	if !ok {
		// Git and tarball dependencies ("github.com/user/repo/sha"),
		// whose entries carry name and version.
		return "", ""
	}
	seg := strings.SplitN(s, "/", 3)
	if strings.HasPrefix(seg[0], "@") {
		if len(seg) < 3 {
			return "", ""
		}
		pkgName, version = seg[0]+"/"+seg[1], seg[2]
	} else {
		pkgName, version, _ = strings.Cut(s, "/")
	}
	// Versions never hold "_", so it starts the peer suffix
	// ("18.2.0_react@18.2.0", "8.0.1_4l6mhyjnqvrccumhyt4t3euc4q").
	version, _, _ = strings.Cut(version, "_")
	return pkgName, version
}

// devOnly returns the "packages" keys of a 9.x lock that only the
// projects' devDependencies lead to. Every peer variant of a package must
// be dev-only for the package to be.
func (l *pnpmLock) devOnly() map[string]bool {
	var prodRoots, devRoots []string
	for _, imp := range l.Importers {
		for _, deps := range []map[string]pnpmImporterDep{imp.Dependencies, imp.OptionalDependencies} {
			for dep, d := range deps {
				if k, ok := l.snapshotKey(dep, d.Version); ok {
					prodRoots = append(prodRoots, k)
				}
			}
		}
		for dep, d := range imp.DevDependencies {
			if k, ok := l.snapshotKey(dep, d.Version); ok {
				devRoots = append(devRoots, k)
			}
		}
	}
	prod, dev := l.reach(prodRoots), l.reach(devRoots)
	out := map[string]bool{}
	prodPkg := map[string]bool{}
	for k := range prod {
		base, _, _ := strings.Cut(k, "(")
		prodPkg[base] = true
	}
	for k := range dev {
		if base, _, _ := strings.Cut(k, "("); !prodPkg[base] {
			out[base] = true
		}
	}
	return out
}

// reach returns the snapshot keys reachable from roots.
func (l *pnpmLock) reach(roots []string) map[string]bool {
	seen := map[string]bool{}
	stack := roots
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[k] {
			continue
		}
		seen[k] = true
		s := l.Snapshots[k]
		for _, deps := range []map[string]string{s.Dependencies, s.OptionalDependencies} {
			for dep, ref := range deps {
				if next, ok := l.snapshotKey(dep, ref); ok && !seen[next] {
					stack = append(stack, next)
				}
			}
		}
	}
	return seen
}

// snapshotKey finds the snapshot a dependency refers to: "react":
// "18.2.0" means "react@18.2.0", while an alias names its target in full
// ("strip-ansi-cjs": "strip-ansi@6.0.1"). Links to workspace directories
// have no snapshot.
func (l *pnpmLock) snapshotKey(dep, ref string) (string, bool) {
	if k := dep + "@" + ref; l.hasSnapshot(k) {
		return k, true
	}
	if l.hasSnapshot(ref) {
		return ref, true
	}
	return "", false
}

func (l *pnpmLock) hasSnapshot(k string) bool {
	_, ok := l.Snapshots[k]
	return ok
}
