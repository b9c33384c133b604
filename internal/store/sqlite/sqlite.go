// Package sqlite opens Vigil's embedded store: one SQLite database file
// (modernc.org/sqlite, pure Go) in WAL mode, with the queries of sqlstore.
//
// Writers are serialized twice over: within a process by a writer pool of
// one connection, across processes by BEGIN IMMEDIATE transactions that
// wait (busy_timeout) for the database lock instead of failing when a
// reader upgrades. Readers have their own pool and, in WAL mode, never
// wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vigilsec/vigil/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Connection settings. synchronous=NORMAL is durable across a crash of
// the process (WAL); only a power loss can lose the last transactions.
// case_sensitive_like makes PREFIX filters case-sensitive, as on
// PostgreSQL. 16 KiB pages hold several findings (each carries a few KiB
// of Inspector JSON), so a rescan of an image writes fewer WAL frames; the
// page size only takes effect when the file is created, before WAL mode
// is set. Each connection (one writer, max(4, CPUs) readers) caches at
// most 4 MB of pages, memory SQLite keeps for the life of the process:
// the file's pages are in the system's cache besides, and larger caches
// filled by a few large rows (a layer cache entry, an inventory of
// 25,000 packages) would hold tens of megabytes of a server's memory.
const pragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)" +
	"&_pragma=case_sensitive_like(1)&_pragma=cache_size(-4000)&_pragma=temp_store(MEMORY)" +
	"&_pragma=page_size(16384)&_pragma=journal_size_limit(67108864)&_pragma=analysis_limit(1000)"

// Open opens (creating if needed) the database file at path.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q: must be non-empty, without '?' or '#'", path)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	rw, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	rw.SetMaxOpenConns(1)
	rw.SetMaxIdleConns(1)
	rw.SetConnMaxLifetime(0)
	rw.SetConnMaxIdleTime(0)
	var mode string
	if err := rw.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil || mode != "wal" {
		rw.Close()
		return nil, fmt.Errorf("sqlite: open %s: cannot use WAL mode (%q): %v", path, mode, err)
	}
	ro, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		rw.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	ro.SetMaxOpenConns(n)
	ro.SetMaxIdleConns(n)
	s, err := sqlstore.New(ctx, rw, ro, sqlstore.Dialect{
		Name: "sqlite",
		// Analyzes the tables whose size changed much since their
		// statistics were taken; analysis_limit keeps it to samples.
		Optimize:   "PRAGMA optimize=0x10002",
		IsUnique:   isUnique,
		Migrations: sub,
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return s, nil
}

func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
