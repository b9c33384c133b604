package server

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/vulndb"
)

// databases holds the open vulnerability database and swaps in a new one
// when `vigil db update` (or the server's own schedule) has replaced the
// file. Scans hold a read lock while they match, so the old database is
// closed only when no scan uses it any more.
type databases struct {
	path string

	mu    sync.RWMutex
	db    *vulndb.DB
	stamp fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// Acquire returns the current database and a function to release it.
func (d *databases) Acquire() (*vulndb.DB, func(), error) {
	d.mu.RLock()
	if d.db == nil {
		d.mu.RUnlock()
		return nil, func() {}, vulndb.ErrNoDatabase
	}
	return d.db, d.mu.RUnlock, nil
}

// refresh opens the database file if it changed since it was last opened;
// it reports whether a new database is now in use.
func (d *databases) refresh(ctx context.Context) (bool, error) {
	st, err := os.Stat(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	stamp := fileStamp{st.ModTime(), st.Size()}
	d.mu.RLock()
	same := d.db != nil && stamp == d.stamp
	d.mu.RUnlock()
	if same {
		return false, nil
	}
	db, err := vulndb.Open(ctx, d.path)
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	old := d.db
	d.db, d.stamp = db, stamp
	d.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return true, nil
}

// built is the current database's build time, zero when there is none.
func (d *databases) built() time.Time {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.db == nil {
		return time.Time{}
	}
	return d.db.Built()
}

func (d *databases) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db != nil {
		d.db.Close()
		d.db = nil
	}
}
