package analyze

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
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
	// maxLayerPaths bounds the paths (entries, the directories they
	// imply, whiteouts and opaque directories) a layer result records,
	// 16 bytes each: 32 MiB at most, kept on disk during the walk. Real
	// layers hold a few hundred thousand; past the bound, what the layer
	// replaces or deletes in lower layers is no longer recorded, so lower
	// files count as still present: more packages reported, never fewer.
	maxLayerPaths = 1 << 21
	// maxLinkHops bounds the symbolic links kept for distribution
	// detection that are not at a release file's own path.
	maxLinkHops = 64
	// maxPackages bounds the packages one layer, and one image, is taken
	// to hold: many times what the largest real images have, and what
	// memory allows whatever a layer claims. Past it, files are not
	// inventoried, with a warning that makes coverage partial.
	maxPackages = 25_000
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
	// lastDir is the directory of the previous entry: it and its
	// ancestors are recorded already, and tar streams list the entries of
	// a directory together, so each directory is hashed about once.
	lastDir string
	full    bool // the layer's paths reached maxLayerPaths
	// dirs, nonDirs, whiteouts and opaques become the result's path
	// sets of the same names.
	dirs, nonDirs, whiteouts, opaques spill
	// files maps each file catalogers read, and each hard link to one,
	// to the file read (its place in the layer and its size): a hard
	// link to a hard link is the same file, found in one look-up however
	// long the chain. Only 8 bytes of the paths' hashes are kept: a
	// collision could only make a link of this layer read as another
	// file of the same layer, which its author could have written there
	// anyway. Links name their file by its place until the walk ends.
	// Files past the packages' bound are not read, so not indexed
	// either: the index is bounded by what is read.
	files    map[uint64]fileRef
	seq      int32 // the next file's place
	links    []pendingLink
	linkHops int
	// packages counts the packages in r.Files. When it grows past
	// maxPackages, the files read last in the layer's order are
	// dropped; firstCut is the earliest cut.
	packages int
	firstCut *FileResult
}

func linkKey(p string) uint64 {
	h := hashPath(p)
	return binary.LittleEndian.Uint64(h[:8])
}

// fileRef is a file read, by its place in the layer.
type fileRef struct {
	seq  int32
	size int64
}

// pendingLink is a hard link at path to the seq'th file read.
type pendingLink struct {
	path string
	seq  int32
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
		files: map[uint64]fileRef{},
	}
}

func (w *walker) warn(p, format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.r.Warnings)-w.incomplete >= maxWarnings {
		w.dropped++
		return
	}
	// DiffID is filled in by finish: the walk learns it only at the end of
	// the layer, while catalogers may still be warning.
	w.r.Warnings = append(w.r.Warnings, Warning{Layer: w.index, Path: p, Message: fmt.Sprintf(format, args...)})
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
	w.r.Warnings = append(w.r.Warnings, Warning{Layer: w.index, Path: p, Message: fmt.Sprintf(format, args...), Incomplete: what})
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
	// The diff-id is checked in the algorithm the config gives it in
	// (sha512 for an image pushed by sha512); sha256 when there is none.
	alg, digest := "sha256", sha256.New()
	if strings.HasPrefix(w.diffID, "sha512:") {
		alg, digest = "sha512", sha512.New()
	}
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
	sum := alg + ":" + hex.EncodeToString(digest.Sum(nil))
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
			w.warn("", "entry %q climbs out of the layer root: skipped", shorten(hdr.Name))
		}
		return nil
	}
	mode := hdr.FileInfo().Mode()
	if why := tooLong(p); why != "" {
		w.refuse(p, hdr, mode, "entry name "+why)
		return nil
	}
	if (hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink) && len(hdr.Linkname) > pathMax {
		w.refuse(p, hdr, mode, fmt.Sprintf("link target %d bytes long, more than PATH_MAX (%d)", len(hdr.Linkname), pathMax))
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
			w.recordPath(&w.opaques, dir)
		case strings.HasPrefix(base, ".wh..wh."):
			// aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content.
		default:
			w.recordPath(&w.whiteouts, path.Join(dir, base[len(".wh."):]))
		}
		return nil
	}
	w.present(p, hdr.Typeflag == tar.TypeDir)

	switch hdr.Typeflag {
	case tar.TypeSymlink:
		w.symlink(p, hdr.Linkname)
	case tar.TypeLink:
		w.hardLink(p, hdr.Linkname, mode)
	case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
		return w.file(tr, nil, p, mode, hdr.Size)
	}
	return nil
}

