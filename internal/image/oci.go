package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// maxManifestSize bounds a manifest or index read into memory. Real
	// ones are a few KiB; an index of a hundred platforms is ~50 KiB.
	maxManifestSize = 4 << 20
	// maxConfigSize bounds an image config. Configs with long histories
	// and many labels reach a few hundred KiB.
	maxConfigSize = 16 << 20
	// maxIndexDepth bounds indexes nested in indexes.
	maxIndexDepth = 4
)

// Annotations that name the images of an OCI layout's index.json.
const (
	annotationRefName       = "org.opencontainers.image.ref.name" // "latest", set by skopeo, umoci, ggcr
	annotationContainerName = "io.containerd.image.name"          // "docker.io/library/app:1.0", set by docker save ≥ 25
)

// store reads manifests and blobs by digest from where an image is kept:
// a layout directory, an archive or a registry repository.
type store interface {
	// manifest returns the raw manifest or index that d describes,
	// checked against d's size and digest.
	manifest(ctx context.Context, d v1.Descriptor) ([]byte, error)
	// blob opens the blob that d describes.
	blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)
}

// statter is a store that can tell cheaply whether a blob is present and
// how big it is: the local ones, whose missing or truncated layers are
// then reported when the image is opened rather than midway through a scan.
type statter interface {
	stat(h v1.Hash) (int64, error) // fs.ErrNotExist when absent
	where(h v1.Hash) string        // the blob and its place, for errors
}

// openOCI opens the image named tag (or the only image) in an OCI
// layout's index.json, read from s.
func openOCI(ctx context.Context, s store, indexJSON []byte, tag string, o *options, transport string) (*Image, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(indexJSON))
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	top, err := pickTagged(idx, tag, o.platform)
	if err != nil {
		return nil, err
	}
	d, raw, err := resolve(ctx, s, top, nil, o.platform)
	if err != nil {
		return nil, err
	}
	img, err := buildImage(ctx, s, d, raw, transport)
	if err != nil {
		return nil, err
	}
	if n := top.Annotations[annotationContainerName]; n != "" {
		img.RepoTags = []string{n}
	}
	return img, nil
}

// pickTagged chooses from a layout's index.json the manifest named tag, or
// the only one when tag is empty. Several manifests under one name (or
// several untagged ones) are taken as one image for several platforms.
func pickTagged(idx *v1.IndexManifest, tag string, p v1.Platform) (v1.Descriptor, error) {
	cands := idx.Manifests
	if tag != "" {
		cands = nil
		for _, m := range idx.Manifests {
			if m.Annotations[annotationRefName] == tag || sameImageName(m.Annotations[annotationContainerName], tag) {
				cands = append(cands, m)
			}
		}
		if len(cands) == 0 {
			return v1.Descriptor{}, fmt.Errorf("tag %q not found in index.json (tags: %s)", tag, listTags(idx))
		}
	}
	switch {
	case len(cands) == 0:
		return v1.Descriptor{}, errors.New("index.json lists no images")
	case len(cands) == 1:
		return cands[0], nil
	case tag == "" && listTags(idx) != "none":
		return v1.Descriptor{}, fmt.Errorf("index.json lists %d images; add :TAG to choose one (tags: %s)", len(cands), listTags(idx))
	}
	return pickPlatform(cands, p)
}

func listTags(idx *v1.IndexManifest) string {
	var tags []string
	for _, m := range idx.Manifests {
		if t := m.Annotations[annotationRefName]; t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return "none"
	}
	return strings.Join(tags, ", ")
}

// sameImageName reports whether two image names are the same once
// normalised ("app:1.0" and "docker.io/library/app:1.0" are).
func sameImageName(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	ta, err := name.NewTag(a, name.WeakValidation)
	if err != nil {
		return false
	}
	tb, err := name.NewTag(b, name.WeakValidation)
	return err == nil && ta.Name() == tb.Name()
}

