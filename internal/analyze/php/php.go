// Package php catalogs PHP packages managed by Composer: the packages a
// composer.lock resolves (declared) and those Composer records as
// installed in vendor/composer/installed.json.
//
// Versions lose a leading "v" before a digit ("v5.4.21" → "5.4.21").
// Composer keeps a tag's spelling as the "pretty" version it writes here,
// but treats the prefix as insignificant: its version parser normalizes
// "v2.4.1" to "2.4.1.0", so "v2.4.1" and "2.4.1" are one release. The
// advisories follow suit: GitHub's Packagist advisories, the bulk of
// OSV's Packagist data, give range bounds as bare versions, and osv.dev's
// Packagist comparison (osv/ecosystems/packagist.py,
// php_canonicalize_version) strips a leading "v" before comparing.
// Stripping it here keeps matching and purls from depending on every
// consumer doing the same. Branch versions ("dev-main", "1.x-dev") are
// kept as they are.
package php

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// maxSize bounds the JSON read: lock files of the largest applications
// (Drupal, Magento) are a few MiB.
const maxSize = 64 << 20

// Cataloger reads composer.lock and vendor/composer/installed.json.
type Cataloger struct{}

var (
	_ analyze.Cataloger = Cataloger{}
	_ analyze.Limited   = Cataloger{}
)

func (Cataloger) Name() string { return "composer" }
func (Cataloger) Version() int { return 1 }

func isLock(p string) bool { return path.Base(p) == "composer.lock" }

func isInstalled(p string) bool {
	return p == "vendor/composer/installed.json" || strings.HasSuffix(p, "/vendor/composer/installed.json")
}

func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool {
	return isLock(p) || isInstalled(p)
}

// MaxSize is the limit of every file it reads.
func (Cataloger) MaxSize(string) int64 { return maxSize }

func (Cataloger) Catalog(_ context.Context, f *analyze.File) ([]inventory.Package, error) {
	var parse func([]byte) ([]inventory.Package, error)
	switch {
	case isLock(f.Path):
		parse = ParseLock
	case isInstalled(f.Path):
		parse = ParseInstalled
	default:
		return nil, nil
	}
	data, err := f.Bytes(maxSize)
	if err != nil {
		return nil, fmt.Errorf("composer: %w", err)
	}
	pkgs, err := parse(data)
	if err != nil {
		err = fmt.Errorf("%w (in %s)", err, f.Path)
	}
	return pkgs, err
}

// composerPackage is an entry of composer.lock's package lists and of
// installed.json: the same schema.
type composerPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
}

// ParseLock returns the packages of a composer.lock: its "packages" and
// "packages-dev" lists, the latter with Metadata "composer.dev" = "true".
func ParseLock(data []byte) ([]inventory.Package, error) {
	var lock struct {
		Packages    []json.RawMessage `json:"packages"`
		PackagesDev []json.RawMessage `json:"packages-dev"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("composer: composer.lock: %w", err)
	}
	if lock.Packages == nil && lock.PackagesDev == nil {
		return nil, fmt.Errorf("composer: composer.lock: no \"packages\" list")
	}
	var c collector
	c.add("packages", lock.Packages, inventory.Declared, nil)
	c.add("packages-dev", lock.PackagesDev, inventory.Declared, func(string) bool { return true })
	return c.result("composer.lock")
}

// ParseInstalled returns the packages of vendor/composer/installed.json.
// Composer 1 writes a JSON array of packages; Composer 2 an object whose
// "packages" holds them and whose "dev-package-names" names those
// installed only for development, which get Metadata "composer.dev".
func ParseInstalled(data []byte) ([]inventory.Package, error) {
	var (
		list    []json.RawMessage
		devName = map[string]bool{}
	)
	trimmed := strings.TrimLeft(string(data), " \t\r\n")
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("composer: installed.json: %w", err)
		}
	} else {
		var v2 struct {
			Packages []json.RawMessage `json:"packages"`
			DevNames []string          `json:"dev-package-names"`
		}
		if err := json.Unmarshal(data, &v2); err != nil {
			return nil, fmt.Errorf("composer: installed.json: %w", err)
		}
		if v2.Packages == nil {
			return nil, fmt.Errorf("composer: installed.json: no \"packages\" list")
		}
		list = v2.Packages
		for _, n := range v2.DevNames {
			devName[n] = true
		}
	}
	var c collector
	c.add("packages", list, inventory.Installed, func(n string) bool { return devName[n] })
	return c.result("installed.json")
}

type collector struct {
	pkgs []inventory.Package
	errs errList
}

func (c *collector) add(list string, entries []json.RawMessage, ev inventory.Evidence, dev func(string) bool) {
	for i, raw := range entries {
		var e composerPackage
		if err := json.Unmarshal(raw, &e); err != nil {
			c.errs.add("%s[%d]: %v", list, i, err)
			continue
		}
		if e.Name == "" || e.Version == "" {
			c.errs.add("%s[%d]: missing name or version", list, i)
			continue
		}
		p := inventory.Package{
			Name:      e.Name,
			Version:   Version(e.Version),
			Type:      inventory.Composer,
			Licenses:  licenses(e.License),
			Cataloger: "composer",
			Evidence:  ev,
		}
		if dev != nil && dev(e.Name) {
			p.Metadata = map[string]string{"composer.dev": "true"}
		}
		if p.Version != e.Version {
			// Keep the spelling Composer shows, for reports.
			if p.Metadata == nil {
				p.Metadata = map[string]string{}
			}
			p.Metadata["composer.pretty_version"] = e.Version
		}
		c.pkgs = append(c.pkgs, p)
	}
}

func (c *collector) result(file string) ([]inventory.Package, error) {
	return c.pkgs, c.errs.err("composer: " + file)
}

// Version returns a Composer version without the insignificant "v" of
// tags ("v1.2.3" → "1.2.3"); see the package comment.
func Version(v string) string {
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}

// licenses reads "license", which composer.json allows as a string or a
// list of strings and the lock and installed files keep as a list.
func licenses(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return nil // an unexpected shape says nothing about the package's identity
		}
		list = []string{one}
	}
	var out []string
	for _, l := range list {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
