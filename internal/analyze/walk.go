package analyze

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil/internal/distro"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
)

const (
	// maxSystemFile bounds the files kept for distribution detection.
	maxSystemFile = 64 << 10
	// maxWarnings bounds the warnings kept for one layer; a hostile
	// layer could otherwise produce one per entry.
	maxWarnings = 100
)

// walker reads one layer.
type walker struct {
	ctx    context.Context
	a      *Analyzer
	index  int
	diffID string
	tmp    string

	jobs *errgroup.Group

	mu      sync.Mutex // guards r.Files and r.Warnings during the walk
	r       *LayerResult
	dropped int
	// incomplete counts the warnings about wanted files, kept apart from
	// the others so that no flood of ordinary warnings can hide one.
	incomplete int
	dirs       map[string]bool // directories present, explicitly or not
	read       map[string]int64
	hardlink   []hardlink
}

type hardlink struct {
	path, target string
}

func newWalker(ctx context.Context, a *Analyzer, index int, diffID, tmp string) *walker {
	jobs, jctx := errgroup.WithContext(ctx)
	jobs.SetLimit(a.workers)
	return &walker{
		ctx: jctx, a: a, index: index, diffID: diffID, tmp: tmp, jobs: jobs,
		r: &LayerResult{
			DiffID:   diffID,
			System:   map[string][]byte{},
			Symlinks: map[string]string{},
		},
		dirs: map[string]bool{},
		read: map[string]int64{},
	}
}

func (w *walker) warn(p, format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.r.Warnings)-w.incomplete >= maxWarnings {
		w.dropped++
		return
	}
	w.r.Warnings = append(w.r.Warnings, Warning{Layer: w.index, DiffID: w.diffID, Path: p, Message: fmt.Sprintf(format, args...)})
}

// skipped records that a file wanted by what (a cataloger's name,
// "release", "ownership") was not fully assessed. The first maxWarnings of
// them are kept whatever else the layer produced.
func (w *walker) skipped(p, what, format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.incomplete >= maxWarnings {
		w.dropped++
		return
	}
	w.incomplete++
	w.r.Warnings = append(w.r.Warnings, Warning{Layer: w.index, DiffID: w.diffID, Path: p, Message: fmt.Sprintf(format, args...), Incomplete: what})
}

// tar walks a layer blob.
func (w *walker) tar(l *image.Layer) error {
	raw, err := l.Open(w.ctx)
	if err != nil {
		return err
	}
	defer raw.Close()
	var src io.Reader = raw
	if p := w.a.progress; p != nil {
		src = &countingReader{r: raw, n: &p.BytesRead}
	}
	zr, err := image.Decompress(src)
	if err != nil {
		return err
	}
	defer zr.Close()
	ahead := newPrefetcher(zr)
	defer ahead.Close()
	digest := sha256.New()
	counted := &countingWriter{w: digest}
	tail := &tailReader{r: io.TeeReader(ahead, counted)}
	tr := tar.NewReader(tail)
	last := ""
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return readError(last, err)
		}
		w.r.Count++
		last = hdr.Name
		if err := w.entry(tr, hdr); err != nil {
			return readError(last, err)
		}
	}
	if !tail.zeros() {
		w.warn("", "the layer ends without a tar end-of-archive marker: it may be truncated after entry %q", last)
	}
	// Whatever follows the end-of-archive marker is part of the blob
	// too: read it so that the digest covers the whole stream.
	if _, err := io.Copy(io.Discard, io.TeeReader(ahead, counted)); err != nil {
		return fmt.Errorf("read after end of archive: %w", err)
	}
	w.r.Bytes = counted.n
	sum := "sha256:" + hex.EncodeToString(digest.Sum(nil))
	if w.diffID == "" {
		w.diffID, w.r.DiffID = sum, sum
	} else if sum != w.diffID {
		return fmt.Errorf("diff-id mismatch: the image config says %s, the layer's content is %s", w.diffID, sum)
	}
	return nil
}

func readError(last string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("layer is truncated: %w", err)
	}
	if last == "" {
		return fmt.Errorf("read tar: %w", err)
	}
	return fmt.Errorf("read tar after entry %q: %w", last, err)
}

