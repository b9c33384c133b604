// Package worker runs the jobs of `vigil serve` and `vigil worker`: it
// claims a job from the store, scans or re-evaluates the image, and writes
// findings, image state and events back in one transaction. Jobs are
// claimed with a lease the worker keeps renewing; a worker that dies loses
// its lease and another takes the job over, so an interrupted scan always
// completes.
package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/lifecycle"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// Images opens stored images for scanning.
type Images interface {
	Image(ctx context.Context, repository, digest string) (*image.Image, error)
}

// Databases gives the current vulnerability database; release must be
// called when done with it.
type Databases interface {
	Acquire() (db *vulndb.DB, release func(), err error)
}

// Worker processes jobs. Its fields are set before Run and not changed.
type Worker struct {
	Store    store.Store
	Images   Images
	Analyzer *analyze.Analyzer
	DB       Databases
	Emitter  events.Emitter
	// RegistryHost names the registry in reports ("vigil.example:5000").
	RegistryHost string
	// Attach, when set, receives each scanned image's SBOM and OpenVEX
	// as referrers of the image (after every scan and rescan, and after
	// a triage change: JobAttach).
	Attach Attacher
	// Owner identifies this worker in job leases; Lease is how long a
	// claim lasts without renewal; Poll how often to look for jobs when
	// not woken (DefaultPoll when 0).
	Owner string
	Lease time.Duration
	Poll  time.Duration
	// Wake, when not nil, wakes idle workers as soon as a job is enqueued
	// in this process.
	Wake <-chan struct{}
	Log  *slog.Logger
	Now  func() time.Time
}

// DefaultPoll is how often an idle worker looks for jobs. It bounds how
// long a job handed back by a stopping process, or enqueued by another
// process, waits: well under a second.
const DefaultPoll = 500 * time.Millisecond

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

// Run processes jobs until ctx is done; a job running then is handed back
// at once, for this or another process to take over.
func (w *Worker) Run(ctx context.Context) error {
	poll := w.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	for {
		job, err := w.Store.ClaimJob(ctx, w.Owner, w.Lease)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("claiming a job failed", "err", err)
		}
		if job == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-w.Wake:
			case <-time.After(poll):
			}
			continue
		}
		w.Do(ctx, job)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Do runs one claimed job, renewing its lease while it runs.
func (w *Worker) Do(ctx context.Context, job *store.Job) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(w.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if err := w.Store.ExtendJob(jctx, job.ID, w.Owner, w.Lease); err != nil {
					// Another worker has the job now: stop.
					w.Log.Warn("lost the lease of a job", "job", job.ID, "err", err)
					cancel()
					return
				}
			}
		}
	}()
	start := time.Now()
	var err error
	switch job.Kind {
	case store.JobScan:
		err = w.scan(jctx, job.Repository, job.Digest)
	case store.JobRescan:
		err = w.Rescan(jctx, job.Repository, job.Digest)
	case JobAttach:
		err = w.reattach(jctx, job.Repository, job.Digest)
	default:
		err = fmt.Errorf("unknown job kind %q", job.Kind)
	}
	cancel()
	wg.Wait()
	if ctx.Err() != nil {
		// Shutting down: give the job back at once (a lease ending
		// now), so that this or another process takes it over — unless
		// it completed, when it is finished instead of done twice.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err == nil {
			if err := w.Store.FinishJob(rctx, job.ID, w.Owner, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
				w.Log.Error("finishing a job failed", "job", job.ID, "err", err)
			}
			return
		}
		if err := w.Store.ExtendJob(rctx, job.ID, w.Owner, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			w.Log.Error("handing a job back failed; it waits out its lease", "job", job.ID, "err", err)
		} else {
			w.Log.Info("job handed back", "job", job.ID, "kind", job.Kind, "repository", job.Repository, "digest", job.Digest)
		}
		return
	}
	failure := ""
	if err != nil {
		failure = err.Error()
		w.Log.Error("job failed", "job", job.ID, "kind", job.Kind, "repository", job.Repository, "digest", job.Digest, "err", err)
		w.recordFailure(ctx, job, err)
	} else {
		w.Log.Info("job done", "job", job.ID, "kind", job.Kind, "repository", job.Repository, "digest", job.Digest, "duration", time.Since(start).Round(time.Millisecond))
	}
	if err := w.Store.FinishJob(ctx, job.ID, w.Owner, failure); err != nil && !errors.Is(err, store.ErrNotFound) {
		w.Log.Error("finishing a job failed", "job", job.ID, "err", err)
	}
}

