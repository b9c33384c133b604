package worker

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/lifecycle"
	"github.com/vigilsec/vigil/internal/registry"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/sbom"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/store"
)

// Attacher stores documents as referrers of an image (the registry).
type Attacher interface {
	Attach(ctx context.Context, repository, subject string, a registry.Artifact) (string, error)
}

// JobAttach is the job that attaches an image's documents again without
// scanning it: after a triage change, so that its OpenVEX says so.
const JobAttach = "attach"

// Artifact types of the documents Vigil attaches to a scanned image.
const (
	SBOMArtifactType = "application/vnd.cyclonedx+json"
	VEXArtifactType  = "application/vnd.openvex+json"
)

// attach pushes the image's SBOM (CycloneDX 1.6) and its findings as
// OpenVEX as referrers of the image, replacing those attached before.
// findings are the image's stored findings after the scan, which say what
// triage suppressed. A failure is logged: the scan stands without them.
func (w *Worker) attach(ctx context.Context, im *store.Image, r *scan.Report, inv *inventory.Inventory, findings []store.Finding) {
	if w.Attach == nil || r == nil {
		return
	}
	if err := w.attachDocuments(ctx, im, r, inv, findings); err != nil && ctx.Err() == nil {
		w.Log.Error("attaching the SBOM and OpenVEX failed", "repository", im.Repository, "digest", im.Digest, "err", err)
	}
}

func (w *Worker) attachDocuments(ctx context.Context, im *store.Image, r *scan.Report, inv *inventory.Inventory, findings []store.Finding) error {
	rules, err := w.Store.Rules(ctx)
	if err != nil {
		return err
	}
	now := w.now()
	var bom bytes.Buffer
	s := sbom.Subject{Name: r.Subject.Name, Digest: im.Digest, Platform: im.Platform, RepoTags: r.Subject.RepoTags, Layers: r.Subject.Layers}
	if err := sbom.EncodeCycloneDX(&bom, s, inv, sbom.Tool{Name: "vigil", Version: version()}, now); err != nil {
		return fmt.Errorf("worker: SBOM of %s@%s: %w", im.Repository, im.Digest, err)
	}
	var vex bytes.Buffer
	if err := report.WriteOpenVEX(&vex, triaged(r, im.Repository, findings, rules), report.Options{Version: version(), Now: now}); err != nil {
		return fmt.Errorf("worker: OpenVEX of %s@%s: %w", im.Repository, im.Digest, err)
	}
	for _, a := range []registry.Artifact{
		{ArtifactType: SBOMArtifactType, Title: "sbom.cdx.json", Content: bom.Bytes(), Created: now},
		{ArtifactType: VEXArtifactType, Title: "vex.openvex.json", Content: vex.Bytes(), Created: now},
	} {
		if _, err := w.Attach.Attach(ctx, im.Repository, im.Digest, a); err != nil {
			return err
		}
	}
	return nil
}

// triaged is the report as the image's stored findings judge it: a
// finding a rule suppresses, or whose vulnerable code is not in the image,
// is ignored, with a reason that OpenVEX states as not_affected (a rule's
// reason, which may name an OpenVEX justification; reachability's
// vulnerable_code_not_present). Findings that are closed are left out.
func triaged(r *scan.Report, repository string, findings []store.Finding, rules []store.Rule) *scan.Report {
	byID := make(map[string]*store.Finding, len(findings))
	for i := range findings {
		byID[findings[i].ID] = &findings[i]
	}
	reasons := map[string]string{}
	for _, rl := range rules {
		reasons[rl.ID] = "suppressed by rule " + rl.Name + ": " + rl.Reason
	}
	out := *r
	out.Findings, out.Ignored = nil, nil
	for _, f := range r.Findings {
		if f == nil || f.Finding == nil || f.Pkg == nil {
			continue
		}
		sf := byID[lifecycle.ID(repository, r.Subject.Digest, f.Pkg.PURL, f.Pkg.Path, f.ID)]
		switch {
		case sf != nil && sf.Status == store.Closed:
			continue
		case sf != nil && sf.Status == store.Suppressed:
			g := *f
			reason := reasons[sf.SuppressedBy]
			if reason == "" {
				reason = "suppressed by rule " + sf.SuppressedBy
			}
			g.IgnoredBecause = "not affected: " + reason
			out.Ignored = append(out.Ignored, &g)
		case f.NotReachable != "":
			g := *f
			g.IgnoredBecause = scan.NotReachableReason + f.NotReachable
			out.Ignored = append(out.Ignored, &g)
		default:
			out.Findings = append(out.Findings, f)
		}
	}
	return &out
}

// version is the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// reattach attaches an image's documents again from its stored inventory
// and findings, matching the inventory with the current database without
// reconciling anything.
func (w *Worker) reattach(ctx context.Context, repository, digest string) error {
	if w.Attach == nil {
		return nil
	}
	im, err := w.Store.Image(ctx, repository, digest)
	if err != nil {
		return err
	}
	if im.InventoryHash == "" || im.ScanStatus != store.ScanComplete {
		return nil // nothing to state until a scan completes
	}
	db, release, err := w.DB.Acquire()
	if err != nil {
		return err
	}
	defer release()
	inv, found, _, err := w.matchInventory(ctx, db, im.InventoryHash)
	if err != nil {
		return err
	}
	r := &scan.Report{Subject: w.subject(nil, im), Distro: inv.Distro, Packages: inv.Packages, Findings: found, Time: w.now()}
	var stored []store.Finding
	err = w.Store.UpdateFindings(ctx, repository, digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
		stored = existing
		return store.FindingsUpdate{}, nil
	})
	if err != nil {
		return err
	}
	return w.attachDocuments(ctx, im, r, inv, stored)
}
