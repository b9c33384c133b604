package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Pushed describes a manifest that has just been stored.
type Pushed struct {
	Repository string
	Digest     string
	// MediaType is the manifest's media type, as the registry serves it.
	MediaType string
	// ArtifactType is the manifest's artifactType, or else its config's
	// media type ("application/vnd.oci.image.config.v1+json" for an image);
	// for an index, its artifactType if any.
	ArtifactType string
	ConfigDigest string
	// Tag is the tag pushed to, "" for a push by digest.
	Tag string
	// Size is the manifest's size in bytes.
	Size int64
	// Platform is "os/arch[/variant]" from an image's config; "" for an
	// index, for an artifact and for a config that does not parse.
	Platform string
	// Children are the manifest digests an index lists.
	Children []string
	// ChildPlatforms are, in the same order, the platforms
	// ("os/arch[/variant]") the index gives them, "" where it gives none.
	ChildPlatforms []string
	// Layers are an image manifest's layers, base first.
	Layers []Descriptor
	// Subject is the digest of the manifest this one refers to (a
	// signature, an SBOM, an attestation of an image), "" for none.
	Subject string
}

// Descriptor names a blob.
type Descriptor struct {
	MediaType string
	Digest    string
	Size      int64
}

// Media types the registry tells apart.
const (
	mediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mediaDockerConfig   = "application/vnd.docker.container.image.v1+json"
)

// maxConfigSize bounds an image config read into memory. Configs with
// long histories and many labels reach a few hundred KiB.
const maxConfigSize = 16 << 20

// manifestJSON is what Vigil reads of the four manifest formats, which
// share their field names.
type manifestJSON struct {
	MediaType    string           `json:"mediaType"`
	ArtifactType string           `json:"artifactType"`
	Config       *descriptorJSON  `json:"config"`
	Layers       []descriptorJSON `json:"layers"`
	Manifests    []descriptorJSON `json:"manifests"`
	Subject      *descriptorJSON  `json:"subject"`
}

type descriptorJSON struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	} `json:"platform"`
}

func isIndex(mediaType string, m *manifestJSON) bool {
	switch mediaType {
	case mediaOCIIndex, mediaDockerList:
		return true
	case mediaOCIManifest, mediaDockerManifest:
		return false
	}
	return m.Config == nil && m.Manifests != nil
}

// pushed describes the manifest d just stored for rt.
func (r *Registry) pushed(ctx context.Context, rt route, d string) (Pushed, error) {
	dg, err := digest.Parse(d)
	if err != nil {
		return Pushed{}, fmt.Errorf("registry: stored manifest has digest %q: %w", d, err)
	}
	repo, err := r.repository(ctx, rt.repository)
	if err != nil {
		return Pushed{}, err
	}
	mediaType, raw, err := manifest(ctx, repo, dg)
	if err != nil {
		return Pushed{}, err
	}
	var m manifestJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return Pushed{}, fmt.Errorf("registry: manifest %s: %w", dg, err)
	}
	p := Pushed{Repository: rt.repository, Digest: dg.String(), MediaType: mediaType, ArtifactType: m.ArtifactType, Size: int64(len(raw))}
	if !isDigest(rt.reference) {
		p.Tag = rt.reference
	}
	if m.Subject != nil {
		p.Subject = m.Subject.Digest.String()
	}
	if isIndex(mediaType, &m) {
		for _, c := range m.Manifests {
			p.Children = append(p.Children, c.Digest.String())
			pl := ""
			if c.Platform != nil {
				pl = platform(c.Platform.OS, c.Platform.Architecture, c.Platform.Variant)
			}
			p.ChildPlatforms = append(p.ChildPlatforms, pl)
		}
		return p, nil
	}
	for _, l := range m.Layers {
		p.Layers = append(p.Layers, Descriptor{MediaType: l.MediaType, Digest: l.Digest.String(), Size: l.Size})
	}
	if m.Config == nil {
		return p, nil
	}
	p.ConfigDigest = m.Config.Digest.String()
	if p.ArtifactType == "" {
		p.ArtifactType = m.Config.MediaType
	}
	if m.Config.MediaType == mediaOCIConfig || m.Config.MediaType == mediaDockerConfig {
		// A config that is too large or does not parse is the scanner's
		// to report; the push itself is valid. Failing to read it is not,
		// and the client's retry reads it again.
		raw, err := readConfig(ctx, repo, m.Config.Digest)
		if err != nil && !errors.Is(err, errConfigTooLarge) {
			return Pushed{}, err
		}
		var c struct{ OS, Architecture, Variant string }
		if err == nil && json.Unmarshal(raw, &c) == nil {
			p.Platform = platform(c.OS, c.Architecture, c.Variant)
		}
	}
	return p, nil
}

// platform is "os/arch[/variant]", or "" when os or arch is missing.
func platform(os, arch, variant string) string {
	if os == "" || arch == "" {
		return ""
	}
	if variant != "" {
		return os + "/" + arch + "/" + variant
	}
	return os + "/" + arch
}

// repository opens a repository of the registry's storage.
func (r *Registry) repository(ctx context.Context, name string) (distribution.Repository, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, fmt.Errorf("registry: repository %q: %w", name, err)
	}
	repo, err := r.storage.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("registry: repository %s: %w", name, err)
	}
	return repo, nil
}

// manifest reads a manifest and the media type it is served with.
func manifest(ctx context.Context, repo distribution.Repository, d digest.Digest) (string, []byte, error) {
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("registry: %w", err)
	}
	m, err := ms.Get(ctx, d)
	if errors.As(err, new(distribution.ErrManifestUnknownRevision)) {
		return "", nil, fmt.Errorf("%w: %s@%s", ErrNotFound, repo.Named().Name(), d)
	}
	if err != nil {
		return "", nil, fmt.Errorf("registry: manifest %s@%s: %w", repo.Named().Name(), d, err)
	}
	mediaType, raw, err := m.Payload()
	if err != nil {
		return "", nil, fmt.Errorf("registry: manifest %s@%s: %w", repo.Named().Name(), d, err)
	}
	return mediaType, raw, nil
}

var errConfigTooLarge = fmt.Errorf("registry: config larger than %d bytes", maxConfigSize)

// readConfig reads a config blob, at most maxConfigSize bytes of it.
func readConfig(ctx context.Context, repo distribution.Repository, d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("registry: config digest %q: %w", d, err)
	}
	rc, err := repo.Blobs(ctx).Open(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("registry: config %s: %w", d, err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("registry: config %s: %w", d, err)
	}
	if len(raw) > maxConfigSize {
		return nil, fmt.Errorf("%w: %s", errConfigTooLarge, d)
	}
	if got := d.Algorithm().FromBytes(raw); got != d {
		return nil, fmt.Errorf("registry: config %s: stored content has digest %s", d, got)
	}
	return raw, nil
}
