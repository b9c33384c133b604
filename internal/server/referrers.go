package server

import (
	"context"
	"time"

	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/registry"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/web"
	"github.com/vigilsec/vigil/internal/worker"
)

// isReferrer reports whether a pushed manifest belongs to another: it has
// a subject (a signature, an SBOM, an attestation of an image), or it is
// the tag schema's index of an image's referrers. Such a manifest is not
// an image: it is not recorded with the images, scanned or listed; the
// registry's referrers API lists it under its image.
func isReferrer(p registry.Pushed) bool {
	return p.Subject != "" || registry.IsFallbackTag(p.Tag) && len(p.Children) > 0
}

// onPushReferrer records the push of a referrer: its "ECR Image Action"
// event alone.
func (s *Server) onPushReferrer(ctx context.Context, p registry.Pushed) error {
	ev, err := s.emitter.PushEvent("PUSH", events.ImageAction{
		RepositoryName: p.Repository, ImageDigest: p.Digest, ImageTag: p.Tag,
		ManifestMediaType: p.MediaType, ArtifactMediaType: p.ArtifactType,
	})
	if err != nil {
		return err
	}
	return s.store.AppendEvents(ctx, []store.Event{ev})
}

// referrers lists the artifacts attached to an image in the registry.
func (s *Server) referrers(ctx context.Context, repository, digest, artifactType string) ([]api.Referrer, error) {
	ds, err := s.registry.Referrers(ctx, repository, digest, artifactType)
	if err != nil {
		return nil, err
	}
	out := make([]api.Referrer, 0, len(ds))
	for _, d := range ds {
		out = append(out, api.Referrer{Digest: d.Digest.String(), MediaType: d.MediaType, ArtifactType: d.ArtifactType, Size: d.Size, Annotations: d.Annotations})
	}
	return out, nil
}

// reattach queues the attachment of fresh OpenVEX documents to the images
// whose findings a triage change touched.
func (s *Server) reattach(ctx context.Context, images map[[2]string]bool) {
	now := time.Now().UTC()
	added := false
	for k := range images {
		ok, err := s.store.EnqueueJob(ctx, store.Job{Kind: worker.JobAttach, Repository: k[0], Digest: k[1], CreatedAt: now})
		if err != nil {
			s.log.Warn("queueing the OpenVEX update of an image", "repository", k[0], "digest", k[1], "err", err)
			continue
		}
		added = added || ok
	}
	if added {
		s.poke()
	}
}

// attachments lists an image's referrers for the console.
func (s *Server) attachments(ctx context.Context, repository, digest string) ([]web.Attachment, error) {
	ds, err := s.registry.Referrers(ctx, repository, digest, "")
	if err != nil {
		return nil, err
	}
	out := make([]web.Attachment, 0, len(ds))
	for _, d := range ds {
		out = append(out, web.Attachment{Digest: d.Digest.String(), MediaType: d.MediaType, ArtifactType: d.ArtifactType, Size: d.Size, Annotations: d.Annotations})
	}
	return out, nil
}
