package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/registry"
	"github.com/vigilsec/vigil/internal/store"
)

// children are the manifests a pushed index lists.
func children(p registry.Pushed) []store.Child {
	var out []store.Child
	for i, d := range p.Children {
		c := store.Child{Digest: d}
		if i < len(p.ChildPlatforms) {
			c.Platform = p.ChildPlatforms[i]
		}
		out = append(out, c)
	}
	return out
}

// deleteEvents are the "ECR Image Action" DELETE events of a deleted
// image: ECR names the tag deleted, so one per tag, or one without a tag
// for an untagged image.
func (s *Server) deleteEvents(im *store.Image) ([]store.Event, error) {
	tags := im.Tags
	if len(tags) == 0 {
		tags = []string{""}
	}
	var evs []store.Event
	for _, t := range tags {
		ev, err := s.emitter.PushEvent("DELETE", events.ImageAction{RepositoryName: im.Repository, ImageDigest: im.Digest,
			ImageTag: t, ManifestMediaType: im.MediaType, ArtifactMediaType: im.ArtifactType})
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// onUntag records a deleted tag: it goes from the store at once, with an
// "ECR Image Action" DELETE naming it. The image it named stays, as it
// stays in the registry, pullable by digest.
func (s *Server) onUntag(ctx context.Context, repository, tag, digest string) error {
	a := events.ImageAction{RepositoryName: repository, ImageDigest: digest, ImageTag: tag}
	if digest == "" {
		// A retry after a failed record: the store still knows the tag.
		im, err := s.store.ImageByTag(ctx, repository, tag)
		if errors.Is(err, store.ErrNotFound) {
			return nil // never recorded, or recorded already
		}
		if err != nil {
			return err
		}
		a.ImageDigest = im.Digest
	}
	if im, err := s.store.Image(ctx, repository, a.ImageDigest); err == nil {
		a.ManifestMediaType, a.ArtifactMediaType = im.MediaType, im.ArtifactType
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ev, err := s.emitter.PushEvent("DELETE", a)
	if err != nil {
		return err
	}
	err = s.store.RecordUntag(ctx, repository, tag, time.Now().UTC(), []store.Event{ev})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// beforeDelete refuses to delete a manifest that an index in the same
// repository lists, as ECR does.
func (s *Server) beforeDelete(ctx context.Context, repository, digest string) error {
	idx, err := s.store.IndexesOf(ctx, repository, digest)
	if err != nil {
		return err
	}
	if len(idx) > 0 {
		return &registry.ReferencedError{Repository: repository, Digest: digest, Index: idx[0]}
	}
	return nil
}

// warnNoDatabase says at start, naming the command that fixes it, that
// without a vulnerability database no image can be scanned.
func (s *Server) warnNoDatabase() {
	if !s.dbs.built().IsZero() {
		return
	}
	msg := "no vulnerability database: every scan fails (and says so) until one is installed"
	if s.cfg.DBUpdate > 0 {
		msg = "no vulnerability database yet: scans fail (and say so) until the first download, every " + s.cfg.DBUpdate.String() + ", has built one"
	}
	s.log.Warn(msg, "db-dir", s.cfg.DBDir,
		"fix", "run `vigil db update --db-dir "+s.cfg.DBDir+"`, or `vigil db import --db-dir "+s.cfg.DBDir+" DIR` on a host without Internet access")
}

// upgradeGateRule gives a built-in gate rule written before deletions
// reached the gate (its pattern routed only pushes) the current pattern,
// so that deleted images are judged again on installations that predate
// it. A rule an admin changed is left as it is.
func (s *Server) upgradeGateRule(ctx context.Context, now time.Time) error {
	r, err := s.store.EventRule(ctx, GateRuleName)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.ManagedBy != "builtin" || !samePattern(r.EventPattern, pushOnlyGatePattern) {
		return nil
	}
	up := gateRule(now)
	up.CreatedAt, up.State, up.Targets = r.CreatedAt, r.State, r.Targets
	if err := s.store.PutEventRule(ctx, up); err != nil {
		return fmt.Errorf("server: upgrading the built-in rule: %w", err)
	}
	return nil
}

// pushOnlyGatePattern is the built-in rule's pattern before deletions
// were routed to the gate.
const pushOnlyGatePattern = `{"$or":[{"detail-type":["Inspector2 Scan"],"source":["aws.inspector2"]},` +
	`{"detail":{"scanStatus":{"statusCodeValue":["INACTIVE"]}},"detail-type":["Inspector2 Coverage"],"source":["aws.inspector2"]},` +
	`{"detail":{"action-type":["PUSH"]},"detail-type":["ECR Image Action"],"source":["aws.ecr"]}]}`

// samePattern compares two JSON patterns by value.
func samePattern(a json.RawMessage, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
