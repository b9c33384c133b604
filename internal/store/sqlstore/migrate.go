package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

type migration struct {
	version int
	name    string
	sql     string
}

// migrations reads the dialect's NNNN_name.sql files in version order.
func (s *Store) migrations() ([]migration, error) {
	entries, err := fs.ReadDir(s.d.Migrations, ".")
	if err != nil {
		return nil, fmt.Errorf("store: %s migrations: %w", s.d.Name, err)
	}
	var ms []migration
	seen := map[int]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		prefix, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 || seen[v] {
			return nil, fmt.Errorf("store: %s migration %s: want a unique NNNN_name.sql", s.d.Name, name)
		}
		seen[v] = true
		data, err := fs.ReadFile(s.d.Migrations, name)
		if err != nil {
			return nil, fmt.Errorf("store: %s migration %s: %w", s.d.Name, name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(data)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies the migrations the database has not seen, each in its
// own transaction, and refuses a database whose schema is newer than this
// code.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return fmt.Errorf("store: %s: no migrations", s.d.Name)
	}
	latest := ms[len(ms)-1].version

	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: %s: connect: %w", s.d.Name, err)
	}
	defer conn.Close()
	if s.d.LockMigrations != "" {
		if _, err := conn.ExecContext(ctx, s.d.LockMigrations); err != nil {
			return fmt.Errorf("store: %s: lock for migration: %w", s.d.Name, err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), s.d.UnlockMigrations)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: %s: create schema_migrations: %w", s.d.Name, err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, conn, m, latest); err != nil {
			return err
		}
	}
	// A database that was already current is checked here too.
	var v int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("store: %s: schema version: %w", s.d.Name, err)
	}
	if v > latest {
		return fmt.Errorf("store: %s: the database schema is version %d, newer than this build of vigil knows (%d): upgrade vigil", s.d.Name, v, latest)
	}
	return nil
}

// apply runs one migration unless the database already has it. The
// version is checked inside the transaction, so a second process that
// raced this one (SQLite has no migration lock) skips it.
func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration, latest int) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: begin migration: %w", s.d.Name, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("store: %s: schema version: %w", s.d.Name, err)
	}
	if v > latest {
		return fmt.Errorf("store: %s: the database schema is version %d, newer than this build of vigil knows (%d): upgrade vigil", s.d.Name, v, latest)
	}
	// Each migration is applied once, by its own version: one that a
	// database lacks is applied even when a later one is already there.
	var have int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&have); err != nil {
		return fmt.Errorf("store: %s: schema version: %w", s.d.Name, err)
	}
	if have > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("store: %s: migration %s: %w", s.d.Name, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.version, ms(s.now())); err != nil {
		return fmt.Errorf("store: %s: record migration %s: %w", s.d.Name, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit migration %s: %w", s.d.Name, m.name, err)
	}
	return nil
}
