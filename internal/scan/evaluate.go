package scan

import (
	"context"
	"sort"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/vuln"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// Evaluate matches the report's inventory (distribution and packages)
// against db, records the feeds the matching relied on with the age of
// their data, judges coverage and scores the findings: everything a scan
// does after the inventory, as `vigil scan` does it, so that a server
// scanning an inventory it was sent (`vigil scan --server`, ScanSbom)
// reports what a local scan of the same image would. Ignore files, VEX
// and thresholds are the caller's.
func Evaluate(ctx context.Context, db *vulndb.DB, r *Report) error {
	r.Database = &Database{Path: db.Path(), Built: db.Built(), Version: db.Version(), Digest: db.Digest()}
	looked := &ecosystemRecorder{Advisories: db, seen: map[string]bool{}}
	matched, err := match.Match(ctx, looked, &inventory.Inventory{Distro: r.Distro, Packages: r.Packages})
	if err != nil {
		return err
	}
	sources, err := db.Sources(ctx)
	if err != nil {
		return err
	}
	for _, s := range vulndb.ReliedOn(sources, looked.ecosystems()) {
		r.Database.Feeds = append(r.Database.Feeds, Feed{Name: s.Name, DataAsOf: s.Updated, From: s.UpdatedFrom})
	}
	r.Skipped = matched.Skipped
	if err := Assess(ctx, db, r); err != nil {
		return err
	}
	r.Findings, err = Score(ctx, db, matched.Findings)
	return err
}

// ecosystemRecorder notes the ecosystems the matcher looked advisories up
// in, so that the scan knows which feeds it relied on.
type ecosystemRecorder struct {
	match.Advisories
	seen map[string]bool
}

func (r *ecosystemRecorder) Affecting(ctx context.Context, ecosystem, name string) ([]*vuln.Advisory, error) {
	r.seen[ecosystem] = true
	return r.Advisories.Affecting(ctx, ecosystem, name)
}

func (r *ecosystemRecorder) ecosystems() []string {
	out := make([]string, 0, len(r.seen))
	for e := range r.seen {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}
