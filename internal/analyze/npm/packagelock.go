package npm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// packageLock is the part of a package-lock.json or npm-shrinkwrap.json
// that names packages. Version 1 (npm 5 and 6) nests "dependencies" as
// node_modules are nested; versions 2 and 3 (npm 7 and later) list
// "packages" by their path under the project; version 2 carries both.
type packageLock struct {
	LockfileVersion *int                       `json:"lockfileVersion"`
	Packages        map[string]lockPackage     `json:"packages"`
	Dependencies    map[string]*lockDependency `json:"dependencies"`
}

type lockPackage struct {
	// Name is set when it differs from the directory, as for aliases
	// ("node_modules/strip-ansi-cjs" holding strip-ansi).
	Name    string `json:"name"`
	Version string `json:"version"`
	// Link marks a symlink to a directory of the project (a workspace or
	// a "file:" dependency): the target is the project's own code.
	Link bool `json:"link"`
	Dev  bool `json:"dev"`
	// License is copied from the package's package.json by npm 9 and
	// later.
	License json.RawMessage `json:"license"`
}

type lockDependency struct {
	Version      string                     `json:"version"`
	Dev          bool                       `json:"dev"`
	Dependencies map[string]*lockDependency `json:"dependencies"`
}

// parsePackageLock returns the packages a package-lock.json declares,
// without the project itself.
func parsePackageLock(data []byte) ([]inventory.Package, error) {
	var lock packageLock
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("package-lock: %w", err)
	}
	if lock.LockfileVersion == nil {
		return nil, errors.New("package-lock: no lockfileVersion")
	}
	var set lockSet
	if *lock.LockfileVersion >= 2 && lock.Packages != nil {
		for key, p := range lock.Packages {
			dir, ok := installedName(key)
			if !ok || p.Link || p.Version == "" {
				continue
			}
			pkgName := p.Name
			if pkgName == "" {
				pkgName = dir
			}
			if added := set.add(pkgName, p.Version, p.Dev); added.Licenses == nil {
				added.Licenses = appendLicenses(nil, p.License)
			}
		}
		return set.sorted(), nil
	}
	// Version 1: walk the nested tree without recursion.
	var errs errorList
	stack := []map[string]*lockDependency{lock.Dependencies}
	for len(stack) > 0 {
		deps := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for key, d := range deps {
			if d == nil {
				continue
			}
			stack = append(stack, d.Dependencies)
			pkgName, version := key, d.Version
			if real, ok := strings.CutPrefix(version, "npm:"); ok {
				// An alias: "strip-ansi-cjs": {"version": "npm:strip-ansi@6.0.1"}.
				if n, v, ok := splitSpec(real); ok {
					pkgName, version = n, v
				}
			}
			if version == "" || strings.HasPrefix(version, "file:") {
				// "file:" is a directory or tarball of the project.
				continue
			}
			if pkgName == "" {
				errs.add("dependency with an empty name")
				continue
			}
			set.add(pkgName, version, d.Dev)
		}
	}
	return set.sorted(), errs.err()
}

// installedName returns the directory name under the last node_modules of
// a "packages" key ("node_modules/a/node_modules/@s/b" → "@s/b"). Keys
// outside node_modules are the project and its workspaces.
func installedName(key string) (string, bool) {
	const nm = "node_modules/"
	i := strings.LastIndex(key, nm)
	if i < 0 || (i > 0 && key[i-1] != '/') {
		return "", false
	}
	n := key[i+len(nm):]
	return n, n != ""
}
