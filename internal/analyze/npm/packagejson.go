package npm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// parsePackageJSON returns the installed package an npm manifest
// describes, or nothing when it has no name or version: workspace roots
// and test fixtures lack them, and node will not load them as packages.
func parsePackageJSON(data []byte) ([]inventory.Package, error) {
	// A map rather than a struct: encoding/json matches struct fields
	// case-insensitively, and "Name" is not "name" to npm.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("package.json: %w", err)
	}
	if m == nil {
		return nil, errors.New("package.json: not a JSON object")
	}
	pkgName, err := stringField(m, "name")
	if err != nil {
		return nil, err
	}
	version, err := stringField(m, "version")
	if err != nil {
		return nil, err
	}
	if pkgName == "" || version == "" {
		return nil, nil
	}
	var lic []string
	lic = appendLicenses(lic, m["license"])
	lic = appendLicenses(lic, m["licenses"])
	return []inventory.Package{{
		Name:      pkgName,
		Version:   version,
		Type:      inventory.NPM,
		Licenses:  lic,
		Cataloger: name,
		Evidence:  inventory.Installed,
	}}, nil
}

// stringField returns the string value of key, "" when it is absent or
// null, and an error when it is something else.
func stringField(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("package.json: %q is not a string", key)
	}
	return strings.TrimSpace(s), nil
}

// appendLicenses adds the licenses named by a "license" or "licenses"
// value: an SPDX expression, the legacy {"type": "MIT", "url": …}
// object, or an array of either. Other shapes are ignored: a license
// that cannot be read is no reason to lose the package.
func appendLicenses(out []string, raw json.RawMessage) []string {
	if len(raw) == 0 {
		return out
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		list = []json.RawMessage{raw}
	}
	for _, item := range list {
		var s string
		if json.Unmarshal(item, &s) != nil {
			var obj struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(item, &obj) != nil {
				continue
			}
			s = obj.Type
		}
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
