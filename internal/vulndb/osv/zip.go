package osv

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/vuln"
)

// limits bounds what one zip or directory may cost. Tests shrink them.
type limits struct {
	record  int64 // bytes of one record
	entries int   // files in one zip
	// A zip may inflate to at most inflateBase + inflateRatio × its own
	// size. Real OSV zips inflate 2–7×; a zip bomb (many entries, or
	// entries sharing one compressed stream) inflates thousands of times.
	inflateBase  int64
	inflateRatio int64
}

var defaultLimits = limits{
	record:       maxRecordSize,
	entries:      4 << 20,
	inflateBase:  64 << 20,
	inflateRatio: 100,
}

// ReadZip reads every *.json entry of an OSV zip, such as osv.dev's
// per-ecosystem all.zip (one record per entry, named after its id), and
// calls fn with each valid record in the order of the zip's directory.
//
// A record that cannot be read or fails validation is skipped and
// reported in the returned list as a *RecordError naming the entry and,
// when known, the id; records with a newer schema_version are delivered
// and reported as warnings. The error is for what stops the whole read: a
// zip that cannot be opened, one that inflates beyond the zip-bomb bound,
// or an error from fn, which ReadZip returns as it is. Records delivered
// before such an error must not be taken for a complete feed.
func ReadZip(r io.ReaderAt, size int64, fn func(*vuln.Advisory) error) ([]error, error) {
	return readZip(r, size, defaultLimits, fn)
}

func readZip(r io.ReaderAt, size int64, lim limits, fn func(*vuln.Advisory) error) ([]error, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// Names are only labels here, nothing is written to disk, so
		// insecure paths need no refusal.
		return nil, fmt.Errorf("osv: open zip: %w", err)
	}
	if len(zr.File) > lim.entries {
		return nil, fmt.Errorf("osv: zip has %d entries, more than the %d allowed", len(zr.File), lim.entries)
	}
	budget := lim.inflateBase + lim.inflateRatio*size
	var errs errList
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || path.Ext(f.Name) != ".json" {
			continue
		}
		data, err := readEntry(f, lim.record, &budget)
		if errors.Is(err, errBudget) {
			return errs.list(), fmt.Errorf("osv: zip of %d bytes inflates to more than %d bytes; it is refused as a zip bomb", size, lim.inflateBase+lim.inflateRatio*size)
		}
		if err != nil {
			errs.add(&RecordError{Entry: f.Name, Err: err})
			continue
		}
		if err := deliver(f.Name, data, &errs, fn); err != nil {
			return errs.list(), err
		}
	}
	return errs.list(), nil
}

var errBudget = errors.New("inflate budget exhausted")

// readEntry inflates one entry, at most max bytes of it, and charges what
// it inflated to budget. The declared size is checked first, but the
// bytes actually read are what count: sizes in the directory can lie.
func readEntry(f *zip.File, max int64, budget *int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(max) {
		return nil, fmt.Errorf("record of %d bytes is larger than the %d allowed", f.UncompressedSize64, max)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	limit := min(max, *budget)
	// Sized from the declared size (already bounded) to spare ReadAll's
	// repeated growing; a lying size only costs reallocations.
	buf := bytes.NewBuffer(make([]byte, 0, min(int64(f.UncompressedSize64), limit)+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(rc, limit+1))
	data := buf.Bytes()
	*budget -= int64(len(data))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		if limit < max {
			return nil, errBudget
		}
		return nil, fmt.Errorf("record is larger than the %d bytes allowed", max)
	}
	return data, nil
}

// ReadDir reads every *.json file under the root of fsys, as osv.dev's
// per-ecosystem dumps or a checkout of an advisory database unpack, and
// calls fn with each valid record in lexical path order. Hidden files and
// directories (".git") are skipped, and so are symbolic links. Problems
// are reported as for ReadZip: a file or subdirectory that cannot be read
// is a per-record error; only an unreadable root, or an error from fn
// (returned as it is), stops the walk.
func ReadDir(fsys fs.FS, fn func(*vuln.Advisory) error) ([]error, error) {
	return readDir(fsys, defaultLimits, fn)
}

func readDir(fsys fs.FS, lim limits, fn func(*vuln.Advisory) error) ([]error, error) {
	var (
		errs  errList
		fnErr error
	)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			errs.add(&RecordError{Entry: p, Err: err})
			return nil
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || path.Ext(p) != ".json" {
			return nil
		}
		data, err := readFile(fsys, p, lim.record)
		if err != nil {
			errs.add(&RecordError{Entry: p, Err: err})
			return nil
		}
		if fnErr = deliver(p, data, &errs, fn); fnErr != nil {
			return fs.SkipAll
		}
		return nil
	})
	if fnErr != nil {
		return errs.list(), fnErr
	}
	if err != nil {
		return errs.list(), fmt.Errorf("osv: read directory: %w", err)
	}
	return errs.list(), nil
}

func readFile(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("record is larger than the %d bytes allowed", max)
	}
	return data, nil
}
