package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/registry"
	"github.com/vigilsec/vigil/internal/store"
)

// authorizeRegistry checks a registry request's token: any role may pull,
// admin and pipeline tokens may push, admin tokens may delete.
func (s *Server) authorizeRegistry(r *http.Request, action, repository string) error {
	p, err := s.auth.Authenticate(r)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return registry.ErrUnauthenticated
		}
		return err
	}
	need := auth.Read
	switch action {
	case "push":
		need = auth.Push
	case "delete":
		need = auth.Write
	}
	if action != "pull" && isDatabaseArtifact(repository, "") {
		// Every scanner that pulls the database trusts what is there.
		need = auth.Write
	}
	if !auth.Allowed(p.Role, need) {
		return registry.ErrForbidden
	}
	return nil
}

// imageConfigTypes are the config media types of container images: only
// manifests with one of these are scanned.
var imageConfigTypes = map[string]bool{
	"application/vnd.oci.image.config.v1+json":       true,
	"application/vnd.docker.container.image.v1+json": true,
}

// onPush records a pushed manifest before the registry acknowledges it:
// the image, its tag, the "ECR Image Action" event, a coverage event and
// the scan job, in one transaction.
func (s *Server) onPush(ctx context.Context, p registry.Pushed) error {
	if isDatabaseArtifact(p.Repository, p.ArtifactType) {
		return nil
	}
	if isReferrer(p) {
		return s.onPushReferrer(ctx, p)
	}
	now := time.Now().UTC()
	push := store.Push{
		Repository: p.Repository, Digest: p.Digest, MediaType: p.MediaType, ArtifactType: p.ArtifactType,
		ConfigDigest: p.ConfigDigest, Tag: p.Tag, Size: p.Size, Platform: p.Platform, At: now,
		Children: children(p),
	}
	action, err := s.emitter.PushEvent("PUSH", events.ImageAction{
		RepositoryName: p.Repository, ImageDigest: p.Digest, ImageTag: p.Tag,
		ManifestMediaType: p.MediaType, ArtifactMediaType: p.ArtifactType,
	})
	if err != nil {
		return err
	}
	push.Events = append(push.Events, action)
	if scannable(p) {
		cov, err := s.emitter.CoverageEvent(p.Repository, p.Digest, events.CoverageActive, events.ReasonPending)
		if err != nil {
			return err
		}
		push.Events = append(push.Events, cov)
		push.Job = &store.Job{Kind: store.JobScan, Repository: p.Repository, Digest: p.Digest, CreatedAt: now}
	}
	if err := s.store.RecordPush(ctx, push); err != nil {
		return err
	}
	if push.Job != nil {
		s.poke()
		return nil
	}
	// Not an image Vigil can scan: say so at once, so that nobody waits
	// for a scan that will not come. (If this fails the push is not
	// acknowledged, and the client's retry records both again.)
	msg := "not a container image (config " + p.ArtifactType + ")"
	if len(p.Children) > 0 {
		msg = "an image index: each of its images is scanned on its own"
	}
	cov, err := s.emitter.CoverageEvent(p.Repository, p.Digest, events.CoverageInactive, reasonUnsupportedMedia)
	if err != nil {
		return err
	}
	return s.store.UpdateImage(ctx, store.ImageUpdate{Repository: p.Repository, Digest: p.Digest, ScanStatus: store.ScanUnsupported,
		ScanReason: reasonUnsupportedMedia, ScanMessage: msg, ScannedAt: now}, []store.Event{cov})
}

// reasonUnsupportedMedia is Inspector's coverage reason for artifacts that
// are not scannable images.
const reasonUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE"

// scannable reports whether a manifest is a container image (an index is
// scanned through its images, which are pushed as manifests of their own).
func scannable(p registry.Pushed) bool {
	return len(p.Children) == 0 && (imageConfigTypes[p.ArtifactType] || p.ArtifactType == "" && strings.Contains(p.MediaType, "manifest"))
}

// onDelete records a deleted manifest: its tags go, its findings close,
// and an "ECR Image Action" DELETE is sent for each tag it had (one without
// a tag when it had none).
func (s *Server) onDelete(ctx context.Context, repository, digest string) error {
	im, err := s.store.Image(ctx, repository, digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil // never recorded, or already deleted: nothing to close
	}
	if err != nil {
		return err
	}
	evs, err := s.deleteEvents(im)
	if err != nil {
		return err
	}
	err = s.store.RecordDelete(ctx, repository, digest, time.Now().UTC(), evs)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile by another request
	}
	return err
}

// onPull notes a pull, best-effort, for rescan durations counted from the
// last pull.
func (s *Server) onPull(repository, digest string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.store.RecordPull(ctx, repository, digest, time.Now().UTC()); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("recording a pull", "repository", repository, "digest", digest, "err", err)
		}
	}()
}
