// Package baseline says which findings are new: those of a scan against
// an earlier report (`vigil scan --baseline`), and those of an image
// against the last image of its repository approved for the same stage
// (the gate's newFindingsOnly).
//
// A finding is the same as an earlier one when it is the same
// vulnerability — its id or any of its aliases — in a package of the same
// name. The package's version and path do not count: a finding still
// present after an upgrade that did not fix it is unchanged, not new.
package baseline

// Changes of a finding against a baseline.
const (
	New       = "new"       // not in the baseline
	Unchanged = "unchanged" // in the baseline too
	Fixed     = "fixed"     // in the baseline, gone now
)

// Set is the identities of a set of findings. The zero Set is empty and
// ready to use.
type Set struct {
	keys map[key]bool
}

type key struct{ pkg, id string }

// Add adds a finding: its package's name and its vulnerability's ids (its
// own id, then its aliases).
func (s *Set) Add(pkg string, ids ...string) {
	if s.keys == nil {
		s.keys = map[key]bool{}
	}
	for _, id := range ids {
		if id != "" {
			s.keys[key{pkg, id}] = true
		}
	}
}

// Has reports whether a finding of the package with one of the ids is
// in the set.
func (s *Set) Has(pkg string, ids ...string) bool {
	for _, id := range ids {
		if id != "" && s.keys[key{pkg, id}] {
			return true
		}
	}
	return false
}

// Len is the number of identities held (a finding with aliases counts
// once per id).
func (s *Set) Len() int { return len(s.keys) }