// refuse skips an entry whose name or link target is longer than any file
// system allows. It costs a warning, which makes coverage partial when
// the entry is one something wanted.
func (w *walker) refuse(p string, hdr *tar.Header, mode fs.FileMode, why string) {
	what := ""
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeLink:
		what = w.wantedBy(p, mode, hdr.Size)
	case tar.TypeSymlink:
		if distro.Wants(p) {
			what = "release"
		}
	}
	if what != "" {
		w.skipped(shorten(p), what, "%s: refused", why)
		return
	}
	w.warn(shorten(p), "%s: refused", why)
}

// symlink records a symbolic link if distribution detection may have to
// follow it: one at a release file's path, or one that points to a
// release file (a hop in a chain of links to it). No other link matters
// to the analysis, so no other is kept.
func (w *walker) symlink(p, target string) {
	resolved, escaped := resolveLink(p, target)
	if escaped {
		w.warn(p, "symbolic link to %q points outside the image root; resolved as if at the root", target)
	}
	switch {
	case distro.Wants(p):
		w.r.Symlinks[p] = target
	case distro.Wants(resolved):
		if w.linkHops == maxLinkHops {
			w.warn(p, "more than %d symbolic links to release files: this one is not followed", maxLinkHops)
			return
		}
		w.linkHops++
		w.r.Symlinks[p] = target
	}
}

// hardLink records a hard link at p to the earlier entry named target. A
// link is the file it links to: when that file was read, so is the link.
func (w *walker) hardLink(p, name string, mode fs.FileMode) {
	target, _, ok := cleanEntry(name)
	switch {
	case !ok:
		w.warn(p, "hard link to %q climbs out of the layer root: skipped", name)
		return
	case target == p:
		w.warn(p, "hard link to itself: skipped")
		return
	}
	if distro.Wants(p) {
		if b, ok := w.r.System[target]; ok {
			w.r.System[p] = b
			return
		}
	}
	f, found := w.files[linkKey(target)]
	if found {
		// A link to this link is a link to the same file.
		w.files[linkKey(p)] = f
	}
	what := w.wantedBy(p, mode, f.size)
	switch {
	case what == "":
	case found && len(w.links) >= maxPackages:
		w.skipped(p, what, "more than %d hard links to files read in the layer: not read", maxPackages)
	case found:
		w.links = append(w.links, pendingLink{p, f.seq})
	case w.cut():
		// Its file may be one past the packages' bound, which was not
		// read: the bound's warning says what is not inventoried.
	default:
		w.skipped(p, what, "hard link to %q, a file of this layer that nothing read: not read", target)
	}
}

// present records that path p exists in this layer, with its parent
// directories.
func (w *walker) present(p string, isDir bool) {
	if isDir {
		w.recordPath(&w.dirs, p)
	} else {
		w.recordPath(&w.nonDirs, p)
	}
	last := w.lastDir
	ancestors(p, func(d string) bool {
		if d == last || strings.HasPrefix(last, d+"/") {
			return true
		}
		w.recordPath(&w.dirs, d)
		return false
	})
	if isDir {
		w.lastDir = p
	} else {
		w.lastDir = path.Dir(p)
	}
}

