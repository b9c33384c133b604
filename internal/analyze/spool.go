package analyze

import (
	"fmt"
	"io/fs"
)

// A Limited cataloger reads no more than MaxSize bytes of the file at
// path: a larger one it refuses (File.Bytes returns ErrTooLarge). The walk
// asks before it holds a file in memory or spools it to disk, so that a
// huge file that every interested cataloger would refuse costs neither:
// it is offered with its size and no content instead.
type Limited interface {
	MaxSize(path string) int64
}

// spoolLimit is the most bytes that the catalogers and owners wanting the
// file at p may read of it, or -1 when one of them reads files of any
// size.
func (w *walker) spoolLimit(p string, mode fs.FileMode, size int64) int64 {
	limit := int64(0)
	consider := func(c any) bool {
		l, ok := c.(Limited)
		if !ok {
			limit = -1
			return false
		}
		limit = max(limit, l.MaxSize(p))
		return true
	}
	for _, c := range w.a.catalogers {
		if c.Wants(p, mode, size) && !consider(c) {
			return -1
		}
	}
	for _, o := range w.owners(p) {
		if !consider(o) {
			return -1
		}
	}
	return limit
}

// unread is the content of a file that was not read because every
// cataloger that wanted it reads less: reading it fails with ErrTooLarge.
type unread struct {
	path        string
	size, limit int64
}

func (u unread) ReadAt([]byte, int64) (int, error) {
	return 0, fmt.Errorf("%s: %d bytes, more than any cataloger that wants it reads (%d): not read: %w", u.path, u.size, u.limit, ErrTooLarge)
}
