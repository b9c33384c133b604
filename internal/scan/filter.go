package scan

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/score"
)

// Filter says which findings a report shows.
type Filter struct {
	// Severities, when not empty, keeps only findings of these severities.
	Severities []string
	// IgnoreUnfixed drops findings that have no fix.
	IgnoreUnfixed bool
	// ReachableOnly moves findings whose vulnerable code is not
	// reachable in the image (Finding.NotReachable) to Report.Ignored.
	ReachableOnly bool
	// Ignore and VEX move the findings they silence to Report.Ignored,
	// with the reason.
	Ignore *IgnoreFile
	VEX    *VEX
	Now    time.Time
}

// Apply filters the report's findings in place.
func (flt Filter) Apply(r *Report) {
	keep := r.Findings[:0:0]
	for _, f := range r.Findings {
		if f.Malicious {
			// Malware is never ignored, filtered or suppressed.
			keep = append(keep, f)
			continue
		}
		if reason := flt.ignored(f, r.Subject); reason != "" {
			f.IgnoredBecause = reason
			r.Ignored = append(r.Ignored, f)
			continue
		}
		if flt.IgnoreUnfixed && f.Fix != match.Fixed {
			continue
		}
		if len(flt.Severities) > 0 && !containsFold(flt.Severities, f.Score.Severity) {
			continue
		}
		keep = append(keep, f)
	}
	r.Findings = keep
}

func (flt Filter) ignored(f *Finding, subject Subject) string {
	if flt.Ignore != nil {
		for i := range flt.Ignore.Ignore {
			rule := &flt.Ignore.Ignore[i]
			if rule.Match(f, flt.Now) {
				return rule.because()
			}
		}
	}
	if v := flt.VEX.Verdict(f, subject); v != "" {
		return v
	}
	if flt.ReachableOnly && f.NotReachable != "" {
		// Worded so that VEX output reads it as OpenVEX's
		// vulnerable_code_not_present.
		return NotReachableReason + f.NotReachable
	}
	return ""
}

// NotReachableReason starts the ignore reason of a finding left out by
// Filter.ReachableOnly.
const NotReachableReason = "reachability: vulnerable code not present: "

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}

// Severities are the severity names in order, most severe first.
var Severities = []string{score.Critical, score.High, score.Medium, score.Low, score.Informational, score.Untriaged}

// ParseSeverity checks a severity name, case-insensitively.
func ParseSeverity(s string) (string, error) {
	for _, sev := range Severities {
		if strings.EqualFold(s, sev) {
			return sev, nil
		}
	}
	return "", fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(Severities, ", "))
}

// Counts returns the number of findings per severity.
func Counts(fs []*Finding) map[string]int {
	c := map[string]int{}
	for _, f := range fs {
		c[f.Score.Severity]++
	}
	return c
}

// Thresholds fail a scan: FailOn fails it when any finding is of that
// severity or worse; Max fails it when a severity has more findings than
// allowed.
type Thresholds struct {
	FailOn string
	Max    map[string]int
}

// Set reports whether any threshold is given.
func (t Thresholds) Set() bool { return t.FailOn != "" || len(t.Max) > 0 }

// Violations says what in fs breaks the thresholds; empty means none.
func (t Thresholds) Violations(fs []*Finding) []string {
	var out []string
	// A malicious package breaks every threshold, whatever its severity.
	var mal []string
	for _, f := range fs {
		if f.Malicious {
			name := ""
			if f.Pkg != nil {
				name = " " + f.Pkg.Name
			}
			mal = append(mal, f.ID+name)
		}
	}
	if len(mal) > 0 && t.Set() {
		out = append(out, fmt.Sprintf("%d malicious packages (%s): rejected whatever the thresholds", len(mal), strings.Join(mal, ", ")))
	}
	if t.FailOn != "" {
		limit := Rank(t.FailOn)
		n := 0
		for _, f := range fs {
			// UNTRIAGED ranks after every band: it fails only when
			// asked for explicitly.
			if r := Rank(f.Score.Severity); r <= limit && (f.Score.Severity != score.Untriaged || t.FailOn == score.Untriaged) {
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%d findings of severity %s or higher (--fail-on %s)", n, t.FailOn, t.FailOn))
		}
	}
	counts := Counts(fs)
	for _, sev := range Severities {
		if max, ok := t.Max[sev]; ok && counts[sev] > max {
			out = append(out, fmt.Sprintf("%d %s findings, more than the %d allowed", counts[sev], sev, max))
		}
	}
	return out
}