// resolve follows d through indexes, choosing by platform, to an image
// manifest, and returns that manifest's descriptor and bytes. raw is d's
// manifest if the caller already has it.
func resolve(ctx context.Context, s store, d v1.Descriptor, raw []byte, p v1.Platform) (v1.Descriptor, []byte, error) {
	for depth := 0; ; depth++ {
		if raw == nil {
			var err error
			if raw, err = s.manifest(ctx, d); err != nil {
				return v1.Descriptor{}, nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
		}
		if d.MediaType == "" {
			d.MediaType = sniffMediaType(raw)
		}
		switch mt := d.MediaType; {
		case mt.IsImage():
			return d, raw, nil
		case mt.IsIndex():
			if depth == maxIndexDepth {
				return v1.Descriptor{}, nil, fmt.Errorf("indexes nested more than %d deep", maxIndexDepth)
			}
			idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
			if err != nil {
				return v1.Descriptor{}, nil, fmt.Errorf("index %s: %w", d.Digest, err)
			}
			if d, err = pickPlatform(idx.Manifests, p); err != nil {
				return v1.Descriptor{}, nil, err
			}
			raw = nil
		case mt.IsSchema1():
			return v1.Descriptor{}, nil, fmt.Errorf("manifest %s: Docker schema 1 manifests are not supported", d.Digest)
		default:
			return v1.Descriptor{}, nil, fmt.Errorf("manifest %s: unsupported media type %q", d.Digest, mt)
		}
	}
}

// sniffMediaType reads the media type of a manifest whose descriptor does
// not say it, as OCI allows: its mediaType field, else its shape.
func sniffMediaType(raw []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return types.OCIImageIndex
	case m.Config != nil:
		return types.OCIManifestSchema1
	}
	return ""
}

// pickPlatform chooses the manifest for platform p from an index. Entries
// for "unknown/unknown" (build attestations) are not images and are left
// out of the list the error gives.
func pickPlatform(ms []v1.Descriptor, p v1.Platform) (v1.Descriptor, error) {
	var avail []string
	for _, m := range ms {
		if m.MediaType != "" && !m.MediaType.IsImage() && !m.MediaType.IsIndex() {
			continue
		}
		if m.Platform == nil {
			// An index of one unlabelled image (umoci writes these)
			// has nothing to choose between.
			if len(ms) == 1 {
				return m, nil
			}
			continue
		}
		if m.Platform.OS == "unknown" {
			continue
		}
		if matchPlatform(p, *m.Platform) {
			return m, nil
		}
		avail = append(avail, platformString(*m.Platform))
	}
	if len(avail) == 0 {
		return v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index, which names no platforms", platformString(p))
	}
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index (it has %s)", platformString(p), strings.Join(avail, ", "))
}

// matchPlatform reports whether have satisfies want. An empty wanted
// variant matches any; a missing variant means the default one (v8 for
// arm64, v7 for arm), as Docker takes it.
func matchPlatform(want, have v1.Platform) bool {
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	return want.Variant == "" || variant(want) == variant(have)
}

func variant(p v1.Platform) string {
	switch {
	case p.Variant != "":
		return p.Variant
	case p.Architecture == "arm64":
		return "v8"
	case p.Architecture == "arm":
		return "v7"
	}
	return ""
}

