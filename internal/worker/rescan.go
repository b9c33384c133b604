package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/lifecycle"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// RescanReport says what a re-evaluation did.
type RescanReport struct {
	Images      int // images re-evaluated
	Inventories int // distinct inventories matched
	Expired     int // images past their rescan duration, made inactive
	Skipped     int // images without a completed scan
}

// Rescan re-evaluates stored inventories against the current database
// without reading any layer: one image, every image of a repository
// (digest ""), or every image (both ""). Images sharing an inventory are
// matched once. Images past their repository's rescan duration become
// inactive and their findings close.
func (w *Worker) Rescan(ctx context.Context, repository, digest string) error {
	_, err := w.RescanReport(ctx, repository, digest)
	return err
}

// RescanReport is Rescan, saying what it did.
func (w *Worker) RescanReport(ctx context.Context, repository, digest string) (*RescanReport, error) {
	images, err := w.rescanTargets(ctx, repository, digest)
	if err != nil {
		return nil, err
	}
	// One image asked for by name whose scan failed before its inventory
	// was taken (its layers could not be read) is scanned again in full.
	if digest != "" && len(images) == 1 && images[0].InventoryHash == "" && images[0].ScanStatus == store.ScanFailed {
		if err := w.scan(ctx, repository, digest); err != nil {
			return nil, err
		}
		return &RescanReport{Images: 1}, nil
	}
	db, release, err := w.DB.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	repos := map[string]*store.Repository{}
	for _, im := range images {
		if _, ok := repos[im.Repository]; !ok {
			r, err := w.Store.Repository(ctx, im.Repository)
			if err != nil {
				return nil, err
			}
			repos[im.Repository] = r
		}
	}
	rep := &RescanReport{}
	var mu sync.Mutex
	matched := map[string]*matchedInventory{}
	get := func(hash string) (*matchedInventory, error) {
		mu.Lock()
		m, ok := matched[hash]
		if !ok {
			m = &matchedInventory{}
			matched[hash] = m
			rep.Inventories++
		}
		mu.Unlock()
		m.once.Do(func() { m.inv, m.findings, m.scopes, m.err = w.matchInventory(ctx, db, hash) })
		return m, m.err
	}
	now := w.now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i := range images {
		im := &images[i]
		g.Go(func() error {
			if expired(repos[im.Repository], im, now) {
				if im.ScanStatus == store.ScanInactive {
					return nil
				}
				mu.Lock()
				rep.Expired++
				mu.Unlock()
				return w.deactivate(gctx, im)
			}
			// A failed image with an inventory failed in matching (no
			// database yet, say): the new database completes its scan.
			if im.InventoryHash == "" || (im.ScanStatus != store.ScanComplete && im.ScanStatus != store.ScanInactive && im.ScanStatus != store.ScanFailed) {
				mu.Lock()
				rep.Skipped++
				mu.Unlock()
				return nil
			}
			m, err := get(im.InventoryHash)
			if err != nil {
				return fmt.Errorf("worker: %s@%s: %w", im.Repository, im.Digest, err)
			}
			subject := w.subject(nil, im)
			r := &scan.Report{Subject: subject, Distro: m.inv.Distro, Packages: m.inv.Packages, Findings: m.findings,
				Database: &scan.Database{Path: db.Path(), Built: db.Built(), Version: db.Version(), Digest: db.Digest()}, Time: now}
			observed, err := lifecycle.Observe(r, im.Repository, report.Options{AccountID: w.Emitter.Account, Region: w.Emitter.Region, Now: now, PushedAt: im.PushedAt})
			if err != nil {
				return err
			}
			// The files the analysis skipped are as the scan found them;
			// what the database covers is judged again.
			warnings, err := w.storedWarnings(gctx, im.Repository, im.Digest)
			if err != nil {
				return err
			}
			cov := coverage.New(m.scopes, scan.SkippedFiles(warnings))
			initial := im.ScanStatus == store.ScanFailed
			if err := w.apply(gctx, im, r, observed, m.inv, im.InventoryHash, initial, cov, warnings, db.Version()); err != nil {
				return err
			}
			mu.Lock()
			rep.Images++
			mu.Unlock()
			return nil
		})
	}
	return rep, g.Wait()
}

type matchedInventory struct {
	once     sync.Once
	inv      *inventory.Inventory
	findings []*scan.Finding
	scopes   []coverage.Scope
	err      error
}

