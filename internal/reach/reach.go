// Package reach decides whether a Go binary contains the code a Go
// vulnerability is in. Go's vulnerability data names, for each vulnerable
// module, the packages and functions the flaw lives in, and the platforms
// it affects (OSV's ecosystem_specific "imports"); the gobin cataloger
// records which packages and functions of each module the binary holds
// (inventory.GoCode), inlined ones included. A vulnerability none of whose
// functions is in the binary cannot be reached by it, whatever the input.
//
// It is conservative: whenever the data cannot settle the question — no
// function table, no import data, an entry that cannot be read — the
// vulnerability counts as reachable.
package reach

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/vuln"
)

// Result is the answer for one finding.
type Result struct {
	// Known is false when nothing could be decided; then the finding is
	// treated as reachable.
	Known bool
	// Reachable says the binary contains vulnerable code (or might).
	Reachable bool
	// Why explains a known answer: which vulnerable functions the binary
	// contains, or why none can be reached.
	Why string
}

// imports is OSV's ecosystem_specific for Go.
type imports struct {
	Imports []struct {
		Path    string   `json:"path"`
		GOOS    []string `json:"goos"`
		GOARCH  []string `json:"goarch"`
		Symbols []string `json:"symbols"`
	} `json:"imports"`
}

// Go decides whether pkg, a Go module read from a binary, contains the
// code of the vulnerability the advisories describe.
func Go(pkg *inventory.Package, advisories []*vuln.Advisory) Result {
	if pkg == nil || pkg.Type != inventory.Go || pkg.GoCode == nil {
		return Result{}
	}
	code := pkg.GoCode
	var (
		entries  int      // import entries that apply to the platform
		found    []string // vulnerable functions (or packages) present
		absent   []string // vulnerable packages not in the binary
		unused   []string // packages present without the vulnerable functions
		platform []string // entries for other platforms
	)
	for _, a := range advisories {
		for _, af := range a.Affected {
			if af.Package.Ecosystem != "Go" || af.Package.Name != pkg.Name {
				continue
			}
			if len(af.EcosystemSpecific) == 0 {
				return Result{} // the whole module is affected
			}
			var im imports
			if err := json.Unmarshal(af.EcosystemSpecific, &im); err != nil || len(im.Imports) == 0 {
				return Result{}
			}
			for _, e := range im.Imports {
				if e.Path == "" {
					return Result{}
				}
				if !applies(e.GOOS, code.GOOS) || !applies(e.GOARCH, code.GOARCH) {
					platform = append(platform, fmt.Sprintf("%s (%s only)", e.Path, strings.Join(append(slices.Clone(e.GOOS), e.GOARCH...), ", ")))
					continue
				}
				entries++
				have, ok := code.Packages[e.Path]
				switch {
				case !ok:
					absent = append(absent, e.Path)
				case len(e.Symbols) == 0:
					found = append(found, e.Path)
				default:
					hit := false
					for _, s := range e.Symbols {
						if _, in := slices.BinarySearch(have, s); in {
							found = append(found, e.Path+"."+s)
							hit = true
						}
					}
					if !hit {
						unused = append(unused, fmt.Sprintf("%s but none of its vulnerable functions (%s)", e.Path, strings.Join(e.Symbols, ", ")))
					}
				}
			}
		}
	}
	if len(found) > 0 {
		return Result{Known: true, Reachable: true, Why: "the binary contains " + list(found)}
	}
	if entries == 0 && len(platform) == 0 {
		return Result{} // no advisory spoke of this module
	}
	var why []string
	if len(absent) > 0 {
		why = append(why, "the binary does not contain the package "+list(absent))
	}
	for _, u := range slices.Compact(slices.Sorted(slices.Values(unused))) {
		why = append(why, "the binary has "+u)
	}
	if len(platform) > 0 {
		on := code.GOOS + "/" + code.GOARCH
		if code.GOOS == "" {
			on = "another platform"
		}
		why = append(why, "the flaw is in "+list(platform)+" and the binary is built for "+on)
	}
	return Result{Known: true, Why: strings.Join(why, "; ")}
}

// applies reports whether a platform list (empty: every platform) takes
// in the binary's; an unknown platform is taken in.
func applies(list []string, v string) bool {
	return len(list) == 0 || v == "" || slices.Contains(list, v)
}

func list(items []string) string {
	items = slices.Compact(slices.Sorted(slices.Values(items)))
	const most = 4
	if len(items) > most {
		return strings.Join(items[:most], ", ") + fmt.Sprintf(" and %d more", len(items)-most)
	}
	return strings.Join(items, ", ")
}
