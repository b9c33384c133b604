package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// openLayout opens "DIR[:TAG]", an OCI image layout directory.
//
// The layout is read here rather than with ggcr's layout package so that
// a directory and an OCI archive (the same layout in a tar) go through
// one code path, with the same size limits and digest checks; ggcr's
// reads whole files unbounded and trusts them.
func openLayout(ctx context.Context, spec string, o *options) (*Image, error) {
	dir, tag, err := splitPath(spec, true)
	if err != nil {
		return nil, err
	}
	s := dirStore{dir: dir}
	if err := checkLayoutFile(s.readFile("oci-layout", maxManifestSize)); err != nil {
		return nil, err
	}
	indexJSON, err := s.readFile("index.json", maxManifestSize)
	if err != nil {
		return nil, err
	}
	return openOCI(ctx, s, indexJSON, tag, o, "oci")
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
type dirStore struct{ dir string }

var _ statter = dirStore{}

// path is where the blob h lives. h comes from a parsed descriptor, whose
// algorithm and hex v1.Hash has already validated, so it cannot name a
// path outside blobs/.
func (s dirStore) path(h v1.Hash) (string, error) {
	if h.Algorithm == "" || h.Hex == "" {
		return "", errors.New("descriptor without a digest")
	}
	return filepath.Join(s.dir, "blobs", h.Algorithm, h.Hex), nil
}

func (s dirStore) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.path(d.Digest)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

func (s dirStore) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	rc, err := s.blob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readVerified(rc, d, maxManifestSize)
}

func (s dirStore) stat(h v1.Hash) (int64, error) {
	p, err := s.path(h)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("blob %s is not a regular file", h)
	}
	return fi.Size(), nil
}

// readFile reads a file of the layout, at most limit bytes.
func (s dirStore) readFile(name string, limit int64) ([]byte, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
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
