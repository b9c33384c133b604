package registry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// These methods let Vigil store an artifact of its own (its vulnerability
// database) straight into the registry's storage, as a push would, but
// without going through HTTP, authorization or the push hooks: the
// artifact is not an image and is not recorded as one.

// HasBlob reports whether the repository already holds the blob.
func (r *Registry) HasBlob(ctx context.Context, repository, dgst string) (bool, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return false, fmt.Errorf("registry: blob digest %q: %w", dgst, err)
	}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return false, err
	}
	_, err = repo.Blobs(ctx).Stat(ctx, d)
	switch {
	case errors.Is(err, distribution.ErrBlobUnknown):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("registry: blob %s@%s: %w", repository, d, err)
	}
	return true, nil
}

// PutBlob stores size bytes read from content as the blob dgst; the
// storage refuses content whose digest is not dgst.
func (r *Registry) PutBlob(ctx context.Context, repository, dgst, mediaType string, size int64, content io.Reader) error {
	d, err := digest.Parse(dgst)
	if err != nil {
		return fmt.Errorf("registry: blob digest %q: %w", dgst, err)
	}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return err
	}
	w, err := repo.Blobs(ctx).Create(ctx)
	if err != nil {
		return fmt.Errorf("registry: blob %s@%s: %w", repository, d, err)
	}
	if _, err := io.Copy(w, io.LimitReader(content, size+1)); err != nil {
		w.Cancel(ctx)
		return fmt.Errorf("registry: blob %s@%s: %w", repository, d, err)
	}
	if _, err := w.Commit(ctx, ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: size}); err != nil {
		w.Cancel(ctx)
		return fmt.Errorf("registry: blob %s@%s: %w", repository, d, err)
	}
	return nil
}

// PutManifest stores a manifest whose blobs are in the repository and
// points each tag at it; it returns the manifest's digest.
func (r *Registry) PutManifest(ctx context.Context, repository, mediaType string, raw []byte, tags ...string) (string, error) {
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return "", err
	}
	m, desc, err := distribution.UnmarshalManifest(mediaType, raw)
	if err != nil {
		return "", fmt.Errorf("registry: manifest for %s: %w", repository, err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	d, err := ms.Put(ctx, m)
	if err != nil {
		return "", fmt.Errorf("registry: manifest %s@%s: %w", repository, desc.Digest, err)
	}
	for _, t := range tags {
		if err := repo.Tags(ctx).Tag(ctx, t, ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(raw))}); err != nil {
			return "", fmt.Errorf("registry: tag %s:%s: %w", repository, t, err)
		}
	}
	return d.String(), nil
}

// Manifest returns the manifest a tag or digest names in the repository,
// with its media type; an error wrapping ErrNotFound when there is none.
func (r *Registry) Manifest(ctx context.Context, repository, reference string) (string, []byte, error) {
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return "", nil, err
	}
	d, err := digest.Parse(reference)
	if err != nil {
		desc, terr := repo.Tags(ctx).Get(ctx, reference)
		if errors.As(terr, new(distribution.ErrTagUnknown)) {
			return "", nil, fmt.Errorf("%w: %s:%s", ErrNotFound, repository, reference)
		}
		if terr != nil {
			return "", nil, fmt.Errorf("registry: tag %s:%s: %w", repository, reference, terr)
		}
		d = desc.Digest
	}
	return manifest(ctx, repo, d)
}