// recordPath adds p to one of the path sets kept on disk during the
// walk, unless the layer has recorded maxLayerPaths already.
func (w *walker) recordPath(s *spill, p string) {
	if w.fullAt(p) {
		return
	}
	if s.f == nil && s.err == nil {
		s.f, s.err = os.CreateTemp(w.tmp, "paths-*")
		if s.err == nil {
			// Unlinked at once: the open file is all the walk needs, and
			// the system reclaims it however the process ends.
			os.Remove(s.f.Name())
			s.bw = bufio.NewWriterSize(s.f, 32<<10)
		}
	}
	s.add(hashPath(p))
}

// fullAt reports whether the layer has recorded all the paths it may,
// with a warning the first time.
func (w *walker) fullAt(p string) bool {
	if w.dirs.n+w.nonDirs.n+w.whiteouts.n+w.opaques.n < maxLayerPaths {
		return false
	}
	if !w.full {
		w.full = true
		w.warn(p, "more than %d paths in the layer: from here on, files of lower layers that this layer replaces count as still present", maxLayerPaths)
	}
	return true
}

// spill is a path set written to a temporary file as the walk finds its
// paths, and read back once when the walk ends. Every path of a layer has
// its hash there, and holding them in memory while the layer's files are
// cataloged would double what the walk needs at its peak (the set, and
// the room it grows into).
type spill struct {
	f   *os.File
	bw  *bufio.Writer
	n   int
	err error
	h   pathHash // the hash being written: a slice of a local would escape
}

func (s *spill) add(h pathHash) {
	if s.err == nil {
		s.h = h
		_, s.err = s.bw.Write(s.h[:])
	}
	s.n++
}

// load reads the set back, sized exactly, and removes the file.
func (s *spill) load() (pathSet, error) {
	if s.f == nil {
		return nil, s.err
	}
	defer func() {
		s.f.Close()
		s.f, s.bw = nil, nil
	}()
	if s.err == nil {
		s.err = s.bw.Flush()
	}
	if s.err == nil {
		_, s.err = s.f.Seek(0, io.SeekStart)
	}
	if s.err != nil {
		return nil, fmt.Errorf("spool the layer's paths: %w", s.err)
	}
	out := make(pathSet, s.n)
	br := bufio.NewReaderSize(s.f, 32<<10)
	for i := range out {
		if _, err := io.ReadFull(br, out[i][:]); err != nil {
			return nil, fmt.Errorf("spool the layer's paths: %w", err)
		}
	}
	return out, nil
}

func (w *walker) wanted(p string, mode fs.FileMode, size int64) bool {
	return w.wantedBy(p, mode, size) != ""
}

// wantedBy names what wants the file at p ("release", cataloger names,
// "ownership"), or returns "" when nothing does.
func (w *walker) wantedBy(p string, mode fs.FileMode, size int64) string {
	if distro.Wants(p) {
		return "release"
	}
	var cats []Cataloger
	for _, c := range w.a.catalogers {
		if c.Wants(p, mode, size) {
			cats = append(cats, c)
		}
	}
	return wantedBy(cats, w.owners(p))
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
	seq := int(w.seq)
	w.seq++
	if len(cats) > 0 && w.cut() {
		// Past the packages' bound: whatever the file lists would be
		// dropped (trim), so it is not read for its packages.
		cats = nil
		if len(owners) == 0 {
			closeDirect()
			return nil
		}
	}
	if len(cats) > 0 {
		w.files[linkKey(p)] = fileRef{int32(seq), size}
	}
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
		w.catalog(f, cats, seq)
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
func (w *walker) catalog(f *File, cats []Cataloger, seq int) {
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
		w.r.Files = append(w.r.Files, FileResult{Path: f.Path, Cataloger: c.Name(), Packages: pkgs, seq: seq})
		w.packages += len(pkgs)
		if w.packages > maxPackages+maxPackages/8 {
			w.trim()
		}
		w.mu.Unlock()
	}
}

// cut reports whether the layer's files have listed more packages than
// maxPackages already: every file read from now on comes later in the
// layer's order than the cut, so its packages would be dropped.
func (w *walker) cut() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstCut != nil
}

