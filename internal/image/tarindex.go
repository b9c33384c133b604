package image

import (
	"archive/tar"
	"bytes"
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
// then be served as a section of the archive without extracting it.
type tarIndex struct {
	r       io.ReaderAt
	entries map[string]tarEntry
	// unterminated is set when the archive ends without its end-of-archive
	// zero block, as a truncated one does; archive/tar accepts that.
	unterminated bool
}

type tarEntry struct {
	offset, size int64
	link         string // for a symlink or hard link, the archive path it names
}

// indexTar reads the headers of the tar archive r of the given size. The
// tar reader seeks over file contents (a SectionReader is a Seeker), so
// indexing reads only the headers, and the position after each header is
// where that file's contents start.
func indexTar(r io.ReaderAt, size int64) (*tarIndex, error) {
	sr := io.NewSectionReader(r, 0, size)
	tr := tar.NewReader(sr)
	t := &tarIndex{r: r, entries: make(map[string]tarEntry)}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.unterminated = !endsWithZeroBlock(sr)
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		if len(t.entries) == maxTarEntries {
			return nil, fmt.Errorf("more than %d entries in the tar archive", maxTarEntries)
		}
		name := cleanTarPath(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			if isSparse(hdr) {
				// Its contents are not stored contiguously.
				return nil, fmt.Errorf("tar entry %q is a sparse file", hdr.Name)
			}
			off, err := sr.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			if hdr.Size > size-off {
				return nil, fmt.Errorf("tar entry %q: %d bytes run past the end of the archive (truncated?)", hdr.Name, hdr.Size)
			}
			t.entries[name] = tarEntry{offset: off, size: hdr.Size}
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
	return t, nil
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

// open returns the contents of the file name.
func (t *tarIndex) open(name string) (*io.SectionReader, error) {
	e, err := t.lookup(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(t.r, e.offset, e.size), nil
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
	data := make([]byte, e.size)
	// ReadAt may report io.EOF along with a full read at the end.
	if n, err := t.r.ReadAt(data, e.offset); n < len(data) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}
