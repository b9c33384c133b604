package npm

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// yarnEntry is one block of a yarn.lock: the descriptors it resolves and
// the fields that name what they resolved to.
type yarnEntry struct {
	line        int
	descriptors []string
	version     string
	resolution  string // yarn 2+ only
}

// parseYarnLock returns the packages a yarn.lock declares. It reads both
// yarn 1's format:
//
//	"lodash@^4.17.15", lodash@^4.17.20:
//	  version "4.17.21"
//
// and the YAML of yarn 2 and later:
//
//	"lodash@npm:^4.17.15, lodash@npm:^4.17.20":
//	  version: 4.17.21
//	  resolution: "lodash@npm:4.17.21"
//
// Both put each entry's header at the start of a line and its fields two
// spaces in, so one line reader serves both; deeper lines (dependency
// lists) are not needed.
func parseYarnLock(data []byte) ([]inventory.Package, error) {
	var (
		set   lockSet
		errs  errorList
		cur   *yarnEntry
		lines int
		// skip is set after a bad header, whose fields were reported
		// with it.
		skip bool
	)
	finish := func() {
		if cur != nil {
			if err := cur.add(&set); err != nil {
				errs.add("entry at line %d: %v", cur.line, err)
			}
		}
		cur = nil
	}
	for rest := data; len(rest) > 0; {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		lines++
		line = bytes.TrimRight(line, " \t\r")
		trimmed := bytes.TrimLeft(line, " ")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		switch indent := len(line) - len(trimmed); {
		case indent == 0:
			finish()
			skip = !bytes.HasSuffix(line, []byte(":"))
			if skip {
				errs.add("line %d: not an entry header: %q", lines, truncate(string(line)))
				continue
			}
			cur = &yarnEntry{line: lines, descriptors: splitDescriptors(string(line[:len(line)-1]))}
		case cur == nil:
			if !skip {
				errs.add("line %d: indented line outside an entry", lines)
				skip = true
			}
		case indent == 2:
			key, value := yarnField(string(trimmed))
			switch key {
			case "version":
				cur.version = value
			case "resolution":
				cur.resolution = value
			}
		}
	}
	finish()
	return set.sorted(), errs.err()
}

// add adds the package the entry resolved to, skipping the project's own
// code (workspaces, links, local directories) and yarn 2's patched copies
// of packages that are listed on their own too.
func (e *yarnEntry) add(set *lockSet) error {
	if len(e.descriptors) == 1 && e.descriptors[0] == "__metadata" {
		return nil
	}
	if e.resolution != "" {
		pkgName, ref, ok := splitSpec(e.resolution)
		if !ok {
			return fmt.Errorf("resolution %q has no name@reference form", truncate(e.resolution))
		}
		if protocol, _, ok := strings.Cut(ref, ":"); ok {
			switch protocol {
			case "workspace", "link", "portal", "file", "patch", "exec":
				return nil
			}
		}
		if e.version == "" {
			return fmt.Errorf("no version for %s", truncate(e.resolution))
		}
		set.add(pkgName, e.version, false)
		return nil
	}
	if len(e.descriptors) == 0 {
		return fmt.Errorf("no descriptor")
	}
	pkgName, rng, ok := splitSpec(e.descriptors[0])
	if !ok {
		return fmt.Errorf("descriptor %q has no name@range form", truncate(e.descriptors[0]))
	}
	switch {
	case strings.HasPrefix(rng, "npm:"):
		// An alias, "strip-ansi-cjs@npm:strip-ansi@^6.0.1".
		if real, _, ok := splitSpec(rng[len("npm:"):]); ok {
			pkgName = real
		}
	case strings.HasPrefix(rng, "file:"), strings.HasPrefix(rng, "link:"):
		return nil
	}
	if e.version == "" {
		return fmt.Errorf("no version for %s", truncate(e.descriptors[0]))
	}
	set.add(pkgName, e.version, false)
	return nil
}

// splitDescriptors splits an entry header (without its colon) into its
// descriptors: yarn 1 quotes each one ("a@^1", "a@^1.2"), yarn 2 quotes
// the whole list ("a@npm:^1, a@npm:^1.2").
func splitDescriptors(header string) []string {
	var out []string
	for _, d := range strings.Split(header, ",") {
		if d = strings.Trim(strings.TrimSpace(d), `"`); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// yarnField splits a field line: `version "1.0.0"` (yarn 1) or
// `version: 1.0.0` (yarn 2+), with the value quoted or not.
func yarnField(s string) (key, value string) {
	key, value, _ = strings.Cut(s, " ")
	key = strings.TrimSuffix(key, ":")
	return key, unquote(strings.TrimSpace(value))
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s[1 : len(s)-1]
	}
	return s
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
