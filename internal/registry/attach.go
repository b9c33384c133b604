package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Artifact is a document Vigil attaches to an image as a referrer: an
// OCI artifact manifest (artifactType, the empty config, one layer) whose
// subject is the image, as `oras attach` makes them.
type Artifact struct {
	// ArtifactType is the manifest's artifactType and, unless MediaType
	// says otherwise, its layer's media type.
	ArtifactType string
	MediaType    string
	// Title names the layer (org.opencontainers.image.title), as a file
	// name clients save it under.
	Title   string
	Content []byte
	// Created is when the document was made; of two attachments of one
	// kind, the later replaces the earlier.
	Created time.Time
}

// AttachedBy is the annotation that marks the referrers Vigil attaches;
// its value is the artifact type they replace each other by.
const AttachedBy = "dev.vigil.attached"

// emptyJSON is the OCI empty descriptor's content.
var emptyJSON = []byte("{}")

// Attach stores a as a referrer of the manifest subject of repository and
// removes the referrers of the same artifact type that Attach stored
// earlier (others' referrers are never touched). It returns the new
// manifest's digest. The subject must be in the repository.
func (r *Registry) Attach(ctx context.Context, repository, subject string, a Artifact) (string, error) {
	sd, err := digest.Parse(subject)
	if err != nil {
		return "", fmt.Errorf("registry: attach: subject %q: %w", subject, err)
	}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return "", err
	}
	subjectType, subjectRaw, err := manifest(ctx, repo, sd)
	if err != nil {
		return "", err
	}
	mediaType := a.MediaType
	if mediaType == "" {
		mediaType = a.ArtifactType
	}
	created := a.Created.UTC().Format(time.RFC3339Nano)
	blobs := repo.Blobs(ctx)
	cfg, err := blobs.Put(ctx, ocispec.MediaTypeEmptyJSON, emptyJSON)
	if err != nil {
		return "", fmt.Errorf("registry: attach to %s@%s: %w", repository, sd, err)
	}
	layer, err := blobs.Put(ctx, mediaType, a.Content)
	if err != nil {
		return "", fmt.Errorf("registry: attach to %s@%s: %w", repository, sd, err)
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: a.ArtifactType,
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: cfg.Digest, Size: cfg.Size, Data: emptyJSON},
		Layers: []ocispec.Descriptor{{MediaType: mediaType, Digest: layer.Digest, Size: layer.Size,
			Annotations: map[string]string{ocispec.AnnotationTitle: a.Title}}},
		Subject:     &ocispec.Descriptor{MediaType: subjectType, Digest: sd, Size: int64(len(subjectRaw))},
		Annotations: map[string]string{ocispec.AnnotationCreated: created, AttachedBy: a.ArtifactType},
	}
	body, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("registry: attach: %w", err)
	}
	dm, _, err := distribution.UnmarshalManifest(ocispec.MediaTypeImageManifest, body)
	if err != nil {
		return "", fmt.Errorf("registry: attach: %w", err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	d, err := ms.Put(ctx, dm)
	if err != nil {
		return "", fmt.Errorf("registry: attach to %s@%s: %w", repository, sd, err)
	}
	_, desc, _ := referrerDescriptor(ocispec.MediaTypeImageManifest, body)
	desc.Digest = d
	if err := r.recordReferrer(ctx, repository, sd, desc); err != nil {
		return "", err
	}
	// Replace what was attached before; a later attachment (another
	// worker's) is left for it to replace this one.
	list, err := r.referrers(ctx, repository, sd)
	if err != nil {
		return "", err
	}
	for _, old := range list {
		if old.Digest == d || old.Annotations[AttachedBy] != a.ArtifactType || old.Annotations[ocispec.AnnotationCreated] > created {
			continue
		}
		if err := ms.Delete(ctx, old.Digest); err != nil && !errors.Is(err, distribution.ErrBlobUnknown) {
			return "", fmt.Errorf("registry: replacing %s@%s: %w", repository, old.Digest, err)
		}
		if err := r.forgetReferrer(ctx, repository, sd, old.Digest); err != nil {
			return "", err
		}
	}
	if err := r.syncFallbackTag(ctx, repository, sd); err != nil {
		return "", err
	}
	return d.String(), nil
}