// platformString formats p as "os/arch[/variant]", "" if p has no OS.
func platformString(p v1.Platform) string {
	if p.OS == "" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// buildImage makes the Image of the manifest raw, which d describes.
func buildImage(ctx context.Context, s store, d v1.Descriptor, raw []byte, transport string) (*Image, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if !m.Config.MediaType.IsConfig() {
		// Helm charts, signatures, attestations and other artifacts
		// share the manifest format.
		return nil, fmt.Errorf("manifest %s is not a container image: its config has media type %q", d.Digest, m.Config.MediaType)
	}
	rc, err := s.blob(ctx, m.Config)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	cfgRaw, err := readVerified(rc, m.Config, maxConfigSize)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest %s has %d layers but its config lists %d diff_ids", d.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &Image{
		Transport:    transport,
		Digest:       d.Digest.String(),
		MediaType:    string(d.MediaType),
		ConfigDigest: m.Config.Digest.String(),
		Config:       cfg,
		Platform:     configPlatform(cfg),
	}
	createdBy := layerHistory(cfg)
	st, _ := s.(statter)
	for i, ld := range m.Layers {
		l := &Layer{
			Index:     i,
			Digest:    ld.Digest.String(),
			DiffID:    cfg.RootFS.DiffIDs[i].String(),
			MediaType: string(ld.MediaType),
			Size:      ld.Size,
			CreatedBy: createdBy[i],
		}
		if st != nil {
			if err := checkBlob(st, l, ld); err != nil {
				return nil, err
			}
		}
		l.open = func(ctx context.Context) (io.ReadCloser, error) {
			rc, err := s.blob(ctx, ld)
			if err != nil {
				return nil, fmt.Errorf("image: %s: layer %d (%s): %w", img.Name, i, ld.Digest, foreign(ld, err))
			}
			return rc, nil
		}
		img.Layers = append(img.Layers, l)
	}
	return img, nil
}

// checkBlob reports a missing or wrongly sized layer blob of a local
// store. A missing foreign (non-distributable) layer is expected: such
// layers are fetched from their URLs by whoever runs the image, and only
// Open on it fails.
func checkBlob(st statter, l *Layer, d v1.Descriptor) error {
	size, err := st.stat(d.Digest)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !d.MediaType.IsDistributable():
		return nil
	case err != nil:
		return fmt.Errorf("layer %d: %w", l.Index, err)
	case size != d.Size:
		return fmt.Errorf("layer %d: %s has %d bytes, the manifest says %d (truncated?): %w", l.Index, st.where(d.Digest), size, d.Size, errIntegrity)
	}
	return nil
}

// foreign explains the failure to read a non-distributable layer, which
// Vigil does not fetch from the URLs its descriptor gives.
func foreign(d v1.Descriptor, err error) error {
	if d.MediaType.IsDistributable() {
		return err
	}
	return fmt.Errorf("foreign layer not stored with the image (its URLs %v are not fetched): %w", d.URLs, err)
}

// configPlatform is the config's "os/arch[/variant]".
func configPlatform(cfg *v1.ConfigFile) string {
	return platformString(v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant})
}

// layerHistory returns the created_by of each layer: the history entries
// that are not empty_layer, in order. When their count differs from the
// layers' (history is optional and some builders skip entries), pairing
// them would misattribute commands, so all are left empty.
func layerHistory(cfg *v1.ConfigFile) []string {
	n := len(cfg.RootFS.DiffIDs)
	var out []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			out = append(out, h.CreatedBy)
		}
	}
	if len(out) != n {
		return make([]string, n)
	}
	return out
}

// readVerified reads the blob d from r, at most limit bytes, and checks
// it against d's size and digest.
func readVerified(r io.Reader, d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, fmt.Errorf("size %d exceeds the limit of %d bytes", d.Size, limit)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	return data, verifyBytes(data, d, limit)
}

// verifyBytes checks data against the size and digest of d.
func verifyBytes(data []byte, d v1.Descriptor, limit int64) error {
	if int64(len(data)) > limit {
		return fmt.Errorf("larger than the limit of %d bytes", limit)
	}
	if int64(len(data)) != d.Size {
		return fmt.Errorf("%d bytes, the descriptor says %d", len(data), d.Size)
	}
	h, err := v1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return fmt.Errorf("digest %q: %w", d.Digest, err)
	}
	h.Write(data)
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != d.Digest.Hex {
		return fmt.Errorf("content has digest %s:%s, not %s", d.Digest.Algorithm, got, d.Digest)
	}
	return nil
}