// entry handles one tar entry.
func (w *walker) entry(tr *tar.Reader, hdr *tar.Header) error {
	p, abs, ok := cleanEntry(hdr.Name)
	if !ok {
		if hdr.Name != "./" && hdr.Name != "." && hdr.Name != "/" {
			w.warn("", "entry %q climbs out of the layer root: skipped", hdr.Name)
		}
		return nil
	}
	if abs {
		w.warn(p, "entry name %q is absolute: read as relative to the root", hdr.Name)
	}
	if !utf8.ValidString(p) {
		w.warn(p, "entry name %q is not valid UTF-8", hdr.Name)
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, ".wh.") {
		switch {
		case base == ".wh..wh..opq":
			w.r.Opaques = append(w.r.Opaques, dir)
		case strings.HasPrefix(base, ".wh..wh."):
			// aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
		default:
			w.r.Whiteouts = append(w.r.Whiteouts, path.Join(dir, base[len(".wh."):]))
		}
		return nil
	}
	w.present(p, hdr.Typeflag == tar.TypeDir)

	mode := hdr.FileInfo().Mode()
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		w.r.Symlinks[p] = hdr.Linkname
		if _, escaped := resolveLink(p, hdr.Linkname); escaped {
			w.warn(p, "symbolic link to %q points outside the image root; resolved as if at the root", hdr.Linkname)
		}
	case tar.TypeLink:
		target, _, ok := cleanEntry(hdr.Linkname)
		switch {
		case !ok:
			w.warn(p, "hard link to %q climbs out of the layer root: skipped", hdr.Linkname)
		case target == p:
			w.warn(p, "hard link to itself: skipped")
		default:
			if size, ok := w.read[target]; ok && w.wanted(p, mode, size) {
				w.hardlink = append(w.hardlink, hardlink{p, target})
			} else if !ok && w.wanted(p, mode, 0) {
				w.warn(p, "hard link to %q, which is not an earlier file of this layer: skipped", target)
			}
		}
	case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
		return w.file(tr, nil, p, mode, hdr.Size)
	}
	return nil
}

// present records that path p exists in this layer, with its parent
// directories.
func (w *walker) present(p string, isDir bool) {
	w.r.Entries = append(w.r.Entries, hashPath(p))
	if isDir {
		w.dirs[p] = true
	} else {
		w.r.NonDirs = append(w.r.NonDirs, hashPath(p))
	}
	ancestors(p, func(d string) bool {
		if w.dirs[d] {
			return true
		}
		w.dirs[d] = true
		w.r.Entries = append(w.r.Entries, hashPath(d))
		return false
	})
}

func (w *walker) wanted(p string, mode fs.FileMode, size int64) bool {
	if distro.Wants(p) || w.owners(p) != nil {
		return true
	}
	for _, c := range w.a.catalogers {
		if c.Wants(p, mode, size) {
			return true
		}
	}
	return false
}

