// Package lifecycle keeps an image's findings over time with Inspector's
// semantics: a finding first seen is ACTIVE (or SUPPRESSED when a
// suppression rule matches it), stays with its first observation time while
// later scans see it again, becomes CLOSED when a scan no longer sees it,
// and comes back when it reappears. Every creation, status change and
// change of severity or score is announced as an "Inspector2 Finding"
// event.
package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/store"
)

// Observed is a finding as the latest scan saw it.
type Observed struct {
	Finding store.Finding
	// Inspector is the finding in Inspector's format; status and
	// timestamps are filled in by Reconcile.
	Inspector report.InspectorFinding
}

// ID is a finding's stable id: one vulnerability in one package file of one
// image in one repository.
func ID(repository, digest, purl, path, vulnID string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{repository, digest, purl, path, vulnID}, "\x00")))
	return hex.EncodeToString(h[:16])
}

// Observe turns a scan report of an image into the findings to store.
// The report's ignored findings are not findings of the image (they come
// from scan-time ignore files, which the server does not use).
func Observe(r *scan.Report, repository string, opts report.Options) ([]Observed, error) {
	insp, err := report.NewInspectorFindings(&scan.Report{
		Subject: r.Subject, Distro: r.Distro, Packages: r.Packages,
		Findings: r.Findings, Database: r.Database, Time: r.Time,
	}, opts)
	if err != nil {
		return nil, err
	}
	if len(insp) != len(r.Findings) {
		return nil, fmt.Errorf("lifecycle: %d Inspector findings for %d findings", len(insp), len(r.Findings))
	}
	// NewInspectorFindings orders findings by score; match them back by
	// their ARN.
	byARN := map[string]*scan.Finding{}
	for _, f := range r.Findings {
		byARN[report.FindingARN(r, f, opts)] = f
	}
	out := make([]Observed, 0, len(insp))
	for _, in := range insp {
		f := byARN[in.FindingARN]
		if f == nil {
			return nil, fmt.Errorf("lifecycle: no finding for %s", in.FindingARN)
		}
		p := f.Pkg
		id := ID(repository, r.Subject.Digest, p.PURL, p.Path, f.ID)
		arn := in.FindingARN[:strings.LastIndex(in.FindingARN, "/")+1] + id
		in.FindingARN = arn
		sf := store.Finding{
			ID:               id,
			Repository:       repository,
			ImageDigest:      r.Subject.Digest,
			VulnerabilityID:  f.ID,
			Title:            in.Title,
			Severity:         in.Severity,
			Score:            in.InspectorScore,
			FixAvailable:     in.FixAvailable,
			ExploitAvailable: in.ExploitAvailable,
			PackageName:      p.Name,
			PackageVersion:   p.Version,
			FilePath:         p.Path,
			LayerDiffID:      p.Layer.DiffID,
			NotReachable:     f.NotReachable,
		}
		if len(in.PackageVulnerabilityDetails.VulnerablePackages) > 0 {
			sf.PackageManager = in.PackageVulnerabilityDetails.VulnerablePackages[0].PackageManager
		}
		if in.EPSS != nil {
			e := in.EPSS.Score
			sf.EPSS = &e
		}
		out = append(out, Observed{Finding: sf, Inspector: in})
	}
	return out, nil
}

// Reconciler applies scans and rules to stored findings.
type Reconciler struct {
	Emitter events.Emitter
	// Region and Account name findings' ARNs (for findingArn filters).
	Region, Account string
}

// Scan merges what a scan observed into an image's stored findings.
func (rc Reconciler) Scan(existing []store.Finding, observed []Observed, rules []store.Rule, ctx store.FindingContext, now time.Time) ([]store.Finding, []store.Event, error) {
	byID := make(map[string]*store.Finding, len(existing))
	for i := range existing {
		byID[existing[i].ID] = &existing[i]
	}
	var (
		out  []store.Finding
		evts []store.Event
		seen = map[string]bool{}
	)
	for _, o := range observed {
		f := o.Finding
		if seen[f.ID] {
			continue
		}
		seen[f.ID] = true
		old := byID[f.ID]
		status, rule, err := rc.status(&f, rules, ctx, now)
		if err != nil {
			return nil, nil, err
		}
		f.Status, f.SuppressedBy = status, rule
		f.LastObservedAt = now
		changed := true
		if old == nil {
			f.FirstObservedAt, f.UpdatedAt = now, now
		} else {
			f.FirstObservedAt, f.UpdatedAt = old.FirstObservedAt, old.UpdatedAt
			changed = old.Status != f.Status || old.Severity != f.Severity || !sameScore(old.Score, f.Score) ||
				old.NotReachable != f.NotReachable
			if changed {
				f.UpdatedAt = now
			}
		}
		if err := fill(&f, o.Inspector); err != nil {
			return nil, nil, err
		}
		out = append(out, f)
		if changed {
			e, err := rc.Emitter.FindingEvent(f.Repository, f.ImageDigest, f.Data)
			if err != nil {
				return nil, nil, err
			}
			evts = append(evts, e)
		}
	}
	for _, old := range existing {
		if seen[old.ID] || old.Status == store.Closed {
			continue
		}
		f, e, err := rc.close(old, now)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, f)
		evts = append(evts, e)
	}
	return out, evts, nil
}

