// Package dpkg catalogs Debian packages from dpkg's status database
// (var/lib/dpkg/status) and from the per-package status files that
// distroless images keep instead (var/lib/dpkg/status.d/*).
package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// maxStatusSize bounds the status file read into memory. The largest real
// status files (full desktop installs) are a few MiB.
const maxStatusSize = 64 << 20

// Cataloger reads dpkg status files.
type Cataloger struct{}

var (
	_ analyze.Cataloger = Cataloger{}
	_ analyze.Limited   = Cataloger{}
)

func (Cataloger) Name() string { return "dpkg" }
func (Cataloger) Version() int { return 2 }

func (Cataloger) Wants(p string, _ fs.FileMode, _ int64) bool {
	if p == "var/lib/dpkg/status" {
		return true
	}
	dir, base := path.Split(p)
	return dir == "var/lib/dpkg/status.d/" && !strings.HasSuffix(base, ".md5sums") && !strings.HasPrefix(base, ".")
}

// MaxSize is the larger of the status file's and a .list file's limits.
func (Cataloger) MaxSize(string) int64 { return max(maxStatusSize, maxListSize) }

func (Cataloger) Catalog(_ context.Context, f *analyze.File) ([]inventory.Package, error) {
	data, err := f.Bytes(maxStatusSize)
	if err != nil {
		return nil, fmt.Errorf("dpkg: %w", err)
	}
	return Parse(data)
}

// Parse returns the installed packages of a dpkg status file. Paragraphs
// for packages that are not installed (removed, or only their
// configuration files left) are skipped. A malformed paragraph is
// reported in the error and the others are still returned.
func Parse(data []byte) ([]inventory.Package, error) {
	var (
		pkgs []inventory.Package
		errs []string
	)
	for i, para := range paragraphs(data) {
		fields, err := parseFields(para.text)
		if err != nil {
			errs = append(errs, fmt.Sprintf("paragraph %d (line %d): %v", i+1, para.line, err))
			continue
		}
		if !installed(fields["status"]) {
			continue
		}
		name, version := fields["package"], fields["version"]
		if name == "" || version == "" {
			errs = append(errs, fmt.Sprintf("paragraph %d (line %d): missing Package or Version", i+1, para.line))
			continue
		}
		p := inventory.Package{
			Name:      name,
			Version:   version,
			Type:      inventory.Deb,
			Arch:      fields["architecture"],
			Source:    source(fields["source"], name, version),
			Cataloger: "dpkg",
			Evidence:  inventory.Installed,
		}
		pkgs = append(pkgs, p)
	}
	if len(errs) > 0 {
		return pkgs, fmt.Errorf("dpkg: status: %s", strings.Join(errs, "; "))
	}
	return pkgs, nil
}

// installed reports whether a Status field ("want flag state") describes
// a package whose files are on disk. Packages that are half-way through an
// upgrade still have their files installed, so they count.
func installed(status string) bool {
	f := strings.Fields(status)
	if len(f) != 3 {
		// Distroless status.d files sometimes carry no Status field at
		// all: every package listed there is installed.
		return status == ""
	}
	switch f[2] {
	case "installed", "half-configured", "unpacked", "half-installed", "triggers-awaited", "triggers-pending":
		return true
	}
	return false
}

// source parses the Source field, "name" or "name (version)"; an absent
// field means the source package has the binary package's name and
// version.
func source(field, name, version string) *inventory.Source {
	field = strings.TrimSpace(field)
	if field == "" {
		return &inventory.Source{Name: name, Version: version}
	}
	sname, rest, ok := strings.Cut(field, " ")
	if !ok {
		return &inventory.Source{Name: sname, Version: version}
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
		return &inventory.Source{Name: sname, Version: strings.TrimSpace(rest[1 : len(rest)-1])}
	}
	return &inventory.Source{Name: sname, Version: version}
}

type paragraph struct {
	text []byte
	line int
}

// paragraphs splits a control file at blank lines (lines that are empty or
// hold only whitespace).
func paragraphs(data []byte) []paragraph {
	var (
		out   []paragraph
		start = -1
		first int
		line  int
	)
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		line++
		blank := len(bytes.TrimSpace(data[off:next])) == 0
		switch {
		case blank && start >= 0:
			out = append(out, paragraph{data[start:off], first})
			start = -1
		case !blank && start < 0:
			start, first = off, line
		}
		off = next
	}
	if start >= 0 {
		out = append(out, paragraph{data[start:], first})
	}
	return out
}

// parseFields reads the fields of one paragraph, keyed by lower-case name.
// Continuation lines (starting with a space or tab) are folded into the
// field they continue; only the first line of each field is kept, which
// is all the single-line fields this cataloger reads need.
func parseFields(para []byte) (map[string]string, error) {
	fields := make(map[string]string, 8)
	sc := bufio.NewScanner(bytes.NewReader(para))
	sc.Buffer(make([]byte, 0, 64<<10), len(para)+1)
	seen := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !seen {
				return nil, fmt.Errorf("continuation line before any field: %q", truncate(line))
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("not a field: %q", truncate(line))
		}
		seen = true
		fields[strings.ToLower(key)] = strings.TrimSpace(value)
	}
	return fields, sc.Err()
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