// scan analyses an image's layers, keeps its inventory and evaluates it.
func (w *Worker) scan(ctx context.Context, repository, digest string) error {
	im, err := w.Store.Image(ctx, repository, digest)
	if err != nil {
		return err
	}
	if err := w.Store.UpdateImage(ctx, store.ImageUpdate{Repository: repository, Digest: digest,
		ScanStatus: store.ScanInProgress, ScanReason: im.ScanReason}, nil); err != nil {
		return err
	}
	img, err := w.Images.Image(ctx, repository, digest)
	if err != nil {
		return w.fail(ctx, repository, digest, events.ReasonInternal, "", err)
	}
	defer img.Close()
	res, err := w.Analyzer.Analyze(ctx, img)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return w.fail(ctx, repository, digest, events.ReasonInternal, "", err)
	}
	inv := &res.Inventory
	if why := unsupported(inv, res.Warnings); why != "" {
		return w.unsupported(ctx, repository, digest, why, res.Warnings)
	}
	data, err := encodeInventory(inv)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	if err := w.Store.PutInventory(ctx, hash, data); err != nil {
		return err
	}
	subject := w.subject(img, im)
	return w.evaluate(ctx, im, subject, inv, hash, res.Warnings)
}

// unsupported says why an inventory cannot be matched, or "". An image
// with no package but a wanted file that was not read is not empty: its
// coverage says which file (INCOMPLETE_INVENTORY).
func unsupported(inv *inventory.Inventory, warnings []analyze.Warning) string {
	if len(inv.Packages) == 0 && len(scan.SkippedFiles(warnings)) == 0 {
		return events.ReasonNoInventory
	}
	hasOS := false
	for i := range inv.Packages {
		hasOS = hasOS || inv.Packages[i].Type.IsOS()
	}
	if hasOS && !match.Supported(inv.Distro) {
		return events.ReasonUnsupported
	}
	return ""
}

func (w *Worker) subject(img *image.Image, im *store.Image) scan.Subject {
	s := scan.Subject{Name: w.RegistryHost + "/" + im.Repository + "@" + im.Digest, Digest: im.Digest, Platform: im.Platform}
	for _, t := range im.Tags {
		s.RepoTags = append(s.RepoTags, w.RegistryHost+"/"+im.Repository+":"+t)
	}
	if img != nil {
		if img.Config != nil {
			s.Created = img.Config.Created.Time
		}
		for _, l := range img.Layers {
			s.Layers = append(s.Layers, inventory.LayerRef{Index: l.Index, DiffID: l.DiffID, Digest: l.Digest})
		}
	}
	return s
}

// evaluate matches an inventory with the current database and reconciles
// the image's findings, image state and events in one transaction.
func (w *Worker) evaluate(ctx context.Context, im *store.Image, subject scan.Subject, inv *inventory.Inventory, hash string, warnings []analyze.Warning) error {
	// The inventory is kept on failure, so that the next database
	// re-evaluates the image without reading its layers again.
	db, release, err := w.DB.Acquire()
	if err != nil {
		return w.fail(ctx, im.Repository, im.Digest, events.ReasonInternal, hash, err)
	}
	defer release()
	observed, r, err := w.observe(ctx, db, im, subject, inv, warnings)
	if err != nil {
		return w.fail(ctx, im.Repository, im.Digest, events.ReasonInternal, hash, err)
	}
	return w.apply(ctx, im, r, observed, inv, hash, true, r.Coverage, warnings, db.Version())
}

