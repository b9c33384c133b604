package worker

import (
	"context"
	"fmt"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/lifecycle"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// Rematched is what an image's stored inventory gives against one
// database: its findings as they would be stored, and its coverage's
// reason and message as the image's scan would record them.
type Rematched struct {
	Findings                []store.Finding
	ScanReason, ScanMessage string
}

// Rematch matches an image's stored inventory against db, as a rescan
// would, and returns the findings it would store — suppression rules
// applied — and its coverage, without storing anything: what the image's
// findings were, or would be, with that database.
func (w *Worker) Rematch(ctx context.Context, db *vulndb.DB, im *store.Image) (*Rematched, error) {
	if im.InventoryHash == "" {
		return nil, fmt.Errorf("worker: %s@%s has no stored inventory to match again", im.Repository, im.Digest)
	}
	inv, findings, scopes, err := w.matchInventory(ctx, db, im.InventoryHash)
	if err != nil {
		return nil, fmt.Errorf("worker: %s@%s: %w", im.Repository, im.Digest, err)
	}
	warnings, err := w.storedWarnings(ctx, im.Repository, im.Digest)
	if err != nil {
		return nil, err
	}
	cov := coverage.New(scopes, scan.SkippedFiles(warnings))
	now := w.now()
	r := &scan.Report{Subject: w.subject(nil, im), Distro: inv.Distro, Packages: inv.Packages, Findings: findings,
		Database: &scan.Database{Path: db.Path(), Built: db.Built(), Version: db.Version(), Digest: db.Digest()}, Time: now}
	observed, err := lifecycle.Observe(r, im.Repository, report.Options{AccountID: w.Emitter.Account, Region: w.Emitter.Region, Now: now, PushedAt: im.PushedAt})
	if err != nil {
		return nil, err
	}
	rules, err := w.Store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	rc := lifecycle.Reconciler{Emitter: w.Emitter, Region: w.Emitter.Region, Account: w.Emitter.Account}
	out, _, err := rc.Scan(nil, observed, rules, store.FindingContext{Tags: im.Tags, PushedAt: im.PushedAt}, now)
	if err != nil {
		return nil, err
	}
	return &Rematched{Findings: out, ScanReason: report.InspectorScanStatus(cov).Reason, ScanMessage: scanMessage(cov)}, nil
}