// Close closes findings (an image deleted or past its rescan duration).
func (rc Reconciler) Close(existing []store.Finding, now time.Time) ([]store.Finding, []store.Event, error) {
	var out []store.Finding
	var evts []store.Event
	for _, old := range existing {
		if old.Status == store.Closed {
			continue
		}
		f, e, err := rc.close(old, now)
		if err != nil {
			return nil, nil, err
		}
		out, evts = append(out, f), append(evts, e)
	}
	return out, evts, nil
}

func (rc Reconciler) close(old store.Finding, now time.Time) (store.Finding, store.Event, error) {
	f := old
	f.Status, f.SuppressedBy, f.UpdatedAt = store.Closed, "", now
	if err := setStatus(&f); err != nil {
		return f, store.Event{}, err
	}
	e, err := rc.Emitter.FindingEvent(f.Repository, f.ImageDigest, f.Data)
	return f, e, err
}

// Rules re-applies suppression rules to findings that are not closed,
// after rules changed: findings a rule now matches become SUPPRESSED, those
// no rule matches any more become ACTIVE again.
func (rc Reconciler) Rules(existing []store.Finding, rules []store.Rule, contexts map[string]store.FindingContext, now time.Time) ([]store.Finding, []store.Event, error) {
	var out []store.Finding
	var evts []store.Event
	for _, old := range existing {
		if old.Status == store.Closed {
			continue
		}
		f := old
		status, rule, err := rc.status(&f, rules, contexts[f.Repository+"@"+f.ImageDigest], now)
		if err != nil {
			return nil, nil, err
		}
		if status == old.Status && rule == old.SuppressedBy {
			continue
		}
		f.Status, f.SuppressedBy, f.UpdatedAt = status, rule, now
		if err := setStatus(&f); err != nil {
			return nil, nil, err
		}
		out = append(out, f)
		if status != old.Status {
			e, err := rc.Emitter.FindingEvent(f.Repository, f.ImageDigest, f.Data)
			if err != nil {
				return nil, nil, err
			}
			evts = append(evts, e)
		}
	}
	return out, evts, nil
}

// status decides ACTIVE or SUPPRESSED: the first unexpired SUPPRESS rule
// (by id, for determinism) that matches suppresses.
func (rc Reconciler) status(f *store.Finding, rules []store.Rule, ctx store.FindingContext, now time.Time) (string, string, error) {
	sorted := append([]store.Rule(nil), rules...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	for _, r := range sorted {
		if r.Action != "SUPPRESS" || (!r.ExpiresAt.IsZero() && now.After(r.ExpiresAt)) {
			continue
		}
		ok, err := r.Filter.Match(f, ctx, rc.region(), rc.account())
		if err != nil {
			return "", "", fmt.Errorf("lifecycle: rule %s: %w", r.ID, err)
		}
		if ok {
			return store.Suppressed, r.ID, nil
		}
	}
	return store.Active, "", nil
}

func (rc Reconciler) region() string {
	if rc.Region == "" {
		return events.DefaultRegion
	}
	return rc.Region
}

func (rc Reconciler) account() string {
	if rc.Account == "" {
		return events.DefaultAccount
	}
	return rc.Account
}

// fill writes the Inspector finding, with the stored status and times, as
// the finding's data.
func fill(f *store.Finding, in report.InspectorFinding) error {
	in.Status = f.Status
	in.FirstObservedAt = report.Epoch(f.FirstObservedAt)
	in.LastObservedAt = report.Epoch(f.LastObservedAt)
	in.UpdatedAt = report.Epoch(f.UpdatedAt)
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("lifecycle: %w", err)
	}
	f.Data = data
	return nil
}

// setStatus rewrites the status and times inside a stored finding's data.
func setStatus(f *store.Finding) error {
	var in report.InspectorFinding
	if err := json.Unmarshal(f.Data, &in); err != nil {
		return fmt.Errorf("lifecycle: finding %s: %w", f.ID, err)
	}
	return fill(f, in)
}

func sameScore(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Counts are the ACTIVE findings per severity.
func Counts(fs []store.Finding) store.Counts {
	var c store.Counts
	for _, f := range fs {
		if f.Status != store.Active {
			continue
		}
		switch f.Severity {
		case "CRITICAL":
			c.Critical++
		case "HIGH":
			c.High++
		case "MEDIUM":
			c.Medium++
		case "LOW":
			c.Low++
		case "INFORMATIONAL":
			c.Informational++
		default:
			c.Untriaged++
		}
		c.Total++
	}
	return c
}