// trim keeps the files that come first in the layer, up to maxPackages
// packages, and drops the others. Files are cataloged in parallel and
// finish in any order, but a file dropped once is past the bound in the
// final order too, so what is kept does not depend on timing.
func (w *walker) trim() {
	files := w.r.Files
	sort.Slice(files, func(i, j int) bool {
		if files[i].seq != files[j].seq {
			return files[i].seq < files[j].seq
		}
		return files[i].Cataloger < files[j].Cataloger
	})
	n, keep := 0, len(files)
	for i := range files {
		if n+len(files[i].Packages) > maxPackages {
			keep = i
			break
		}
		n += len(files[i].Packages)
	}
	if keep == len(files) {
		return
	}
	if first := files[keep]; w.firstCut == nil || first.seq <= w.firstCut.seq {
		first.Packages = nil
		w.firstCut = &first
	}
	// The file at the bound keeps the packages that fit: cutting only
	// ever shortens the list from its end, so a file cut twice ends as
	// if cut once.
	if room := maxPackages - n; room > 0 {
		files[keep].Packages = files[keep].Packages[:room:room]
		n += room
		keep++
	}
	clear(files[keep:])
	w.r.Files, w.packages = files[:keep], n
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
			w.symlink(p, target)
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
	for i := range r.Warnings {
		r.Warnings[i].DiffID = w.diffID
	}
	w.trim()
	if w.firstCut != nil {
		r.Warnings = append(r.Warnings, Warning{Layer: w.index, DiffID: w.diffID, Path: w.firstCut.Path,
			Incomplete: w.firstCut.Cataloger,
			Message:    fmt.Sprintf("the layer's files list more than %d packages: from this file on, in the layer's order, packages are not inventoried", maxPackages)})
	}
	w.trimLinks()
	// The files' index is done with: let it go before the path sets
	// come back from disk.
	w.files = nil
	for _, s := range []struct {
		from *spill
		to   *pathSet
	}{{&w.dirs, &r.Dirs}, {&w.nonDirs, &r.NonDirs}, {&w.whiteouts, &r.Whiteouts}, {&w.opaques, &r.Opaques}} {
		set, err := s.from.load()
		if err != nil {
			return nil, err
		}
		*s.to = set
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
	for _, set := range r.layerSets() {
		set.seal()
	}
	sort.Slice(r.Owned, func(i, j int) bool {
		if r.Owned[i].List != r.Owned[j].List {
			return r.Owned[i].List < r.Owned[j].List
		}
		return r.Owned[i].Owner < r.Owned[j].Owner
	})
	return r, nil
}

// trimLinks drops the hard links that would take the layer's packages
// past maxPackages, the last ones in path order first.
func (w *walker) trimLinks() {
	r := w.r
	if len(w.links) == 0 {
		return
	}
	target := make(map[int]string, len(r.Files))
	for _, f := range r.Files {
		target[f.seq] = f.Path
	}
	for _, l := range w.links {
		// A link to a file that listed no package has none either.
		if t, ok := target[int(l.seq)]; ok {
			r.Links = append(r.Links, Link{Path: l.path, Target: t})
		}
	}
	w.links = nil
	per, by := map[string]int{}, map[string]string{}
	for _, f := range r.Files {
		per[f.Path] += len(f.Packages)
		by[f.Path] = f.Cataloger
	}
	sort.Slice(r.Links, func(i, j int) bool { return r.Links[i].Path < r.Links[j].Path })
	n := w.packages
	for i, l := range r.Links {
		if n+per[l.Target] > maxPackages {
			r.Warnings = append(r.Warnings, Warning{Layer: w.index, DiffID: w.diffID, Path: l.Path, Incomplete: by[l.Target],
				Message: fmt.Sprintf("the layer's files list more than %d packages: %d hard links, from this one on in path order, are not inventoried", maxPackages, len(r.Links)-i)})
			r.Links = r.Links[:i:i]
			return
		}
		n += per[l.Target]
	}
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
