package scan

import (
	"context"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
)

// Assess judges the report's coverage: which of its distribution releases
// and language ecosystems the database holds advisories for, and which
// wanted files its analysis skipped (warnings marked Incomplete).
func Assess(ctx context.Context, h match.Holdings, r *Report) error {
	scopes, err := match.Cover(ctx, h, &inventory.Inventory{Distro: r.Distro, Packages: r.Packages})
	if err != nil {
		return err
	}
	r.Coverage = coverage.New(scopes, SkippedFiles(r.Warnings))
	return nil
}

// SkippedFiles are the files among an analysis' warnings that a cataloger
// wanted and did not fully read.
func SkippedFiles(ws []analyze.Warning) []coverage.File {
	var out []coverage.File
	for _, w := range ws {
		if w.Incomplete != "" {
			out = append(out, coverage.File{Layer: w.Layer, Path: w.Path, WantedBy: w.Incomplete, Message: w.Message})
		}
	}
	return out
}
