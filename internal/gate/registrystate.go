package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/store"
)

// TriggerDeleted decides a request whose image or tag was deleted from
// the registry.
const TriggerDeleted = "deleted"

// attestationPlatform is the platform BuildKit gives the attestation
// manifests it adds to an index: they are not images to run.
const attestationPlatform = "unknown/unknown"

// JudgePlatform is Judge for the image of one platform ("os/arch[/variant]")
// when digest is an index; with platform "" an index is judged by every
// image it holds. A single image of another platform than the one asked
// for is rejected.
func (g *Gate) JudgePlatform(ctx context.Context, repository, digest, platform string) (Judgement, error) {
	return g.judge(ctx, repository, digest, JudgeOptions{Platform: platform})
}

// judgeDeleted is the judgement on an image the store does not hold: a
// rejection when it was deleted from the registry, none (not pushed yet)
// otherwise.
func (g *Gate) judgeDeleted(ctx context.Context, j Judgement, repository, digest string) (Judgement, error) {
	d, err := g.Store.Deletion(ctx, repository, digest)
	if errors.Is(err, store.ErrNotFound) {
		return j, nil
	}
	if err != nil {
		return j, err
	}
	return deleted(j, fmt.Sprintf("the image %s@%s was deleted from the registry at %s", repository, digest, d.DeletedAt.Format("2006-01-02T15:04:05Z07:00"))), nil
}

func deleted(j Judgement, why string) Judgement {
	j.Ready, j.Trigger = true, TriggerDeleted
	j.Decision = store.Rejected
	j.Reason = "Rejected by policy " + j.Policy.Name + ": " + why
	j.Findings, j.Counts = nil, store.Counts{}
	return j
}

// tagDeleted overrides j with a rejection when r names its image by a tag
// that has since been deleted (and not pushed again): the reference the
// pipeline asked about no longer exists, even if the image does.
func (g *Gate) tagDeleted(ctx context.Context, r *store.GateRequest, j Judgement) (Judgement, error) {
	if r.Tag == "" || r.Digest == "" {
		return j, nil
	}
	d, err := g.Store.Deletion(ctx, r.Repository, r.Tag)
	if errors.Is(err, store.ErrNotFound) {
		return j, nil
	}
	if err != nil {
		return j, err
	}
	if d.Digest != r.Digest {
		return j, nil
	}
	if j.Policy.Name == "" {
		if j.Policy, err = g.policy(ctx, r.Repository); err != nil {
			return j, err
		}
	}
	return deleted(j, DeletedTagReason(d)), nil
}

// DeletedTagReason says that a tag was deleted.
func DeletedTagReason(d *store.Deletion) string {
	return fmt.Sprintf("the tag %s:%s (%s) was deleted from the registry at %s", d.Repository, d.Ref, d.Digest, d.DeletedAt.Format("2006-01-02T15:04:05Z07:00"))
}

// judgeIndex judges an index by the images it holds (those of platform
// when it is not ""): approved only when every one is, rejected when any
// is, not ready while any is not scanned yet.
func (g *Gate) judgeIndex(ctx context.Context, j Judgement, o JudgeOptions) (Judgement, error) {
	im := j.Image
	platform := o.Platform
	var kids []store.Child
	var platforms []string
	for _, c := range im.Children {
		if c.Platform == attestationPlatform {
			continue
		}
		platforms = append(platforms, c.Platform)
		if platform == "" || c.Platform == platform {
			kids = append(kids, c)
		}
	}
	j.Ready, j.Trigger = true, TriggerScan
	j.Findings, j.Counts = nil, store.Counts{}
	if len(kids) == 0 {
		j.Decision, j.Trigger = store.Rejected, TriggerUnsupport
		if platform != "" {
			j.Reason = fmt.Sprintf("Rejected by policy %s: the index %s@%s holds no image for %s (it holds %s)",
				j.Policy.Name, im.Repository, im.Digest, platform, strings.Join(platforms, ", "))
		} else {
			j.Reason = fmt.Sprintf("Rejected by policy %s: the index %s@%s holds no image", j.Policy.Name, im.Repository, im.Digest)
		}
		return j, nil
	}
	var rejected, approved []string
	for _, c := range kids {
		name := c.Platform
		if name == "" {
			name = c.Digest
		}
		if c.Image == nil {
			j.Decision, j.Trigger = store.Rejected, TriggerUnsupport
			rejected = append(rejected, name+": "+c.Digest+" is not in the repository")
			continue
		}
		co := o
		co.Platform, co.index = "", im.Digest
		cj, err := g.judge(ctx, im.Repository, c.Digest, co)
		if err != nil {
			return j, err
		}
		if j.DBVersion == "" {
			j.DBVersion = cj.DBVersion
		}
		if j.BaselineDigest == "" {
			j.BaselineDigest = cj.BaselineDigest
		}
		if !cj.Ready {
			return Judgement{Policy: j.Policy, Image: im}, nil // wait for every image's scan
		}
		j.Findings = append(j.Findings, cj.Findings...)
		addCounts(&j.Counts, cj.Counts)
		reason := strings.TrimPrefix(strings.TrimPrefix(cj.Reason, "Rejected by policy "+j.Policy.Name+": "), "Approved by policy "+j.Policy.Name+": ")
		if cj.Decision == store.Rejected {
			if len(rejected) == 0 {
				j.Trigger = cj.Trigger
			}
			rejected = append(rejected, name+": "+reason)
		} else {
			approved = append(approved, name)
		}
	}
	sortFindings(j.Findings)
	what := fmt.Sprintf("the index %s@%s", im.Repository, im.Digest)
	if len(rejected) > 0 {
		j.Decision = store.Rejected
		j.Reason = fmt.Sprintf("Rejected by policy %s: %s: %s", j.Policy.Name, what, strings.Join(rejected, "; "))
		return j, nil
	}
	j.Decision = store.Approved
	j.Reason = fmt.Sprintf("Approved by policy %s: every image of %s passes (%s)", j.Policy.Name, what, strings.Join(approved, ", "))
	if j.BaselineDigest != "" {
		j.Reason += fmt.Sprintf("; new findings only, compared with %s@%s", im.Repository, j.BaselineDigest)
	}
	return j, nil
}

// judgeOnePlatform rejects a single image of another platform than the
// one asked for.
func judgeOnePlatform(j Judgement, platform string) (Judgement, bool) {
	if platform == "" || j.Image.Platform == platform {
		return j, false
	}
	j.Ready, j.Trigger, j.Decision = true, TriggerUnsupport, store.Rejected
	j.Reason = fmt.Sprintf("Rejected by policy %s: %s@%s is an image for %s, not %s", j.Policy.Name, j.Image.Repository, j.Image.Digest, j.Image.Platform, platform)
	return j, true
}

func addCounts(a *store.Counts, b store.Counts) {
	a.Critical += b.Critical
	a.High += b.High
	a.Medium += b.Medium
	a.Low += b.Low
	a.Informational += b.Informational
	a.Untriaged += b.Untriaged
	a.Total += b.Total
}

// imageDeleted handles an "ECR Image Action" DELETE: the requests on the
// image are judged again, and those that named it by the deleted tag are
// rejected.
func (g *Gate) imageDeleted(ctx context.Context, d events.ImageAction) error {
	return g.imageChanged(ctx, d.RepositoryName, d.ImageDigest, true)
}

// Policy is the policy that applies to a repository.
func (g *Gate) Policy(ctx context.Context, repository string) (store.GatePolicy, error) {
	return g.policy(ctx, repository)
}
