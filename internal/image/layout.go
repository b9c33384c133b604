package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// openLayout opens "DIR[:TAG]", an OCI image layout directory.
//
// The layout is read here rather than with ggcr's layout package so that
// a directory and an OCI archive (the same layout in a tar) go through
// one code path, with the same size limits and digest checks; ggcr's
// reads whole files unbounded and trusts them. Files are opened through
// an os.Root, so that a symbolic link in the layout cannot make Vigil
// read a file outside it.
func openLayout(ctx context.Context, spec string, o *options) (img *Image, err error) {
	dir, tag, err := splitPath(spec, true)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			root.Close()
		}
	}()
	s := dirStore{dir: dir, root: root}
	if err := checkLayoutFile(s.readFile("oci-layout", maxManifestSize)); err != nil {
		return nil, err
	}
	indexJSON, err := s.readFile("index.json", maxManifestSize)
	if err != nil {
		return nil, err
	}
	if img, err = openOCI(ctx, s, indexJSON, tag, o, "oci"); err != nil {
		return nil, err
	}
	img.closers = append(img.closers, root.Close)
	return img, nil
}

// checkLayoutFile checks the oci-layout file, which marks a directory
// (or archive) as an OCI image layout.
func checkLayoutFile(data []byte, err error) error {
	if err != nil {
		return fmt.Errorf("not an OCI image layout: %w", err)
	}
	var l struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(data, &l); err != nil {
		return fmt.Errorf("oci-layout: %w", err)
	}
	if l.Version != "1.0.0" {
		return fmt.Errorf("oci-layout: unsupported imageLayoutVersion %q", l.Version)
	}
	return nil
}

// dirStore reads an OCI image layout directory.
type dirStore struct {
	dir  string
	root *os.Root // dir, which nothing read may leave
}

var _ statter = dirStore{}

// rel is where the blob h lives, relative to the layout. h comes from a
// parsed descriptor, whose algorithm and hex v1.Hash has already
// validated, so it cannot name a path outside blobs/.
func (s dirStore) rel(h v1.Hash) (string, error) {
	if h.Algorithm == "" || h.Hex == "" {
		return "", errors.New("descriptor without a digest")
	}
	return filepath.Join("blobs", h.Algorithm, h.Hex), nil
}

// where names the blob h and its file, for errors.
func (s dirStore) where(h v1.Hash) string {
	rel, _ := s.rel(h)
	return fmt.Sprintf("blob %s (%s)", h, filepath.Join(s.dir, rel))
}

func (s dirStore) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.openBlob(d.Digest)
	if err != nil {
		return nil, err
	}
	return verified(f, d.Digest, d.Size, s.where(d.Digest))
}

// openBlob opens the file of blob h, which must be a regular file inside
// the layout (a FIFO would block, a device or a link out of the layout
// read what is not the image's).
func (s dirStore) openBlob(h v1.Hash) (*os.File, error) {
	if _, err := s.stat(h); err != nil {
		return nil, err
	}
	rel, err := s.rel(h)
	if err != nil {
		return nil, err
	}
	f, err := s.root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where(h), err)
	}
	return f, nil
}

func (s dirStore) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.openBlob(d.Digest)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readVerified(f, d, maxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where(d.Digest), err)
	}
	return data, nil
}

func (s dirStore) stat(h v1.Hash) (int64, error) {
	rel, err := s.rel(h)
	if err != nil {
		return 0, err
	}
	fi, err := s.root.Stat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s is missing: %w", s.where(h), fs.ErrNotExist)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.where(h), err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", s.where(h))
	}
	return fi.Size(), nil
}

// readFile reads a file of the layout, at most limit bytes.
func (s dirStore) readFile(name string, limit int64) ([]byte, error) {
	fi, err := s.root.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Join(s.dir, name))
	}
	f, err := s.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than the limit of %d bytes", name, limit)
	}
	return data, nil
}
