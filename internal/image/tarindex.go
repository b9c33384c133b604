package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

const (
	// maxTarEntries bounds the index of an archive. A docker save
	// archive has three or four entries per layer, an OCI archive one
	// per blob: real ones have tens to hundreds.
	maxTarEntries = 100_000
	// maxLinkHops bounds the symlinks followed to find a file; docker
	// save links a repeated layer to its first copy, one hop.
	maxLinkHops = 8
)

// tarIndex locates the files of a tar archive, read once, so that each can
// then be served from the archive without extracting it.
type tarIndex struct {
	file    string // the archive's path, for errors
	src     sectionSource
	entries map[string]tarEntry
	// unterminated is set when the archive ends without its end-of-archive
	// zero block, as a truncated one does; archive/tar accepts that.
	unterminated bool
}

type tarEntry struct {
	offset, size int64
	link         string // for a symlink or hard link, the archive path it names
	// data is the whole content of a small file and head the first
	// bytes of a larger one, kept when the archive was indexed from a
	// stream that cannot be read at an offset cheaply.
	data, head []byte
}

// sectionSource reads size bytes at offset off of the (uncompressed) tar
// stream. The reader it returns may be short if the stream is.
type sectionSource interface {
	section(ctx context.Context, off, size int64) (io.ReadCloser, error)
}

// readerAtSource serves sections of an uncompressed archive file.
type readerAtSource struct{ r io.ReaderAt }

func (s readerAtSource) section(ctx context.Context, off, size int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return io.NopCloser(io.NewSectionReader(s.r, off, size)), nil
}

// indexTar reads the headers of the tar archive r of the given size. The
// tar reader seeks over file contents (a SectionReader is a Seeker), so
// indexing reads only the headers, and the position after each header is
// where that file's contents start.
func indexTar(r io.ReaderAt, size int64) (*tarIndex, error) {
	sr := io.NewSectionReader(r, 0, size)
	t := &tarIndex{src: readerAtSource{r}, entries: make(map[string]tarEntry)}
	err := t.scan(sr, func() (int64, error) { return sr.Seek(0, io.SeekCurrent) }, size, nil)
	if err != nil {
		return nil, err
	}
	t.unterminated = !endsWithZeroBlock(sr)
	return t, nil
}

// scan reads the tar headers from r, recording each entry at the position
// pos gives after its header. size, when not negative, is the archive's
// size, which no entry may run past. keep, when not nil, is offered each
// regular file's content reader to keep what it wants of it.
func (t *tarIndex) scan(r io.Reader, pos func() (int64, error), size int64, keep func(*tarEntry, io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read tar: the archive is truncated: %w", err)
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if len(t.entries) == maxTarEntries {
			return fmt.Errorf("more than %d entries in the tar archive", maxTarEntries)
		}
		name := cleanTarPath(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			if isSparse(hdr) {
				// Its contents are not stored contiguously.
				return fmt.Errorf("tar entry %q is a sparse file", hdr.Name)
			}
			off, err := pos()
			if err != nil {
				return err
			}
			if size >= 0 && hdr.Size > size-off {
				return fmt.Errorf("tar entry %q: %d bytes run past the end of the archive (truncated?)", hdr.Name, hdr.Size)
			}
			e := tarEntry{offset: off, size: hdr.Size}
			if keep != nil {
				if err := keep(&e, tr); err != nil {
					return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
				}
			}
			t.entries[name] = e
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(name), target)
			}
			t.entries[name] = tarEntry{link: cleanTarPath(target)}
		case tar.TypeLink:
			t.entries[name] = tarEntry{link: cleanTarPath(hdr.Linkname)}
		default:
			// Directories and the rest are not needed: names are
			// looked up whole.
			delete(t.entries, name)
		}
	}
}

// endsWithZeroBlock reports whether the block before the reader's
// position, where archive/tar stopped, is the zero block that ends an
// archive.
func endsWithZeroBlock(sr *io.SectionReader) bool {
	pos, err := sr.Seek(0, io.SeekCurrent)
	if err != nil || pos < tarBlockSize {
		return false
	}
	block := make([]byte, tarBlockSize)
	if _, err := sr.ReadAt(block, pos-tarBlockSize); err != nil {
		return false
	}
	return bytes.Count(block, []byte{0}) == tarBlockSize
}

// missing explains a file not found in the archive.
func (t *tarIndex) missing(name string) error {
	if t.unterminated {
		return fmt.Errorf("%s: %w in the archive, which ends without an end-of-archive block (truncated?)", name, fs.ErrNotExist)
	}
	return fmt.Errorf("%s: %w in the archive", name, fs.ErrNotExist)
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// cleanTarPath makes a tar name ("./manifest.json", "/blobs/x") the form
// it is looked up by ("manifest.json", "blobs/x"); ".." cannot climb out.
func cleanTarPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// lookup finds the regular file name, following links.
func (t *tarIndex) lookup(name string) (tarEntry, error) {
	p := cleanTarPath(name)
	for range maxLinkHops {
		e, ok := t.entries[p]
		if !ok {
			return tarEntry{}, t.missing(name)
		}
		if e.link == "" {
			return e, nil
		}
		p = e.link
	}
	return tarEntry{}, fmt.Errorf("%s: more than %d links to follow", name, maxLinkHops)
}

// open returns the contents of the file name, checked against its size
// as the archive gives it.
func (t *tarIndex) open(ctx context.Context, name string) (io.ReadCloser, error) {
	e, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	if e.data != nil || e.size == 0 {
		return io.NopCloser(bytes.NewReader(e.data)), nil
	}
	rc, err := t.src.section(ctx, e.offset, e.size)
	if err != nil {
		return nil, err
	}
	return &exactReader{r: rc, c: rc, left: e.size, name: name}, nil
}

// head returns the first bytes of the file name, at most n.
func (t *tarIndex) head(ctx context.Context, name string, n int) ([]byte, error) {
	e, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	switch {
	case e.data != nil:
		return e.data[:min(len(e.data), n)], nil
	case e.head != nil && (len(e.head) >= n || int64(len(e.head)) == e.size):
		return e.head[:min(len(e.head), n)], nil
	}
	rc, err := t.open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b := make([]byte, min(int64(n), e.size))
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// readFile reads the file name, at most limit bytes.
func (t *tarIndex) readFile(name string, limit int64) ([]byte, error) {
	e, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	if e.size > limit {
		return nil, fmt.Errorf("%s: %d bytes exceed the limit of %d", name, e.size, limit)
	}
	if e.data != nil {
		return e.data, nil
	}
	rc, err := t.open(context.Background(), name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data := make([]byte, e.size)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}

// exactReader reads a file of an archive that must hold exactly left more
// bytes: a source that ends early is a truncated archive, not a short file.
type exactReader struct {
	r    io.Reader
	c    io.Closer
	left int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) && e.left > 0 {
		return n, fmt.Errorf("%s: the archive ends %d bytes short of the file's end (truncated?): %w", e.name, e.left, io.ErrUnexpectedEOF)
	}
	if err == nil && e.left == 0 {
		err = io.EOF
	}
	return n, err
}

func (e *exactReader) Close() error { return e.c.Close() }
