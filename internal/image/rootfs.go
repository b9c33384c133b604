package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// rootfsConfig is the config of an image that has none: a root file
// system, whose diff-ids are unknown and whose platform is not guessed.
func rootfsConfig() *v1.ConfigFile {
	return &v1.ConfigFile{RootFS: v1.RootFS{Type: "layers"}}
}

// openDir opens a root filesystem directory as a one-layer image whose
// layer is the directory itself.
func openDir(spec string) (*Image, error) {
	if spec == "" {
		return nil, errors.New("empty path")
	}
	dir, err := filepath.Abs(spec)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", spec)
	}
	return &Image{
		Transport: "dir",
		Config:    rootfsConfig(),
		Layers:    []*Layer{{Index: 0, Size: -1, Dir: dir}},
	}, nil
}

// openRootfs opens a root filesystem tarball (plain, gzip or zstd) as a
// one-layer image. The layer's Digest is the sha256 of the file as
// stored, computed here: one sequential read, cheap beside the analysis
// that reads the file again. Its DiffID would need the decompressed
// stream hashed too and is left unknown.
func openRootfs(spec string) (*Image, error) {
	if spec == "" {
		return nil, errors.New("empty path")
	}
	file, err := filepath.Abs(spec)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", spec)
	}
	if err := checkTar(f); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	digest, size, err := v1.SHA256(f)
	if err != nil {
		return nil, err
	}
	return &Image{
		Transport: "rootfs",
		Config:    rootfsConfig(),
		Layers: []*Layer{{
			Index:  0,
			Digest: digest.String(),
			Size:   size,
			open: func(ctx context.Context) (io.ReadCloser, error) {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				return os.Open(file)
			},
		}},
	}, nil
}

// checkTar checks that r is a tar archive, compressed or not, by reading
// its first header: a wrong file is reported now, not in the middle of
// a scan.
func checkTar(r io.Reader) error {
	rc, err := decompress(r)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := tar.NewReader(rc).Next(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("not a tar archive: %w", err)
	}
	return nil
}
