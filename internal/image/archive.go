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
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// openArchive opens "FILE[:TAG]": a docker save tarball or an OCI archive
// (an OCI layout in a tar), possibly gzip- or zstd-compressed as a whole.
// The tar is indexed once and its files are served from it, never
// extracted. A docker save archive from Docker 25 or later is also an OCI
// layout, and is read as one for its real manifest digests.
func openArchive(ctx context.Context, spec string, o *options) (img *Image, err error) {
	file, tag, err := splitPath(spec, false)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", file)
	}
	kind, err := compression(bufio.NewReader(io.NewSectionReader(f, 0, fi.Size())))
	if err != nil {
		return nil, err
	}
	var t *tarIndex
	if kind == "tar" {
		t, err = indexTar(f, fi.Size())
	} else {
		t, err = indexStream(ctx, f, fi.Size())
	}
	if err != nil {
		return nil, err
	}
	t.file = file
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
		if img, err = openDockerSave(ctx, t, tag); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("neither an OCI archive nor a docker save archive: %w", t.missing("index.json or manifest.json"))
	}
	img.closers = []func() error{f.Close}
	return img, nil
}

// A compressed archive cannot be read at an offset without decompressing
// what comes before. Rather than expand it whole to a temporary file (a
// few MiB of gzip can hold many GiB of zeros, and the disk is then the
// limit), it is decompressed once to index it, keeping the small files
// (manifests, configs, the layout's index) in memory, and each large file
// (a layer) is then served by decompressing the archive again from its
// start up to that file. This costs CPU, a decompression of the archive
// up to each layer read, for no disk at all and memory bounded by
// maxKept; a layer is then read as a stream like any other.
const (
	// maxKeptFile is the largest file kept in memory from a compressed
	// archive; maxKept bounds them all together. Real manifests and
	// configs are KiB; a config with a long history a few hundred.
	maxKeptFile = 4 << 20
	maxKept     = 32 << 20
	// maxKeptHeads bounds the first bytes kept of the larger files,
	// which tell a layer's compression without decompressing the
	// archive again.
	maxKeptHeads = 4 << 20
)

// indexStream indexes the compressed tar archive f of the given size.
func indexStream(ctx context.Context, f *os.File, size int64) (*tarIndex, error) {
	src := streamSource{f: f, size: size}
	zr, err := decompress(io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	cr := &lastBlockReader{r: ctxReader{ctx, zr}}
	t := &tarIndex{src: src, entries: make(map[string]tarEntry)}
	kept, heads := int64(0), int64(0)
	keep := func(e *tarEntry, r io.Reader) error {
		var err error
		switch {
		case e.size <= maxKeptFile && kept+e.size <= maxKept:
			e.data = make([]byte, e.size)
			_, err = io.ReadFull(r, e.data)
			kept += e.size
		case heads+tarBlockSize <= maxKeptHeads:
			e.head = make([]byte, min(e.size, tarBlockSize))
			_, err = io.ReadFull(r, e.head)
			heads += int64(len(e.head))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("the archive is truncated: %w", err)
		}
		return err
	}
	if err := t.scan(cr, func() (int64, error) { return cr.n, nil }, -1, keep); err != nil {
		return nil, fmt.Errorf("decompress archive: %w", err)
	}
	t.unterminated = !cr.zeros()
	// The tar reader stops at the end-of-archive block; reading on to
	// the end of the compressed stream checks its CRC, which is what
	// catches a corrupted stream that still inflated.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, fmt.Errorf("decompress archive: %w", err)
	}
	return t, nil
}

// streamSource serves sections of a compressed archive by decompressing
// it from the start each time.
type streamSource struct {
	f    *os.File
	size int64
}

func (s streamSource) section(ctx context.Context, off, size int64) (io.ReadCloser, error) {
	zr, err := decompress(io.NewSectionReader(s.f, 0, s.size))
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, ctxReader{ctx, zr}, off); err != nil {
		zr.Close()
		return nil, fmt.Errorf("decompress archive up to offset %d: %w", off, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{ctxReader{ctx, io.LimitReader(zr, size)}, zr}, nil
}

// lastBlockReader counts the bytes read through it and remembers the last
// tar block of them, to tell an archive that ends with its end-of-archive
// block from one cut short.
type lastBlockReader struct {
	r    io.Reader
	n    int64
	last [tarBlockSize]byte
}

func (l *lastBlockReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n >= tarBlockSize {
		copy(l.last[:], p[n-tarBlockSize:n])
	} else if n > 0 {
		copy(l.last[:], l.last[n:])
		copy(l.last[tarBlockSize-n:], p[:n])
	}
	l.n += int64(n)
	return n, err
}

func (l *lastBlockReader) zeros() bool {
	return l.n >= tarBlockSize && bytes.Count(l.last[:], []byte{0}) == tarBlockSize
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

// where names the blob h and its place in the archive, for errors.
func (s tarStore) where(h v1.Hash) string {
	p, _ := blobPath(h)
	return fmt.Sprintf("blob %s (%s in %s)", h, p, s.t.file)
}

func (s tarStore) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := blobPath(d.Digest)
	if err != nil {
		return nil, err
	}
	rc, err := s.t.open(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where(d.Digest), err)
	}
	return verified(rc, d.Digest, d.Size, s.where(d.Digest))
}

