package image

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// openArchive opens "FILE[:TAG]": a docker save tarball or an OCI archive
// (an OCI layout in a tar), possibly gzip- or zstd-compressed as a whole.
// The tar is indexed once and its files are served as sections of it,
// never extracted. A docker save archive from Docker 25 or later is also
// an OCI layout, and is read as one for its real manifest digests.
func openArchive(ctx context.Context, spec string, o *options) (img *Image, err error) {
	file, tag, err := splitPath(spec, false)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	closers := []func() error{f.Close}
	defer func() {
		if err != nil {
			for _, c := range slices.Backward(closers) {
				c()
			}
		}
	}()
	kind, err := compression(bufio.NewReader(f))
	if err != nil {
		return nil, err
	}
	if kind != "tar" {
		tmp, err := decompressToTemp(ctx, f)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() error {
			tmp.Close()
			return os.Remove(tmp.Name())
		})
		f = tmp
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t, err := indexTar(f, fi.Size())
	if err != nil {
		return nil, err
	}
	switch {
	case t.has("index.json"):
		if err := checkLayoutFile(t.readFile("oci-layout", maxManifestSize)); err != nil {
			return nil, err
		}
		indexJSON, err := t.readFile("index.json", maxManifestSize)
		if err != nil {
			return nil, err
		}
		img, err = openOCI(ctx, tarStore{t}, indexJSON, tag, o, "archive")
		if err != nil {
			return nil, err
		}
	case t.has("manifest.json"):
		if img, err = openDockerSave(t, tag); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("neither an OCI archive nor a docker save archive: %w", t.missing("index.json or manifest.json"))
	}
	img.closers = closers
	return img, nil
}

// decompressToTemp writes the decompressed archive f to a temporary file:
// blobs are served by offset, which a compressed stream cannot do. It
// takes disk, not memory, as much as the archive holds.
func decompressToTemp(ctx context.Context, f *os.File) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	rc, err := decompress(io.NewSectionReader(f, 0, fi.Size()))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "vigil-archive-*.tar")
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(tmp, ctxReader{ctx, rc}); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("decompress archive: %w", err)
	}
	return tmp, nil
}

// ctxReader stops a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (t *tarIndex) has(name string) bool {
	_, err := t.lookup(name)
	return err == nil
}

// tarStore reads an OCI layout held in a tar archive.
type tarStore struct{ t *tarIndex }

var _ statter = tarStore{}

func blobPath(h v1.Hash) (string, error) {
	if h.Algorithm == "" || h.Hex == "" {
		return "", errors.New("descriptor without a digest")
	}
	return "blobs/" + h.Algorithm + "/" + h.Hex, nil
}

func (s tarStore) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := blobPath(d.Digest)
	if err != nil {
		return nil, err
	}
	sr, err := s.t.open(p)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(sr), nil
}

func (s tarStore) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	rc, err := s.blob(ctx, d)
	if err != nil {
		return nil, err
	}
	return readVerified(rc, d, maxManifestSize)
}

func (s tarStore) stat(h v1.Hash) (int64, error) {
	p, err := blobPath(h)
	if err != nil {
		return 0, err
	}
	e, err := s.t.lookup(p)
	return e.size, err
}

// openDockerSave opens an image of a docker save archive, whose
// manifest.json names a config file and layer tars but has no image
// manifest: the Image has no Digest, and a layer's Digest is known only
// when its name or its being stored uncompressed gives it.
func openDockerSave(t *tarIndex, tag string) (*Image, error) {
	raw, err := t.readFile("manifest.json", maxManifestSize)
	if err != nil {
		return nil, err
	}
	var m tarball.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	desc, err := pickSaved(m, tag)
	if err != nil {
		return nil, err
	}
	cfgRaw, err := t.readFile(desc.Config, maxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", desc.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(desc.Layers) {
		return nil, fmt.Errorf("manifest.json lists %d layers but the config lists %d diff_ids", len(desc.Layers), len(cfg.RootFS.DiffIDs))
	}
	cfgDigest, _, err := v1.SHA256(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, err
	}
	img := &Image{
		Transport:    "archive",
		ConfigDigest: cfgDigest.String(),
		Config:       cfg,
		Platform:     configPlatform(cfg),
		RepoTags:     desc.RepoTags,
	}
	createdBy := layerHistory(cfg)
	for i, p := range desc.Layers {
		diffID := cfg.RootFS.DiffIDs[i]
		l := &Layer{Index: i, DiffID: diffID.String(), Size: -1, CreatedBy: createdBy[i]}
		img.Layers = append(img.Layers, l)
		// LayerSources gives the distribution descriptor of a foreign
		// layer (and, from Docker 25, of every layer).
		src, described := desc.LayerSources[diffID]
		if described {
			l.Digest, l.MediaType, l.Size = src.Digest.String(), string(src.MediaType), src.Size
		}
		e, err := t.lookup(p)
		if errors.Is(err, fs.ErrNotExist) && described && !src.MediaType.IsDistributable() {
			l.open = func(context.Context) (io.ReadCloser, error) {
				return nil, fmt.Errorf("image: %s: layer %d (%s): %w", img.Name, i, src.Digest, foreign(src, err))
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if !described {
			if err := describeSaved(l, io.NewSectionReader(t.r, e.offset, e.size), p); err != nil {
				return nil, fmt.Errorf("layer %d (%s): %w", i, p, err)
			}
		}
		l.open = func(ctx context.Context) (io.ReadCloser, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return io.NopCloser(io.NewSectionReader(t.r, e.offset, e.size)), nil
		}
	}
	return img, nil
}

// describeSaved fills in what a docker save layer file tells of itself:
// its size, its compression as media type, and its digest when the file
// is named by it ("blobs/sha256/<hex>") or is stored uncompressed (then
// the stored blob is the layer tar, whose digest is the diff-id).
func describeSaved(l *Layer, sr *io.SectionReader, name string) error {
	l.Size = sr.Size()
	kind, err := compression(bufio.NewReader(sr))
	if err != nil {
		return err
	}
	switch kind {
	case "tar":
		l.MediaType, l.Digest = string(types.DockerUncompressedLayer), l.DiffID
	case "gzip":
		l.MediaType = string(types.DockerLayer)
	case "zstd":
		l.MediaType = string(types.OCILayerZStd)
	}
	if hex, ok := strings.CutPrefix(cleanTarPath(name), "blobs/sha256/"); ok {
		if h, err := v1.NewHash("sha256:" + hex); err == nil {
			l.Digest = h.String()
		}
	}
	return nil
}

// pickSaved chooses the image of manifest.json whose RepoTags hold tag,
// or the only image when tag is empty.
func pickSaved(m tarball.Manifest, tag string) (*tarball.Descriptor, error) {
	var tags []string
	for _, d := range m {
		tags = append(tags, d.RepoTags...)
	}
	list := strings.Join(tags, ", ")
	if list == "" {
		list = "none"
	}
	switch {
	case len(m) == 0:
		return nil, errors.New("manifest.json lists no images")
	case tag == "" && len(m) == 1:
		return &m[0], nil
	case tag == "":
		return nil, fmt.Errorf("manifest.json lists %d images; add :TAG to choose one (tags: %s)", len(m), list)
	}
	for i := range m {
		for _, t := range m[i].RepoTags {
			if sameImageName(t, tag) {
				return &m[i], nil
			}
		}
	}
	return nil, fmt.Errorf("tag %q not found in manifest.json (tags: %s)", tag, list)
}
