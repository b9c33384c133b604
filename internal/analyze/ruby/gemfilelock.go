package ruby

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// sourceSections are the lock file sections whose specs are gems of the
// bundle, with the "gem.source" Metadata their gems get. PLUGIN SOURCE
// lists Bundler plugins, which are not part of the application.
var sourceSections = map[string]string{"GEM": "", "GIT": "git", "PATH": "path"}

// ParseGemfileLock returns the gems a Bundler lock file resolves: the
// specs of its GEM, GIT and PATH sections, "    name (version)" lines
// indented by four spaces (their dependencies, indented by six, are
// not read). A platform suffix ("nokogiri (1.15.4-x86_64-linux)") is
// cut from the version; a gem locked for several platforms is reported
// once. Gems from GIT and PATH sections carry Metadata "gem.source".
func ParseGemfileLock(data []byte) ([]inventory.Package, error) {
	var (
		pkgs     []inventory.Package
		errs     errList
		seen     = map[string]bool{}
		section  string // the current top-level section
		inSpecs  bool
		sections int
	)
	rest := string(data)
	for n := 1; rest != ""; n++ {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSuffix(line, "\r")
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case strings.TrimSpace(line) == "":
			inSpecs = false
			continue
		case indent == 0:
			section, inSpecs = line, false
			if _, ok := sourceSections[section]; ok {
				sections++
			}
			continue
		}
		source, ok := sourceSections[section]
		if !ok {
			continue
		}
		switch {
		case indent == 2:
			inSpecs = line == "  specs:"
		case indent == 4 && inSpecs:
			name, version, err := parseSpec(line[4:])
			if err != nil {
				errs.add("line %d: %v", n, err)
				continue
			}
			key := name + "\x00" + version
			if seen[key] {
				continue
			}
			seen[key] = true
			p := newPackage(name, version, inventory.Declared)
			if source != "" {
				p.Metadata = map[string]string{"gem.source": source}
			}
			pkgs = append(pkgs, p)
		}
	}
	if sections == 0 {
		return nil, errors.New("gem: Gemfile.lock: no GEM, GIT or PATH section")
	}
	return pkgs, errs.err("gem: Gemfile.lock")
}

// parseSpec parses "name (version)" or "name (version-platform)".
// RubyGems turns "-" in versions into ".pre.", so the first "-" starts
// the platform.
func parseSpec(s string) (name, version string, err error) {
	name, rest, ok := strings.Cut(s, " (")
	if !ok || !strings.HasSuffix(rest, ")") || name == "" || strings.ContainsAny(name, " \t()") {
		return "", "", fmt.Errorf("not a spec: %q", truncate(s))
	}
	version, _, _ = strings.Cut(rest[:len(rest)-1], "-")
	if version == "" || strings.ContainsAny(version, " \t()") {
		return "", "", fmt.Errorf("bad version in %q", truncate(s))
	}
	return name, version, nil
}
