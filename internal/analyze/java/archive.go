package java

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// walker catalogs one file and the archives nested in it. It counts what
// the limits bound across all levels, and collects the errors.
type walker struct {
	ctx     context.Context
	lim     limits
	tempDir string

	decompressed int64  // bytes decompressed so far
	held         uint64 // bytes of nested archives held in memory now
	archives     int    // nested archives opened so far
	stopped      bool   // a limit on the whole file was hit, or ctx is done
	errs         errList
}

// errBudget is returned by reads once the whole file's decompression
// budget is spent.
var errBudget = errors.New("decompression budget spent")

// archive returns the packages of the zip archive in ra, which is at loc
// ("/app.war" or "/app.war!/WEB-INF/lib/a.jar") and named fileName.
func (w *walker) archive(ra io.ReaderAt, size int64, loc, fileName string, depth int) []inventory.Package {
	zr, err := openZip(ra, size, w.lim.directory)
	if errors.Is(err, errNotZip) {
		return nil
	}
	if err != nil {
		w.fail(loc, err)
		return nil
	}
	if len(zr.File) > w.lim.entries {
		w.fail(loc, fmt.Errorf("%d entries, limit %d", len(zr.File), w.lim.entries))
		return nil
	}

	var (
		own      []inventory.Package
		manifest *zip.File
		nested   []*zip.File
	)
	for _, zf := range zr.File {
		if w.stopped {
			break
		}
		switch {
		case isPomProperties(zf.Name):
			p, err := w.pomPackage(zf)
			if err != nil {
				w.fail(loc, fmt.Errorf("%s: %w", zf.Name, err))
				continue
			}
			own = append(own, p)
		case strings.EqualFold(zf.Name, "META-INF/MANIFEST.MF"):
			// The JDK finds the manifest whatever its case; the
			// first one is the one it reads.
			if manifest == nil {
				manifest = zf
			}
		case isArchive(zf.Name) && !strings.HasSuffix(zf.Name, "/"):
			nested = append(nested, zf)
		}
	}
	if !w.stopped {
		p, err := w.manifestPackage(manifest, fileName)
		if err != nil {
			w.fail(loc, err)
		}
		if len(own) == 0 || p.Version != "" && !describedBy(p, own) {
			own = append(own, p)
		}
	}
	pkgs := dedupe(own)
	if depth > 0 {
		for i := range pkgs {
			pkgs[i].Path = loc
		}
	}

	for _, zf := range nested {
		if w.stopped {
			break
		}
		if err := w.ctx.Err(); err != nil {
			w.stop(loc, err)
			break
		}
		pkgs = append(pkgs, w.nested(ra, size, zf, loc, depth+1)...)
	}
	return pkgs
}

// nested returns the packages of the archive held in entry zf of the
// archive at loc; depth is the nested archive's level.
func (w *walker) nested(ra io.ReaderAt, size int64, zf *zip.File, loc string, depth int) []inventory.Package {
	inner := loc + "!/" + zf.Name
	if depth > w.lim.depth {
		w.fail(inner, fmt.Errorf("archive nested more than %d levels deep: not read", w.lim.depth))
		return nil
	}
	if w.archives >= w.lim.archives {
		w.stop(inner, fmt.Errorf("more than %d nested archives: the rest are not read", w.lim.archives))
		return nil
	}
	w.archives++
	r, n, release, err := w.openNested(ra, size, zf)
	if err != nil {
		w.fail(loc, fmt.Errorf("%s: %w", zf.Name, err))
		return nil
	}
	defer release()
	return w.archive(r, n, inner, path.Base(zf.Name), depth)
}

// openNested gives random access to the nested archive in zf. The caller
// calls release when done with it.
func (w *walker) openNested(ra io.ReaderAt, size int64, zf *zip.File) (r io.ReaderAt, n int64, release func(), err error) {
	off, err := zf.DataOffset()
	if err != nil {
		return nil, 0, nil, err
	}
	csize, usize := zf.CompressedSize64, zf.UncompressedSize64
	// Checking the compressed size against the real archive makes the
	// ratio check below a bound on what a declared size can make us
	// allocate.
	if off < 0 || off > size || csize > uint64(size-off) {
		return nil, 0, nil, fmt.Errorf("compressed data (%d bytes at %d) runs past the end of the archive", csize, off)
	}
	if zf.Method == zip.Store && csize == usize {
		// Stored as is, as Spring Boot and many wars keep their
		// libraries: read it in place.
		return io.NewSectionReader(ra, off, int64(usize)), int64(usize), func() {}, nil
	}
	if usize > w.lim.entry {
		return nil, 0, nil, fmt.Errorf("%d bytes uncompressed, limit %d", usize, w.lim.entry)
	}
	if csize == 0 && usize > 0 || csize > 0 && usize/csize > w.lim.ratio {
		return nil, 0, nil, fmt.Errorf("compression ratio of %d bytes to %d above %d:1 (zip bomb?)", csize, usize, w.lim.ratio)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, 0, nil, err
	}
	defer rc.Close()
	src := &budgetReader{r: rc, w: w}

	if usize <= w.lim.inMemory && w.held+usize <= w.lim.held {
		buf := make([]byte, usize)
		if err := readExactly(src, buf); err != nil {
			return nil, 0, nil, fmt.Errorf("reading %d declared bytes: %w", usize, w.readErr(err))
		}
		w.held += usize
		return bytes.NewReader(buf), int64(usize), func() { w.held -= usize }, nil
	}

	tmp, err := os.CreateTemp(w.tempDir, "vigil-java-*.jar")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("spool: %w", err)
	}
	release = func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	copied, err := io.Copy(tmp, src)
	if err == nil && uint64(copied) != usize {
		err = fmt.Errorf("%d bytes, %d declared", copied, usize)
	}
	if err != nil {
		release()
		return nil, 0, nil, fmt.Errorf("reading %d declared bytes: %w", usize, w.readErr(err))
	}
	return tmp, int64(usize), release, nil
}

