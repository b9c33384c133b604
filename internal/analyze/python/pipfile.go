package python

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// ParsePipfileLock returns the packages of a Pipfile.lock: the entries of
// its "default" and "develop" sections whose "version" pins one version
// ("==1.0"). Entries without a version (git, path and editable
// dependencies) are skipped. Development packages carry Metadata
// "python.dev" = "true". Packages are returned sorted by name within each
// section, as JSON objects have no order Go keeps.
func ParsePipfileLock(data []byte) ([]inventory.Package, error) {
	var lock struct {
		Default map[string]json.RawMessage `json:"default"`
		Develop map[string]json.RawMessage `json:"develop"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("python: Pipfile.lock: %w", err)
	}
	var (
		pkgs []inventory.Package
		errs errList
	)
	for _, sec := range []struct {
		name    string
		entries map[string]json.RawMessage
	}{{"default", lock.Default}, {"develop", lock.Develop}} {
		names := make([]string, 0, len(sec.entries))
		for n := range sec.entries {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			var e struct {
				Version *string `json:"version"`
			}
			if err := json.Unmarshal(sec.entries[n], &e); err != nil {
				errs.add("%s %q: %v", sec.name, truncate(n), err)
				continue
			}
			if e.Version == nil {
				continue
			}
			v, ok := strings.CutPrefix(*e.Version, "==")
			v = strings.TrimSpace(strings.TrimPrefix(v, "=")) // "===1.0", arbitrary equality
			if !ok || v == "" || strings.ContainsAny(v, " \t=<>!~,;*") || strings.TrimSpace(n) == "" {
				errs.add("%s %q: version %q is not a pin", sec.name, truncate(n), truncate(*e.Version))
				continue
			}
			p := newPackage(n, v, inventory.Declared)
			if sec.name == "develop" {
				p.Metadata = map[string]string{"python.dev": "true"}
			}
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, errs.err("python: Pipfile.lock")
}
