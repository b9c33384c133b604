package analyze

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/vigilsec/vigil/internal/inventory"
)

// A Cataloger finds the packages of one ecosystem in the files that hold
// their metadata. The walk offers it every file for which Wants returns
// true and calls Catalog with the file's whole content.
//
// Catalogers must be safe for concurrent use: files of several layers are
// cataloged at once. A cataloger never sees a file's neighbours; whatever
// it reports comes from the one file it is given.
type Cataloger interface {
	// Name is short and stable ("dpkg", "npm"): it names the cataloger in
	// reports and in layer-cache keys.
	Name() string
	// Version changes whenever the cataloger's results for the same file
	// could change, so that cached layer results are not reused.
	Version() int
	// Wants reports whether Catalog should see the file at path, which is
	// clean, slash-separated, relative to the image root and never starts
	// with "/" ("var/lib/dpkg/status"). mode is the file's mode bits (a
	// regular file: only regular files are offered); size its length.
	Wants(path string, mode fs.FileMode, size int64) bool
	// Catalog returns the packages the file lists. Each package's Path is
	// set by the caller when left empty. A cataloger may return packages
	// together with an error that says what it could not read; the walk
	// keeps both. A file that turns out not to be of the cataloger's
	// kind (a shell script where a Go binary was hoped for) yields no
	// packages and no error.
	Catalog(ctx context.Context, f *File) ([]inventory.Package, error)
}

// File is one file of a layer, as offered to a cataloger. Its content can
// be read any number of times, sequentially or at random.
type File struct {
	// Path is clean and relative to the image root, as for Wants.
	Path string
	Mode fs.FileMode
	Size int64

	ra    io.ReaderAt
	data  []byte // when the content is held in memory
	local string // when the content is in a file on disk
	owned bool   // local is a temporary file of the walk's, to remove
	tmp   func() (*os.File, error)
	dir   string // the walk's private temporary directory
}

// NewFile returns a File over content held in memory. It is for tests and
// for catalogers that look inside archives.
func NewFile(path string, mode fs.FileMode, data []byte) *File {
	return &File{Path: path, Mode: mode, Size: int64(len(data)), ra: bytes.NewReader(data), data: data}
}

// OpenFile returns a File over a file on disk; the caller closes the
// returned closer when done.
func OpenFile(path, name string) (*File, io.Closer, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return &File{Path: path, Mode: st.Mode(), Size: st.Size(), ra: f, local: name}, f, nil
}

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) { return f.ra.ReadAt(p, off) }

// Reader returns a new reader over the whole content.
func (f *File) Reader() *io.SectionReader { return io.NewSectionReader(f.ra, 0, f.Size) }

// ErrTooLarge is returned by Bytes for content larger than asked for.
var ErrTooLarge = errors.New("file too large")

// Bytes returns the whole content, or ErrTooLarge if it is longer than max
// bytes. The slice must not be modified.
func (f *File) Bytes(max int64) ([]byte, error) {
	if f.Size > max {
		return nil, fmt.Errorf("%s: %d bytes, limit %d: %w", f.Path, f.Size, max, ErrTooLarge)
	}
	if f.data != nil {
		return f.data, nil
	}
	b := make([]byte, f.Size)
	if _, err := f.ra.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && f.Size == 0) {
		return nil, err
	}
	return b, nil
}

// LocalPath returns the name of a file on disk that holds the content,
// writing one into the walk's private temporary directory if needed. It is
// for libraries that only open files by name. The file is removed when the
// walk of the layer ends; callers must not modify it.
func (f *File) LocalPath() (string, error) {
	if f.local != "" {
		return f.local, nil
	}
	if f.tmp == nil {
		return "", errors.New("analyze: no temporary directory for " + f.Path)
	}
	t, err := f.tmp()
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(t, f.Reader()); err != nil {
		t.Close()
		return "", fmt.Errorf("analyze: spool %s: %w", f.Path, err)
	}
	if err := t.Close(); err != nil {
		return "", err
	}
	f.local, f.owned = t.Name(), true
	return f.local, nil
}

// TempDir returns a directory for temporary files that the walk owns and
// removes when the layer is done: a cataloger that must spool something
// (a nested archive, a database copy) writes there and nowhere else. It is
// os.TempDir() for a File made outside a walk.
func (f *File) TempDir() string {
	if f.dir == "" {
		return os.TempDir()
	}
	return f.dir
}

// removeLocal removes the temporary file holding the content, if the walk
// made one.
func (f *File) removeLocal() {
	if f.owned {
		os.Remove(f.local)
		f.local, f.owned = "", false
	}
}

// An Owner is a cataloger that also knows which files the OS package
// manager installed. A language package found in such a file belongs to
// the OS package (a Debian python3-requests, an Alpine py3-yaml): the
// distribution patches and tracks it, so it is matched through the OS
// package, not as a separate install.
type Owner interface {
	// WantsOwned reports whether the file at path lists installed files.
	WantsOwned(path string) bool
	// Owned returns who installed which files, from one such file. File
	// paths are clean and relative to the image root, like File.Path.
	Owned(ctx context.Context, f *File) ([]Ownership, error)
}

// Ownership is a set of files installed by one OS package.
type Ownership struct {
	// Owner names the package: "deb:python3-requests", "apk:py3-yaml".
	Owner string
	Files []string
}