// file handles a regular file: nothing is read unless someone wants it.
//
// direct, when not nil, is the file itself on disk (a directory source):
// it is handed to the catalogers as it is, and closed when they are done.
func (w *walker) file(r io.Reader, direct *os.File, p string, mode fs.FileMode, size int64) error {
	closeDirect := func() {
		if direct != nil {
			direct.Close()
		}
	}
	if distro.Wants(p) {
		defer closeDirect()
		if size > maxSystemFile {
			w.skipped(p, "release", "%d bytes: too large for a release file, not read", size)
			return nil
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		w.r.System[p] = b
		return nil
	}
	var cats []Cataloger
	for _, c := range w.a.catalogers {
		if c.Wants(p, mode, size) {
			cats = append(cats, c)
		}
	}
	owners := w.owners(p)
	if len(cats) == 0 && len(owners) == 0 {
		closeDirect()
		return nil
	}
	if size > w.a.maxFile {
		closeDirect()
		w.skipped(p, wantedBy(cats, owners), "%d bytes: larger than the %d-byte limit, not read", size, w.a.maxFile)
		return nil
	}
	w.read[p] = size
	var (
		f       *File
		release func()
		err     error
	)
	if direct != nil {
		f = &File{Path: p, Mode: mode, Size: size, ra: direct, tmp: w.tempFile, dir: w.tmp}
		release = func() { direct.Close(); f.removeLocal() }
	} else if f, release, err = w.spool(r, p, mode, size); err != nil {
		return err
	}
	w.jobs.Go(func() error {
		defer release()
		w.catalog(f, cats)
		w.own(f, owners)
		return nil
	})
	return nil
}

// wantedBy names the catalogers (or file ownership) that wanted a file.
func wantedBy(cats []Cataloger, owners []Owner) string {
	var names []string
	for _, c := range cats {
		names = append(names, c.Name())
	}
	if len(owners) > 0 {
		names = append(names, "ownership")
	}
	return strings.Join(names, ",")
}

// spool makes the file's content readable at random: in memory when it is
// small and the memory budget allows, else in a temporary file.
func (w *walker) spool(r io.Reader, p string, mode fs.FileMode, size int64) (*File, func(), error) {
	f := &File{Path: p, Mode: mode, Size: size, tmp: w.tempFile, dir: w.tmp}
	if limit := w.spoolLimit(p, mode, size); limit >= 0 && size > limit {
		// Every cataloger wanting it would refuse it: neither memory nor
		// disk is spent on it, and they report it as too large.
		f.ra = unread{p, size, limit}
		return f, func() {}, nil
	}
	if size <= w.a.inMemoryMax {
		if err := w.a.memory.Acquire(w.ctx, size); err != nil {
			return nil, nil, err
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			w.a.memory.Release(size)
			return nil, nil, err
		}
		f.data, f.ra = b, bytes.NewReader(b)
		return f, func() { w.a.memory.Release(size); f.removeLocal() }, nil
	}
	t, err := w.tempFile()
	if err != nil {
		return nil, nil, err
	}
	n, err := io.Copy(t, r)
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		t.Close()
		os.Remove(t.Name())
		return nil, nil, err
	}
	f.ra, f.local, f.owned = t, t.Name(), true
	return f, func() { t.Close(); f.removeLocal() }, nil
}

func (w *walker) tempFile() (*os.File, error) {
	return os.CreateTemp(w.tmp, "file-*")
}

// catalog runs the catalogers on one file. A cataloger that fails, or
// even panics, costs a warning about that file, not the analysis.
func (w *walker) catalog(f *File, cats []Cataloger) {
	for _, c := range cats {
		pkgs, err := safeCatalog(w.ctx, c, f)
		if err != nil {
			w.skipped(f.Path, c.Name(), "%s: %v", c.Name(), err)
		}
		if len(pkgs) == 0 {
			continue
		}
		for i := range pkgs {
			if pkgs[i].Path == "" {
				pkgs[i].Path = "/" + f.Path
			}
			if pkgs[i].Cataloger == "" {
				pkgs[i].Cataloger = c.Name()
			}
		}
		w.mu.Lock()
		w.r.Files = append(w.r.Files, FileResult{Path: f.Path, Cataloger: c.Name(), Packages: pkgs})
		w.mu.Unlock()
	}
}

// owners returns the catalogers that read ownership from the file at p.
func (w *walker) owners(p string) []Owner {
	var out []Owner
	for _, c := range w.a.catalogers {
		if o, ok := c.(Owner); ok && o.WantsOwned(p) {
			out = append(out, o)
		}
	}
	return out
}

// own records which files the OS package manager says it installed.
func (w *walker) own(f *File, owners []Owner) {
	for _, o := range owners {
		owned, err := safeOwned(w.ctx, o, f)
		if err != nil {
			w.skipped(f.Path, "ownership", "file ownership: %v", err)
		}
		for _, ow := range owned {
			of := OwnedFiles{List: f.Path, Owner: ow.Owner}
			for _, p := range ow.Files {
				if c, _, ok := cleanEntry(p); ok {
					of.Files = append(of.Files, hashPath(c))
				}
			}
			of.Files.seal()
			w.mu.Lock()
			w.r.Owned = append(w.r.Owned, of)
			w.mu.Unlock()
		}
	}
}

func safeOwned(ctx context.Context, o Owner, f *File) (owned []Ownership, err error) {
	defer func() {
		if v := recover(); v != nil {
			owned, err = nil, fmt.Errorf("failed: %v\n%s", v, debug.Stack())
		}
	}()
	return o.Owned(ctx, f)
}