func (w *Worker) matchInventory(ctx context.Context, db *vulndb.DB, hash string) (*inventory.Inventory, []*scan.Finding, []coverage.Scope, error) {
	data, err := w.Store.Inventory(ctx, hash)
	if err != nil {
		return nil, nil, nil, err
	}
	inv := new(inventory.Inventory)
	if err := json.Unmarshal(data, inv); err != nil {
		return nil, nil, nil, fmt.Errorf("stored inventory %s: %w", hash, err)
	}
	res, err := match.Match(ctx, db, inv)
	if err != nil {
		return nil, nil, nil, err
	}
	findings, err := scan.Score(ctx, db, res.Findings)
	if err != nil {
		return nil, nil, nil, err
	}
	scopes, err := match.Cover(ctx, db, inv)
	return inv, findings, scopes, err
}

func (w *Worker) rescanTargets(ctx context.Context, repository, digest string) ([]store.Image, error) {
	if digest != "" {
		im, err := w.Store.Image(ctx, repository, digest)
		if err != nil {
			return nil, err
		}
		return []store.Image{*im}, nil
	}
	var all []store.Image
	next := ""
	for {
		page, n, err := w.Store.ListImages(ctx, store.ImageQuery{Repository: repository, Limit: 1000, Next: next})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if n == "" {
			return all, nil
		}
		next = n
	}
}

// expired reports whether an image is past its repository's rescan
// duration ("DAYS_30": 30 days after its push, or after its last pull).
func expired(r *store.Repository, im *store.Image, now time.Time) bool {
	if r == nil || r.RescanDuration == "" || r.RescanDuration == "LIFETIME" {
		return false
	}
	days, err := strconv.Atoi(strings.TrimPrefix(r.RescanDuration, "DAYS_"))
	if err != nil || days <= 0 {
		return false
	}
	since := im.PushedAt
	if r.RescanBasis == "PULL" && im.LastPulledAt.After(since) {
		since = im.LastPulledAt
	}
	return now.Sub(since) > time.Duration(days)*24*time.Hour
}

// deactivate closes an expired image's findings and marks it inactive.
func (w *Worker) deactivate(ctx context.Context, im *store.Image) error {
	rc := lifecycle.Reconciler{Emitter: w.Emitter, Region: w.Emitter.Region, Account: w.Emitter.Account}
	now := w.now()
	return w.Store.UpdateFindings(ctx, im.Repository, im.Digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
		closed, evts, err := rc.Close(existing, now)
		if err != nil {
			return store.FindingsUpdate{}, err
		}
		cov, err := w.Emitter.CoverageEvent(im.Repository, im.Digest, events.CoverageInactive, events.ReasonExpired)
		if err != nil {
			return store.FindingsUpdate{}, err
		}
		return store.FindingsUpdate{
			Findings: closed,
			Image: &store.ImageUpdate{Repository: im.Repository, Digest: im.Digest, ScanStatus: store.ScanInactive,
				ScanReason: events.ReasonExpired, ScanMessage: "past the repository's rescan duration", ScannedAt: now},
			Events: append(evts, cov),
		}, nil
	})
}

// Expire makes inactive every image past its repository's rescan duration
// (its findings close, a Coverage event says SCAN_ELIGIBILITY_EXPIRED),
// without matching anything. The server runs it on a timer, so that an
// image expires when its time is up, not only when the database changes.
// It reports how many images it made inactive.
func (w *Worker) Expire(ctx context.Context) (int, error) {
	repos, err := w.Store.ListRepositories(ctx)
	if err != nil {
		return 0, fmt.Errorf("worker: expire: %w", err)
	}
	now := w.now()
	n := 0
	for i := range repos {
		r := &repos[i]
		if r.RescanDuration == "" || r.RescanDuration == "LIFETIME" {
			continue
		}
		images, err := w.rescanTargets(ctx, r.Name, "")
		if err != nil {
			return n, fmt.Errorf("worker: expire: %w", err)
		}
		for j := range images {
			im := &images[j]
			if im.ScanStatus == store.ScanInactive || !expired(r, im, now) {
				continue
			}
			if err := w.deactivate(ctx, im); err != nil {
				return n, fmt.Errorf("worker: expire %s@%s: %w", im.Repository, im.Digest, err)
			}
			n++
		}
	}
	return n, nil
}