func (s tarStore) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	rc, err := s.blob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := readVerified(rc, d, maxManifestSize)
	if err != nil && !errors.Is(err, errIntegrity) {
		err = fmt.Errorf("%s: %w", s.where(d.Digest), err)
	}
	return data, err
}

func (s tarStore) stat(h v1.Hash) (int64, error) {
	p, err := blobPath(h)
	if err != nil {
		return 0, err
	}
	e, err := s.t.lookup(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s is missing: %w", s.where(h), err)
	}
	return e.size, err
}

// openDockerSave opens an image of a docker save archive, whose
// manifest.json names a config file and layer tars but has no image
// manifest: the Image has no Digest, and a layer's Digest is known only
// when its name or its being stored uncompressed gives it. What is known
// of a file's digest is checked as it is read: the config (named for its
// digest) when the image is opened, each layer as it is streamed.
func openDockerSave(ctx context.Context, t *tarIndex, tag string) (*Image, error) {
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
	cfgDigest, _, err := v1.SHA256(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, err
	}
	if want, ok := namedDigest(desc.Config); ok && want != cfgDigest {
		return nil, fmt.Errorf("config %s in %s: named for digest %s, its content has %s: %w", desc.Config, t.file, want, cfgDigest, errIntegrity)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", desc.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(desc.Layers) {
		return nil, fmt.Errorf("manifest.json lists %d layers but the config lists %d diff_ids", len(desc.Layers), len(cfg.RootFS.DiffIDs))
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
		// The digest the file is checked against: the one its name
		// gives, or for an uncompressed layer its diff-id. A digest
		// from LayerSources may be that of a compressed form the
		// archive does not hold, so it is not.
		var check v1.Hash
		if !described {
			head, err := t.head(ctx, p, tarBlockSize)
			if err != nil {
				return nil, fmt.Errorf("layer %d (%s): %w", i, p, err)
			}
			if err := describeSaved(l, head, e.size, p); err != nil {
				return nil, fmt.Errorf("layer %d (%s): %w", i, p, err)
			}
			if l.Digest != "" {
				check, _ = v1.NewHash(l.Digest)
			}
		}
		if h, ok := namedDigest(p); ok {
			check = h
		}
		where := fmt.Sprintf("layer %d file %s in %s", i, p, t.file)
		l.open = func(ctx context.Context) (io.ReadCloser, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rc, err := t.open(ctx, p)
			if err != nil || check.Hex == "" {
				return rc, err
			}
			return verified(rc, check, e.size, where+" (digest "+check.String()+")")
		}
	}
	return img, nil
}

// namedDigest returns the sha256 digest that a docker save file is named
// for: a config "<hex>.json", a blob "blobs/sha256/<hex>".
func namedDigest(name string) (v1.Hash, bool) {
	p := cleanTarPath(name)
	hex, ok := strings.CutPrefix(p, "blobs/sha256/")
	if !ok {
		hex, ok = strings.CutSuffix(p, ".json")
	}
	if !ok || len(hex) != 64 || strings.Contains(hex, "/") {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash("sha256:" + hex)
	return h, err == nil
}

// describeSaved fills in what a docker save layer file tells of itself:
// its size, its compression as media type, and its digest when the file
// is named by it ("blobs/sha256/<hex>") or is stored uncompressed (then
// the stored blob is the layer tar, whose digest is the diff-id). head
// is the file's first bytes.
func describeSaved(l *Layer, head []byte, size int64, name string) error {
	l.Size = size
	kind, err := compression(bufio.NewReader(bytes.NewReader(head)))
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
	if h, ok := namedDigest(name); ok && strings.HasPrefix(cleanTarPath(name), "blobs/") {
		l.Digest = h.String()
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
