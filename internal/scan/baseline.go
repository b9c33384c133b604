package scan

import (
	"time"

	"github.com/vigilsec/vigil/internal/baseline"
)

// Baseline is an earlier report a scan is compared with (see package
// baseline for when two findings are the same).
type Baseline struct {
	// Path is the report's file; Subject, Digest, ScannedAt and
	// DatabaseVersion are what it says of itself.
	Path            string    `json:"path"`
	Subject         string    `json:"subject,omitempty"`
	Digest          string    `json:"digest,omitempty"`
	ScannedAt       time.Time `json:"scannedAt,omitzero"`
	DatabaseVersion string    `json:"databaseVersion,omitempty"`
	// Findings are the report's findings, ignored ones included.
	Findings []Prior `json:"-"`
	// Fixed are those of Findings that the scan no longer has (set by
	// CompareBaseline).
	Fixed []Prior `json:"fixed"`
}

// Prior is a finding of an earlier report.
type Prior struct {
	ID          string   `json:"id"`
	Aliases     []string `json:"aliases,omitempty"`
	Package     string   `json:"package"`
	PackageType string   `json:"packageType,omitempty"`
	Version     string   `json:"version,omitempty"`
	Severity    string   `json:"severity,omitempty"`
}

// CompareBaseline marks every finding of r, ignored ones included, new or
// unchanged against b, lists in b.Fixed the findings of b that r no
// longer has, and records b as r's baseline. It is called before the
// report is filtered, so that a finding a filter hides is not taken for
// fixed.
func CompareBaseline(r *Report, b *Baseline) {
	var before, now baseline.Set
	for _, p := range b.Findings {
		before.Add(p.Package, append([]string{p.ID}, p.Aliases...)...)
	}
	for _, list := range [][]*Finding{r.Findings, r.Ignored} {
		for _, f := range list {
			ids := append([]string{f.ID}, f.Aliases...)
			now.Add(pkgName(f), ids...)
			f.Change = baseline.New
			if before.Has(pkgName(f), ids...) {
				f.Change = baseline.Unchanged
			}
		}
	}
	b.Fixed = []Prior{}
	for _, p := range b.Findings {
		if !now.Has(p.Package, append([]string{p.ID}, p.Aliases...)...) {
			b.Fixed = append(b.Fixed, p)
		}
	}
	r.Baseline = b
}

// Changes counts the report's findings (not the ignored ones) new and
// unchanged against its baseline, and the baseline's fixed ones.
func (r *Report) Changes() (added, unchanged, fixed int) {
	if r.Baseline == nil {
		return 0, 0, 0
	}
	for _, f := range r.Findings {
		switch f.Change {
		case baseline.New:
			added++
		case baseline.Unchanged:
			unchanged++
		}
	}
	return added, unchanged, len(r.Baseline.Fixed)
}

// NewOnly is the findings that are new against the report's baseline (all
// of them when it has none), for thresholds that count only new findings.
func NewOnly(fs []*Finding) []*Finding {
	var out []*Finding
	for _, f := range fs {
		if f.Change != baseline.Unchanged {
			out = append(out, f)
		}
	}
	return out
}

func pkgName(f *Finding) string {
	if f.Pkg != nil {
		return f.Pkg.Name
	}
	if f.Package != nil {
		return f.Package.Name
	}
	return ""
}
