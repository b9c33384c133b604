package match

import (
	"fmt"
	"sort"

	"github.com/vigilsec/vigil/internal/vuln"
)

// comparer orders the versions of one ecosystem.
type comparer interface {
	Compare(a, b string) (int, error)
}

// verdict is what one affected entry says of one installed version.
type verdict struct {
	affected bool
	// fixed is the version that ends the affected range the installed
	// version is in; empty when no fix is known.
	fixed  string
	status vuln.Status
}

// evaluate applies an OSV affected entry to version v, following the OSV
// schema's evaluation rules: v is affected if it is listed in versions, or
// if, walking a range's events in version order, the last event at or
// below v is an introduction (a "fixed" at or below v ends it, a
// "last_affected" below v ends it, and any "limit" at or below v ends
// the range). GIT ranges cannot be evaluated against a package version and
// are skipped; their affected versions come in the versions list.
func evaluate(af *vuln.Affected, v string, cmp comparer) (verdict, error) {
	out := verdict{status: af.Status}
	for _, listed := range af.Versions {
		if listed == v {
			out.affected = true
			break
		}
	}
	hasRange := false
	for i := range af.Ranges {
		r := &af.Ranges[i]
		if r.Type != vuln.RangeEcosystem && r.Type != vuln.RangeSemver {
			continue
		}
		hasRange = true
		hit, fixed, err := inRange(r.Events, v, cmp)
		if err != nil {
			return verdict{}, err
		}
		if hit {
			out.affected = true
			if fixed != "" && (out.fixed == "" || less(cmp, out.fixed, fixed)) {
				out.fixed = fixed
			}
		}
	}
	// A vendor statement without ranges ("every version is affected, no
	// fix yet", "will not fix") affects every version.
	if !hasRange && len(af.Versions) == 0 && (af.Status == vuln.NotFixed || af.Status == vuln.WillNotFix) {
		out.affected = true
	}
	return out, nil
}

func less(cmp comparer, a, b string) bool {
	c, err := cmp.Compare(a, b)
	return err == nil && c < 0
}

type event struct {
	kind    byte // 'i', 'f', 'l' (last affected), 'L' (limit)
	version string
	zero    bool // introduced "0": before every version
}

func inRange(events []vuln.Event, v string, cmp comparer) (hit bool, fixed string, err error) {
	evs := make([]event, 0, len(events))
	for _, e := range events {
		switch {
		case e.Introduced != "":
			evs = append(evs, event{kind: 'i', version: e.Introduced, zero: e.Introduced == "0"})
		case e.Fixed != "":
			evs = append(evs, event{kind: 'f', version: e.Fixed})
		case e.LastAffected != "":
			evs = append(evs, event{kind: 'l', version: e.LastAffected})
		case e.Limit != "":
			if e.Limit == "*" {
				continue // no limit
			}
			evs = append(evs, event{kind: 'L', version: e.Limit})
		}
	}
	var sortErr error
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.zero || b.zero {
			return a.zero && !b.zero
		}
		c, err := cmp.Compare(a.version, b.version)
		if err != nil {
			sortErr = err
			return false
		}
		return c < 0
	})
	if sortErr != nil {
		return false, "", fmt.Errorf("range event: %w", sortErr)
	}
	affected := false
	for i, e := range evs {
		var c int
		if !e.zero {
			if c, err = cmp.Compare(v, e.version); err != nil {
				return false, "", err
			}
		}
		switch e.kind {
		case 'i':
			if e.zero || c >= 0 {
				affected = true
			}
		case 'f':
			if c >= 0 {
				affected = false
			}
		case 'l':
			if c > 0 {
				affected = false
			}
		case 'L':
			if c >= 0 {
				return false, "", nil
			}
		}
		if c < 0 && !e.zero {
			// Events above v do not change its state; the first
			// fix above it ends its range.
			if affected {
				for _, later := range evs[i:] {
					if later.kind == 'f' {
						return true, later.version, nil
					}
					if later.kind == 'i' {
						break
					}
				}
			}
			return affected, "", nil
		}
	}
	return affected, "", nil
}