// readExactly fills buf from r and checks that r ends there; reading to
// the end is also what makes archive/zip verify the checksum.
func readExactly(r io.Reader, buf []byte) error {
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	var one [1]byte
	for range 100 {
		n, err := r.Read(one[:])
		if n > 0 {
			return errors.New("longer than its declared size")
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// readSmall returns the content of zf, which must be at most max bytes.
func (w *walker) readSmall(zf *zip.File, max int64) ([]byte, error) {
	if zf.UncompressedSize64 > uint64(max) {
		return nil, fmt.Errorf("%d bytes, limit %d", zf.UncompressedSize64, max)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(&budgetReader{r: rc, w: w}, max+1))
	if err != nil {
		return nil, w.readErr(err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("more than %d bytes", max)
	}
	return data, nil
}

// readHead returns at most the first max+1 bytes of zf, for the manifest,
// of which only the first section matters.
func (w *walker) readHead(zf *zip.File, max int64) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(&budgetReader{r: rc, w: w}, max+1))
	if err != nil {
		return nil, w.readErr(err)
	}
	return data, nil
}

// readErr marks the walk stopped when err is the spent budget.
func (w *walker) readErr(err error) error {
	if errors.Is(err, errBudget) {
		w.stopped = true
		return fmt.Errorf("more than %d bytes decompressed in all: the rest is not read", w.lim.total)
	}
	return err
}

// budgetReader counts the bytes decompressed against the file's budget.
type budgetReader struct {
	r io.Reader
	w *walker
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.w.decompressed >= b.w.lim.total {
		return 0, errBudget
	}
	if left := b.w.lim.total - b.w.decompressed; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.r.Read(p)
	b.w.decompressed += int64(n)
	return n, err
}

func (w *walker) fail(loc string, err error) {
	w.errs = append(w.errs, fmt.Errorf("%s: %w", loc, err))
}

// stop records err and ends the walk of the whole file.
func (w *walker) stop(loc string, err error) {
	w.fail(loc, err)
	w.stopped = true
}

// errNotZip says that a file is not a zip archive at all.
var errNotZip = errors.New("not a zip archive")

// errDirectory is returned by reads beyond the central directory budget.
var errDirectory = errors.New("central directory too large")

// openZip opens the zip archive in ra. archive/zip keeps every directory
// entry in memory, so the bytes it may read while opening are capped.
func openZip(ra io.ReaderAt, size int64, maxDirectory int64) (*zip.Reader, error) {
	// Finding the end records reads up to 66 KiB besides the directory.
	cr := &cappedReaderAt{r: ra, left: maxDirectory + 67<<10}
	zr, err := zip.NewReader(cr, size)
	cr.left = -1
	// Entry names that would be unsafe to extract do not matter here:
	// nothing is extracted.
	if errors.Is(err, zip.ErrInsecurePath) {
		err = nil
	}
	switch {
	case err == nil:
		return zr, nil
	case errors.Is(err, errDirectory):
		return nil, fmt.Errorf("central directory larger than %d bytes", maxDirectory)
	case !looksLikeZip(ra, size):
		return nil, errNotZip
	}
	return nil, fmt.Errorf("unreadable zip archive (truncated or corrupt?): %w", err)
}

// looksLikeZip reports whether a local file header signature appears
// near the start of the content: at offset 0 for a plain zip, after a
// launcher script for an "executable" jar.
func looksLikeZip(ra io.ReaderAt, size int64) bool {
	head := make([]byte, min(size, 64<<10))
	n, _ := ra.ReadAt(head, 0)
	return bytes.Contains(head[:n], []byte("PK\x03\x04"))
}

// cappedReaderAt fails reads once left bytes have been read; left < 0
// means no cap.
type cappedReaderAt struct {
	r    io.ReaderAt
	left int64
}

func (c *cappedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if c.left >= 0 {
		if int64(len(p)) > c.left {
			return 0, errDirectory
		}
		c.left -= int64(len(p))
	}
	return c.r.ReadAt(p, off)
}

// describedBy reports whether one of the packages read from pom.properties
// is the archive that p describes from its manifest and file name: one
// with p's artifactId or version. The others are what the archive shades.
func describedBy(p inventory.Package, poms []inventory.Package) bool {
	_, artifact, ok := strings.Cut(p.Name, ":")
	if !ok {
		artifact = p.Name
	}
	for _, q := range poms {
		if q.Version == p.Version || strings.HasSuffix(q.Name, ":"+artifact) {
			return true
		}
	}
	return false
}

// dedupe drops repeats of the same name and version, keeping the first.
func dedupe(pkgs []inventory.Package) []inventory.Package {
	seen := make(map[string]bool, len(pkgs))
	out := pkgs[:0]
	for _, p := range pkgs {
		k := p.Name + "@" + p.Version
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}
