// Package apk catalogs Alpine (and Wolfi) packages from apk's installed
// database, lib/apk/db/installed: one paragraph per package, each line a
// single-letter field ("P:name", "V:1.2-r0", "o:origin"), paragraphs
// separated by blank lines.
package apk

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// maxDBSize bounds the database read into memory. It lists every file of
// every package, yet real ones stay within a few MiB.
const maxDBSize = 64 << 20

// maxErrors bounds how many broken paragraphs an error names, so that a
// hostile file cannot make the error message as large as itself.
const maxErrors = 10

// Cataloger reads apk installed databases.
type Cataloger struct{}

var (
	_ analyze.Cataloger = Cataloger{}
	_ analyze.Limited   = Cataloger{}
)

func (Cataloger) Name() string { return "apk" }
func (Cataloger) Version() int { return 2 }

// Wants takes the database at its usual place and, for usr-merged images
// (Wolfi) where lib is a symlink to usr/lib, at usr/lib; the walk offers
// only regular files, so the symlinked name is never seen.
func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool {
	return p == "lib/apk/db/installed" || p == "usr/lib/apk/db/installed"
}

// MaxSize is the installed database's limit.
func (Cataloger) MaxSize(string) int64 { return maxDBSize }

func (Cataloger) Catalog(_ context.Context, f *analyze.File) ([]inventory.Package, error) {
	data, err := f.Bytes(maxDBSize)
	if err != nil {
		return nil, fmt.Errorf("apk: %w", err)
	}
	pkgs, err := Parse(data)
	if err != nil {
		return pkgs, fmt.Errorf("apk: %s: %w", f.Path, err)
	}
	return pkgs, nil
}

// entry collects the fields of one paragraph that the cataloger reports.
type entry struct {
	line                             int // first line of the paragraph
	name, version, arch, origin, lic string
	err                              string
}

// Parse returns the packages of an installed database. A malformed
// paragraph is named in the error and the others are still returned.
func Parse(data []byte) ([]inventory.Package, error) {
	var (
		pkgs []inventory.Package
		errs []string
		bad  int
		cur  *entry
	)
	finish := func() {
		if cur == nil {
			return
		}
		if cur.err == "" && (cur.name == "" || cur.version == "") {
			cur.err = "missing P: or V:"
		}
		if cur.err != "" {
			bad++
			if len(errs) < maxErrors {
				errs = append(errs, fmt.Sprintf("paragraph at line %d: %s", cur.line, cur.err))
			}
		} else {
			pkgs = append(pkgs, cur.pkg())
		}
		cur = nil
	}
	for n := 1; len(data) > 0; n++ {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			finish()
			continue
		}
		if cur == nil {
			cur = &entry{line: n}
		}
		if cur.err != "" {
			continue
		}
		// apk writes every line as one letter, a colon and the value;
		// anything else means the file is not what apk wrote.
		if len(line) < 2 || line[1] != ':' {
			cur.err = fmt.Sprintf("line %d is not a field: %q", n, truncate(line))
			continue
		}
		value := string(line[2:])
		switch line[0] {
		case 'P':
			if cur.name != "" {
				// A second name without a blank line in between: two
				// packages ran together, and which fields belong to
				// which cannot be told.
				cur.err = fmt.Sprintf("line %d: second P: field in one paragraph", n)
				continue
			}
			cur.name = value
		case 'V':
			cur.version = value
		case 'A':
			cur.arch = value
		case 'o':
			cur.origin = value
		case 'L':
			cur.lic = value
		}
	}
	finish()
	if bad > 0 {
		more := ""
		if bad > len(errs) {
			more = fmt.Sprintf("; and %d more", bad-len(errs))
		}
		return pkgs, fmt.Errorf("%d malformed paragraphs: %s%s", bad, strings.Join(errs, "; "), more)
	}
	return pkgs, nil
}

func (e *entry) pkg() inventory.Package {
	// Alpine's security database is keyed by origin (the aports
	// directory), so the origin is the package's source; a package
	// without one is its own origin.
	origin := e.origin
	if origin == "" {
		origin = e.name
	}
	p := inventory.Package{
		Name:      e.name,
		Version:   e.version,
		Type:      inventory.APK,
		Arch:      e.arch,
		Source:    &inventory.Source{Name: origin, Version: e.version},
		Cataloger: "apk",
		Evidence:  inventory.Installed,
	}
	if e.lic != "" {
		// L: holds one license expression ("MIT AND BSD-2-Clause");
		// it is kept whole, as splitting it would lose AND/OR.
		p.Licenses = []string{e.lic}
	}
	return p
}

func truncate(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
