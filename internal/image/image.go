// Package image opens container images from wherever they are kept — a
// registry, an OCI image layout, a docker-save or OCI archive, a root
// filesystem directory or tarball — and presents each the same way: its
// config and its layers, every layer a stream read once.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is an opened image. Close releases what opening it took (open
// files, temporary files).
type Image struct {
	// Name is the reference the image was opened with, as the user
	// gave it ("oci:/images/app:latest", "registry.local/app:1.0").
	Name string `json:"name"`
	// Transport says where the image came from: "registry", "oci",
	// "archive", "dir" or "rootfs".
	Transport string `json:"transport"`
	// Digest is the manifest digest, "sha256:…"; empty for a root
	// filesystem, which has no manifest.
	Digest    string `json:"digest,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	// ConfigDigest is the digest of the config blob.
	ConfigDigest string `json:"configDigest,omitempty"`
	// Config is the image configuration; for a root filesystem it is
	// synthesized and holds only the rootfs diff-ids that are known.
	Config *v1.ConfigFile `json:"-"`
	// Platform is "os/arch[/variant]" from the config, e.g. "linux/amd64".
	Platform string `json:"platform,omitempty"`
	// RepoTags and RepoDigests name the image as its source does
	// ("registry.local/app:1.0", "registry.local/app@sha256:…").
	RepoTags    []string `json:"repoTags,omitempty"`
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Layers are ordered from the base layer up.
	Layers []*Layer `json:"layers"`

	closers []func() error
}

// Layer is one layer of an image.
type Layer struct {
	// Index is the layer's position, 0 for the base layer.
	Index int `json:"index"`
	// Digest is the digest of the blob as stored (usually compressed),
	// as the manifest names it; empty when the source has none.
	Digest string `json:"digest,omitempty"`
	// DiffID is the digest of the uncompressed tar stream, as the config
	// names it; empty when unknown (a root filesystem tarball).
	DiffID    string `json:"diffId,omitempty"`
	MediaType string `json:"mediaType,omitempty"`
	// Size is the size of the stored blob in bytes, -1 if unknown.
	Size int64 `json:"size"`
	// CreatedBy is the config history's created_by for this layer.
	CreatedBy string `json:"createdBy,omitempty"`

	// Dir is set, and open is nil, for a root filesystem directory:
	// the layer is the directory tree itself.
	Dir string `json:"-"`

	open func(ctx context.Context) (io.ReadCloser, error)
}

// Open returns the layer blob as stored: compressed with gzip or zstd, or
// an uncompressed tar. Use Decompress to read the tar stream. Each call
// reads the blob anew; callers read it once.
func (l *Layer) Open(ctx context.Context) (io.ReadCloser, error) {
	if l.open == nil {
		return nil, errNoStream(l)
	}
	return l.open(ctx)
}

// Close releases the image's resources. It is safe to call more than once.
func (img *Image) Close() error {
	var first error
	for i := len(img.closers) - 1; i >= 0; i-- {
		if err := img.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	img.closers = nil
	return first
}

// Open opens the image that ref names:
//
//	oci:DIR[:TAG]          an OCI image layout directory
//	archive:FILE[:TAG]     a docker save tarball or an OCI archive, optionally gzip or zstd compressed
//	dir:PATH               a root filesystem directory
//	rootfs:FILE            a root filesystem tarball (.tar, .tar.gz, .tar.zst)
//	registry:REF, docker://REF or REF
//	                       a registry reference, "host/repo:tag" or "host/repo@sha256:…"
//
// Without a TAG a layout or archive must hold a single image. The prefixes
// are taken literally, so a registry host named "oci" or "dir" needs the
// registry: prefix. Close the image when done.
func Open(ctx context.Context, ref string, opts ...Option) (*Image, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	img, err := open(ctx, ref, o)
	if err != nil {
		return nil, fmt.Errorf("image: %s: %w", ref, err)
	}
	img.Name = ref
	return img, nil
}

func open(ctx context.Context, ref string, o *options) (*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec, ok := strings.CutPrefix(ref, "oci:"); ok {
		return openLayout(ctx, spec, o)
	}
	if spec, ok := strings.CutPrefix(ref, "archive:"); ok {
		return openArchive(ctx, spec, o)
	}
	if spec, ok := strings.CutPrefix(ref, "dir:"); ok {
		return openDir(spec)
	}
	if spec, ok := strings.CutPrefix(ref, "rootfs:"); ok {
		return openRootfs(spec)
	}
	if spec, ok := strings.CutPrefix(ref, "registry:"); ok {
		return openRegistry(ctx, spec, o)
	}
	if spec, ok := strings.CutPrefix(ref, "docker://"); ok {
		return openRegistry(ctx, spec, o)
	}
	return openRegistry(ctx, ref, o)
}

// splitPath splits "PATH[:TAG]" where PATH may itself hold colons: the
// whole spec if it exists, else the shortest prefix that is an existing
// directory (isDir) or file is the path and what follows its colon the tag.
func splitPath(spec string, isDir bool) (p, tag string, err error) {
	if spec == "" {
		return "", "", errors.New("empty path")
	}
	exists := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.IsDir() == isDir
	}
	if exists(spec) {
		return spec, "", nil
	}
	for i := range len(spec) {
		if spec[i] != ':' || !exists(spec[:i]) {
			continue
		}
		if tag = spec[i+1:]; tag == "" {
			return "", "", errors.New("empty tag after ':'")
		}
		return spec[:i], tag, nil
	}
	if _, err := os.Stat(spec); err != nil {
		return "", "", err
	}
	if isDir {
		return "", "", fmt.Errorf("%s is not a directory", spec)
	}
	return "", "", fmt.Errorf("%s is a directory, not a file", spec)
}

// errNoStream is the error of Open on a layer that is a directory.
func errNoStream(l *Layer) error {
	return fmt.Errorf("image: layer %d is the directory %s, not a stream; walk Layer.Dir instead", l.Index, l.Dir)
}