func safeCatalog(ctx context.Context, c Cataloger, f *File) (pkgs []inventory.Package, err error) {
	defer func() {
		if v := recover(); v != nil {
			pkgs, err = nil, fmt.Errorf("cataloger failed: %v\n%s", v, debug.Stack())
		}
	}()
	return c.Catalog(ctx, f)
}

// dir walks a root filesystem directory. Symbolic links are recorded, never
// followed; files are opened through an os.Root so that nothing outside the
// directory is read even if the tree changes during the walk.
func (w *walker) dir(root string) error {
	rt, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer rt.Close()
	err = fs.WalkDir(rt.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			w.warn(p, "%v", err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if cerr := w.ctx.Err(); cerr != nil {
			return cerr
		}
		if p == "." {
			return nil
		}
		if d.IsDir() && (p == "proc" || p == "sys" || p == "dev") {
			return fs.SkipDir
		}
		w.r.Count++
		if !utf8.ValidString(p) {
			w.warn(p, "file name %q is not valid UTF-8", p)
		}
		w.present(p, d.IsDir())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := rt.Readlink(p)
			if err != nil {
				w.warn(p, "%v", err)
				return nil
			}
			w.r.Symlinks[p] = target
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				w.warn(p, "%v", err)
				return nil
			}
			return w.dirFile(rt, p, info)
		}
		return nil
	})
	return err
}

func (w *walker) dirFile(rt *os.Root, p string, info fs.FileInfo) error {
	if !w.wanted(p, info.Mode(), info.Size()) {
		return nil
	}
	fh, err := rt.Open(p)
	if err != nil {
		w.warn(p, "%v", err)
		return nil
	}
	w.r.Bytes += info.Size()
	return w.file(fh, fh, p, info.Mode(), info.Size())
}

// finish waits for the layer's catalogers and seals the result.
func (w *walker) finish() (*LayerResult, error) {
	if err := w.jobs.Wait(); err != nil {
		return nil, err
	}
	r := w.r
	for _, h := range w.hardlink {
		for _, fr := range r.Files {
			if fr.Path != h.target {
				continue
			}
			c := FileResult{Path: h.path, Cataloger: fr.Cataloger}
			for _, pkg := range fr.Packages {
				pkg.Path = "/" + h.path + strings.TrimPrefix(pkg.Path, "/"+h.target)
				c.Packages = append(c.Packages, pkg)
			}
			r.Files = append(r.Files, c)
		}
	}
	if w.dropped > 0 {
		r.Warnings = append(r.Warnings, Warning{Layer: w.index, DiffID: w.diffID,
			Message: fmt.Sprintf("%d more warnings not shown", w.dropped)})
	}
	sort.Slice(r.Files, func(i, j int) bool {
		if r.Files[i].Path != r.Files[j].Path {
			return r.Files[i].Path < r.Files[j].Path
		}
		return r.Files[i].Cataloger < r.Files[j].Cataloger
	})
	r.Entries.seal()
	r.NonDirs.seal()
	sort.Slice(r.Owned, func(i, j int) bool {
		if r.Owned[i].List != r.Owned[j].List {
			return r.Owned[i].List < r.Owned[j].List
		}
		return r.Owned[i].Owner < r.Owned[j].Owner
	})
	sort.Strings(r.Whiteouts)
	sort.Strings(r.Opaques)
	return r, nil
}

// tailReader remembers the last bytes read through it, so that the walk can
// tell a tar stream that ends with its end-of-archive marker (two zero
// blocks) from one cut off between two entries, which archive/tar does not
// distinguish.
type tailReader struct {
	r    io.Reader
	tail [1024]byte
	n    int // valid bytes in tail (at its end)
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n >= len(t.tail) {
		copy(t.tail[:], p[n-len(t.tail):n])
		t.n = len(t.tail)
	} else if n > 0 {
		copy(t.tail[:], t.tail[n:])
		copy(t.tail[len(t.tail)-n:], p[:n])
		t.n = min(t.n+n, len(t.tail))
	}
	return n, err
}

// zeros reports whether the last 1024 bytes read were all zero.
func (t *tailReader) zeros() bool {
	if t.n < len(t.tail) {
		return false
	}
	for _, b := range t.tail {
		if b != 0 {
			return false
		}
	}
	return true
}

type countingReader struct {
	r io.Reader
	n interface{ Add(int64) int64 }
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