func (w *Worker) observe(ctx context.Context, db *vulndb.DB, im *store.Image, subject scan.Subject, inv *inventory.Inventory, warnings []analyze.Warning) ([]lifecycle.Observed, *scan.Report, error) {
	matched, err := match.Match(ctx, db, inv)
	if err != nil {
		return nil, nil, err
	}
	findings, err := scan.Score(ctx, db, matched.Findings)
	if err != nil {
		return nil, nil, err
	}
	r := &scan.Report{Subject: subject, Distro: inv.Distro, Packages: inv.Packages, Findings: findings, Warnings: warnings,
		Database: &scan.Database{Path: db.Path(), Built: db.Built(), Version: db.Version(), Digest: db.Digest()}, Time: w.now()}
	if err := scan.Assess(ctx, db, r); err != nil {
		return nil, nil, err
	}
	observed, err := lifecycle.Observe(r, im.Repository, report.Options{AccountID: w.Emitter.Account, Region: w.Emitter.Region, Now: r.Time, PushedAt: im.PushedAt})
	return observed, r, err
}

// maxScanMessage bounds the scan message stored with an image.
const maxScanMessage = 2000

// scanMessage says what a completed scan could not assess, or that it
// assessed everything (and what limits that): never empty, so that it
// replaces the message of an earlier scan.
func scanMessage(cov *coverage.Coverage) string {
	if !cov.Full {
		return cov.Summary(maxScanMessage)
	}
	msg := "every package is covered by an advisory source and every wanted file was read"
	if l := cov.Limits(); len(l) > 0 {
		msg += "; coverage limited: " + strings.Join(l, "; ")
	}
	if len(msg) > maxScanMessage {
		cut := maxScanMessage
		for cut > 0 && msg[cut]&0xc0 == 0x80 {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// apply writes observed findings for one image, with its coverage: an
// image that is not fully covered completes its scan with the coverage's
// reason (UNSUPPORTED_OS, INCOMPLETE_INVENTORY, PARTIAL_COVERAGE) rather
// than SUCCESSFUL, so that the gate and its Coverage event say so. The
// image's SBOM and OpenVEX, judged from r and the findings written, are
// then attached to it.
func (w *Worker) apply(ctx context.Context, im *store.Image, r *scan.Report, observed []lifecycle.Observed, inv *inventory.Inventory, hash string, initial bool, cov *coverage.Coverage, warnings []analyze.Warning, dbVersion string) error {
	rules, err := w.Store.Rules(ctx)
	if err != nil {
		return err
	}
	rc := lifecycle.Reconciler{Emitter: w.Emitter, Region: w.Emitter.Region, Account: w.Emitter.Account}
	fctx := store.FindingContext{Tags: im.Tags, PushedAt: im.PushedAt}
	now := w.now()
	status := report.InspectorScanStatus(cov)
	if err := w.putCoverage(ctx, im.Repository, im.Digest, cov.Reason, cov, warnings, now); err != nil {
		return err
	}
	var final []store.Finding
	err = w.Store.UpdateFindings(ctx, im.Repository, im.Digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
		changed, evts, err := rc.Scan(existing, observed, rules, fctx, now)
		if err != nil {
			return store.FindingsUpdate{}, err
		}
		final = merge(existing, changed)
		scanStatus := events.ScanRescanDone
		if initial {
			scanStatus = events.ScanInitialDone
		}
		scanEvt, err := w.Emitter.ScanEvent(scanStatus, im.Repository, im.Digest, im.Tags, lifecycle.Counts(merge(existing, changed)))
		if err != nil {
			return store.FindingsUpdate{}, err
		}
		evts = append(evts, scanEvt)
		if initial || im.ScanStatus != store.ScanComplete || im.ScanReason != status.Reason {
			ce, err := w.Emitter.ScanCoverageEvent(im.Repository, im.Digest, status.StatusCode, status.Reason, cov.Gaps(), warningLines(warnings))
			if err != nil {
				return store.FindingsUpdate{}, err
			}
			evts = append(evts, ce)
		}
		return store.FindingsUpdate{
			Findings: changed,
			Image: &store.ImageUpdate{Repository: im.Repository, Digest: im.Digest, ScanStatus: store.ScanComplete,
				ScanReason: status.Reason, ScanMessage: scanMessage(cov), ScannedAt: now, Distro: inv.Distro.String(), InventoryHash: hash, DBVersion: dbVersion},
			Events: evts,
		}, nil
	})
	if err != nil {
		return err
	}
	w.attach(ctx, im, r, inv, final)
	return nil
}

// merge is the image's findings after the changes are written.
func merge(existing, changed []store.Finding) []store.Finding {
	byID := map[string]store.Finding{}
	for _, f := range existing {
		byID[f.ID] = f
	}
	for _, f := range changed {
		byID[f.ID] = f
	}
	out := make([]store.Finding, 0, len(byID))
	for _, f := range byID {
		out = append(out, f)
	}
	return out
}

// fail marks an image's scan failed, with a coverage event saying why: a
// failed scan is reported, never taken for a clean one. inventoryHash, when
// not empty, names the inventory already taken.
func (w *Worker) fail(ctx context.Context, repository, digest, reason, inventoryHash string, cause error) error {
	cov, err := w.Emitter.CoverageEvent(repository, digest, events.CoverageInactive, reason)
	if err != nil {
		return err
	}
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	if err := w.Store.UpdateImage(ctx, store.ImageUpdate{Repository: repository, Digest: digest, ScanStatus: store.ScanFailed,
		ScanReason: reason, ScanMessage: msg, ScannedAt: w.now(), InventoryHash: inventoryHash}, []store.Event{cov}); err != nil {
		return fmt.Errorf("%v (and recording the failure failed: %w)", cause, err)
	}
	return cause
}

func (w *Worker) unsupported(ctx context.Context, repository, digest, reason string, warnings []analyze.Warning) error {
	msg := "the image holds no package Vigil can read"
	if reason == events.ReasonUnsupported {
		msg = "the image's operating system has no vulnerability data in Vigil"
	}
	if err := w.putCoverage(ctx, repository, digest, reason, nil, warnings, w.now()); err != nil {
		return err
	}
	cov, err := w.Emitter.ScanCoverageEvent(repository, digest, events.CoverageInactive, reason, []string{msg}, warningLines(warnings))
	if err != nil {
		return err
	}
	return w.Store.UpdateImage(ctx, store.ImageUpdate{Repository: repository, Digest: digest, ScanStatus: store.ScanUnsupported,
		ScanReason: reason, ScanMessage: msg, ScannedAt: w.now()}, []store.Event{cov})
}

// putCoverage keeps an image's coverage and its analysis' warnings, for
// the API and the console, and for rescans, which judge coverage again
// without reading the layers. A nil cov records the warnings alone (the
// image could not be matched at all).
func (w *Worker) putCoverage(ctx context.Context, repository, digest, reason string, cov *coverage.Coverage, warnings []analyze.Warning, now time.Time) error {
	c := store.ImageCoverage{Repository: repository, Digest: digest, Reason: reason, UpdatedAt: now}
	var err error
	if c.Coverage, err = json.Marshal(cov); err != nil {
		return fmt.Errorf("worker: coverage: %w", err)
	}
	if warnings == nil {
		warnings = []analyze.Warning{}
	}
	if c.Warnings, err = json.Marshal(warnings); err != nil {
		return fmt.Errorf("worker: coverage: %w", err)
	}
	return w.Store.PutImageCoverage(ctx, c)
}

// storedWarnings are the analysis warnings kept with an image's last
// scan; none when there is no record.
func (w *Worker) storedWarnings(ctx context.Context, repository, digest string) ([]analyze.Warning, error) {
	c, err := w.Store.ImageCoverage(ctx, repository, digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ws []analyze.Warning
	if err := json.Unmarshal(c.Warnings, &ws); err != nil {
		return nil, fmt.Errorf("worker: stored warnings of %s@%s: %w", repository, digest, err)
	}
	return ws, nil
}

func warningLines(ws []analyze.Warning) []string {
	out := make([]string, 0, min(len(ws), events.MaxEventWarnings+1))
	for _, w := range ws {
		if len(out) > events.MaxEventWarnings {
			break
		}
		out = append(out, w.String())
	}
	return out
}
