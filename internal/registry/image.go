package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/vigilsec/vigil/internal/image"
)

// Image opens the image that a manifest digest names in a repository,
// straight from storage, for scanning without going through HTTP. Each
// layer's Open reads its blob from storage. It returns an error wrapping
// ErrNotFound when the repository holds no such manifest, and an error for
// an index (open each of its images instead) or an artifact that is not a
// container image.
func (r *Registry) Image(ctx context.Context, repository, dgst string) (*image.Image, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return nil, fmt.Errorf("registry: image digest %q: %w", dgst, err)
	}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return nil, err
	}
	mediaType, raw, err := manifest(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	name := repository + "@" + d.String()
	var m manifestJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("registry: manifest %s: %w", name, err)
	}
	switch {
	case isIndex(mediaType, &m):
		return nil, fmt.Errorf("registry: %s is an image index; open each of its %d images instead", name, len(m.Manifests))
	case m.Config == nil || m.Config.MediaType != mediaOCIConfig && m.Config.MediaType != mediaDockerConfig:
		ct := ""
		if m.Config != nil {
			ct = m.Config.MediaType
		}
		return nil, fmt.Errorf("registry: %s is not a container image: its config has media type %q", name, ct)
	}
	cfgRaw, err := readConfig(ctx, repo, m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("registry: %s: %w", name, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("registry: %s: config %s: %w", name, m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("registry: %s: manifest has %d layers but its config lists %d diff_ids", name, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &image.Image{
		Name:         name,
		Transport:    "registry",
		Digest:       d.String(),
		MediaType:    mediaType,
		ConfigDigest: m.Config.Digest.String(),
		Config:       cfg,
		Platform:     platform(cfg.OS, cfg.Architecture, cfg.Variant),
		RepoDigests:  []string{name},
	}
	createdBy := layerHistory(cfg)
	for i, ld := range m.Layers {
		if err := ld.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("registry: %s: layer %d: %w", name, i, err)
		}
		l := image.Layer{
			Index:     i,
			Digest:    ld.Digest.String(),
			DiffID:    cfg.RootFS.DiffIDs[i].String(),
			MediaType: ld.MediaType,
			Size:      ld.Size,
			CreatedBy: createdBy[i],
		}
		img.Layers = append(img.Layers, image.NewLayer(l, func(ctx context.Context) (io.ReadCloser, error) {
			// The repository is opened anew so that the blob is read
			// under the caller's context, not the one Image had.
			repo, err := r.repository(ctx, repository)
			if err != nil {
				return nil, err
			}
			rc, err := repo.Blobs(ctx).Open(ctx, ld.Digest)
			if err != nil {
				return nil, fmt.Errorf("registry: %s: layer %d (%s): %w", name, i, ld.Digest, err)
			}
			return rc, nil
		}))
	}
	return img, nil
}

// layerHistory returns each layer's created_by: the history entries that
// are not empty_layer, in order. When their count differs from the
// layers' (history is optional), pairing them would misattribute
// commands, so all are left empty.
func layerHistory(cfg *v1.ConfigFile) []string {
	var out []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			out = append(out, h.CreatedBy)
		}
	}
	if len(out) != len(cfg.RootFS.DiffIDs) {
		return make([]string, len(cfg.RootFS.DiffIDs))
	}
	return out
}

// Blob opens a blob of a repository straight from storage, with its size.
// It returns an error wrapping ErrNotFound when the repository holds no
// such blob.
func (r *Registry) Blob(ctx context.Context, repository, dgst string) (io.ReadCloser, int64, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return nil, 0, fmt.Errorf("registry: blob digest %q: %w", dgst, err)
	}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return nil, 0, err
	}
	desc, err := repo.Blobs(ctx).Stat(ctx, d)
	if errors.Is(err, distribution.ErrBlobUnknown) {
		return nil, 0, fmt.Errorf("%w: blob %s@%s", ErrNotFound, repository, d)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("registry: blob %s@%s: %w", repository, d, err)
	}
	rc, err := repo.Blobs(ctx).Open(ctx, d)
	if err != nil {
		return nil, 0, fmt.Errorf("registry: blob %s@%s: %w", repository, d, err)
	}
	return rc, desc.Size, nil
}
