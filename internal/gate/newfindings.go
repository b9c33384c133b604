package gate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigilsec/vigil/internal/baseline"
	"github.com/vigilsec/vigil/internal/store"
)

// JudgeOptions narrow or pin a judgement.
type JudgeOptions struct {
	// Platform judges the image of one platform of an index (see
	// JudgePlatform).
	Platform string
	// Stage is the stage the image is judged for: under a policy's
	// newFindingsOnly its findings are compared with those of the last
	// image approved for that stage.
	Stage string
	// DBVersion, when set, judges findings matched again from the
	// image's stored inventory against that kept database version
	// instead of the stored findings.
	DBVersion string

	// index is the index an image is judged as part of: it is no
	// predecessor of its own images.
	index string
}

// ErrDBVersion is wrapped by the error of a judgement pinned to a
// database version that is not kept.
var ErrDBVersion = errors.New("gate: database version not kept")

// Rematcher matches an image's stored inventory again against a kept
// database version, giving the findings it would have, suppression
// rules applied, as the store holds findings, and the image as that
// match would leave it (its scan reason and message: its coverage).
type Rematcher interface {
	Rematch(ctx context.Context, im *store.Image, dbVersion string) ([]store.Finding, *store.Image, error)
}

// JudgeWith is Judge with options.
func (g *Gate) JudgeWith(ctx context.Context, repository, digest string, o JudgeOptions) (Judgement, error) {
	return g.judge(ctx, repository, digest, o)
}

// imageFindings are the findings an image is judged by, the database
// version they were matched with, and the image as judged: with a pinned
// version, its coverage is that version's.
func (g *Gate) imageFindings(ctx context.Context, im *store.Image, o JudgeOptions) ([]store.Finding, string, *store.Image, error) {
	if o.DBVersion == "" {
		fs, err := g.findings(ctx, im.Repository, im.Digest)
		return fs, im.DBVersion, im, err
	}
	if g.Rematcher == nil {
		return nil, "", nil, fmt.Errorf("%w: this server keeps no database versions", ErrDBVersion)
	}
	fs, as, err := g.Rematcher.Rematch(ctx, im, o.DBVersion)
	return fs, o.DBVersion, as, err
}

// newOnly leaves out, under p's newFindingsOnly, the findings the last
// image of the repository approved for the stage had too: the same
// vulnerability id in a package of the same name (the id alone, since an
// advisory's related ids, such as the DSA that fixed several CVEs, are
// not the same vulnerability). It returns the findings that count, the
// approved image they were compared with ("" for none) and a clause for
// the reason.
func (g *Gate) newOnly(ctx context.Context, p store.GatePolicy, im *store.Image, o JudgeOptions, fs []store.Finding) ([]store.Finding, string, string, error) {
	if !p.NewFindingsOnly {
		return fs, "", "", nil
	}
	stage := o.Stage
	exclude := []string{im.Digest}
	if o.index != "" {
		exclude = append(exclude, o.index)
	}
	prev, err := g.Store.LastApproved(ctx, im.Repository, stage, exclude...)
	if errors.Is(err, store.ErrNotFound) {
		return fs, "", fmt.Sprintf("new findings only, but no other image of %s was approved for stage %q: every finding counted", im.Repository, stage), nil
	}
	if err != nil {
		return nil, "", "", err
	}
	before, err := g.predecessorFindings(ctx, im, prev.Digest)
	if err != nil {
		return nil, "", "", err
	}
	var had baseline.Set
	for _, f := range before {
		had.Add(f.PackageName, f.VulnerabilityID)
	}
	var out []store.Finding
	open, added := 0, 0
	for _, f := range fs {
		if f.Status != store.Closed {
			open++
		}
		if !had.Has(f.PackageName, f.VulnerabilityID) {
			out = append(out, f)
			if f.Status != store.Closed {
				added++
			}
		}
	}
	note := fmt.Sprintf("new findings only: %d of %d not in %s@%s, approved for stage %q at %s",
		added, open, im.Repository, prev.Digest, stage, prev.DecidedAt.UTC().Format(time.RFC3339))
	return out, prev.Digest, note, nil
}

// predecessorFindings are the findings of the approved image digest: of
// an index, those of its images for im's platform (of every image when
// none is for it).
func (g *Gate) predecessorFindings(ctx context.Context, im *store.Image, digest string) ([]store.Finding, error) {
	prev, err := g.Store.Image(ctx, im.Repository, digest)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(prev.Children) == 0) {
		return g.findings(ctx, im.Repository, digest) // a deleted image's findings stay, closed
	}
	if err != nil {
		return nil, err
	}
	var kids []string
	for _, c := range prev.Children {
		if c.Platform == im.Platform {
			kids = append(kids, c.Digest)
		}
	}
	if len(kids) == 0 {
		for _, c := range prev.Children {
			kids = append(kids, c.Digest)
		}
	}
	var all []store.Finding
	for _, k := range kids {
		fs, err := g.findings(ctx, im.Repository, k)
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	return all, nil
}
