// Package sqlstore implements store.Store once, on database/sql, for every
// SQL database Vigil supports. What differs between SQLite and PostgreSQL
// (placeholders, row locks, how the event sequence is kept in commit order,
// how a uniqueness violation is reported, the schema) is a small Dialect
// that the sqlite and postgres packages fill in; everything else — the
// queries, the filter translation, paging, transactions — is shared, so both
// backends behave alike and pass the same conformance suite.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Dialect is what one SQL database needs to differ in.
type Dialect struct {
	// Name names the database in errors ("sqlite", "postgres").
	Name string
	// Numbered placeholders ($1, $2, …) instead of "?".
	Numbered bool
	// ForUpdate is appended to a SELECT that must lock the rows it reads
	// until the transaction ends (" FOR UPDATE"); "" where a write
	// transaction already excludes every other writer (SQLite).
	ForUpdate string
	// SkipLocked is appended to the job-claiming SELECT so that claimers
	// pass over each other's rows (" FOR UPDATE SKIP LOCKED").
	SkipLocked string
	// LockEvents, when set, is executed in a transaction just before it
	// inserts events. It must hold until the transaction ends, so that
	// event sequence numbers become visible in the order they were
	// assigned (see Store.Events).
	LockEvents string
	// LockMigrations and UnlockMigrations, when set, bracket migrations
	// on one connection so that two processes starting together do not
	// both migrate.
	LockMigrations, UnlockMigrations string
	// Optimize, when set, is run after every optimizeEvery writes and at
	// open, so that the query planner's statistics follow the data as it
	// grows (SQLite's PRAGMA optimize; PostgreSQL analyzes by itself).
	Optimize string
	// IsUnique reports whether err is a uniqueness violation.
	IsUnique func(error) bool
	// Migrations holds the schema as NNNN_name.sql files, applied in
	// order of NNNN.
	Migrations fs.FS
}

// Store is a store.Store on a SQL database.
type Store struct {
	db *sql.DB // writes, and reads inside write transactions
	ro *sql.DB // reads; the same as db except for SQLite
	d  Dialect

	// Hot statements are prepared once, before any transaction needs
	// them: SQLite's writer pool has a single connection, so preparing
	// while a transaction holds it would wait for ever.
	stmts  map[string]*sql.Stmt
	now    func() time.Time
	writes atomic.Int64
}

// optimizeEvery is how many writes pass between runs of Dialect.Optimize.
const optimizeEvery = 5000

var _ store.Store = (*Store)(nil)

// Names of the hot statements, prepared at New.
const (
	qLockImage     = "lock image"
	qImageFindings = "image findings"
	qInsertFinding = "insert finding"
	qUpdateFinding = "update finding"
	qTouchFinding  = "touch finding"
	qInsertEvent   = "insert event"
)

func hot(d Dialect) map[string]string {
	return map[string]string{
		// Locks the image row (PostgreSQL) so that two writers of one
		// image's findings take turns.
		qLockImage:     `SELECT 1 FROM images WHERE repository = ? AND digest = ?` + d.ForUpdate,
		qImageFindings: `SELECT ` + findingCols + ` FROM findings f WHERE f.repository = ? AND f.image_digest = ? ORDER BY f.id`,
		qInsertFinding: insertFinding,
		qUpdateFinding: updateFinding,
		qTouchFinding:  `UPDATE findings SET last_observed_at = ?, updated_at = ?, data = ? WHERE id = ?`,
		qInsertEvent:   `INSERT INTO events (id, at, source, detail_type, envelope) VALUES (?, ?, ?, ?, ?)`,
	}
}

// New migrates the database and returns the store. rw is used for writes
// and ro for reads (they may be the same); the store closes both.
func New(ctx context.Context, rw, ro *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: rw, ro: ro, d: d, stmts: map[string]*sql.Stmt{}, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	for name, q := range hot(d) {
		st, err := rw.PrepareContext(ctx, s.q(q))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("store: %s: prepare: %w", d.Name, err)
		}
		s.stmts[name] = st
	}
	s.optimize(ctx)
	return s, nil
}

// optimize refreshes the planner's statistics where the dialect asks for
// it. A failure only leaves older statistics, so it is not reported.
func (s *Store) optimize(ctx context.Context) {
	if s.d.Optimize != "" {
		s.db.ExecContext(ctx, s.d.Optimize)
	}
}

// Close closes the database handles.
func (s *Store) Close() error {
	for _, st := range s.stmts {
		st.Close()
	}
	err := s.db.Close()
	if s.ro != s.db {
		err = errors.Join(err, s.ro.Close())
	}
	return err
}

// q rewrites a query written with "?" placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// stmt returns a hot statement bound to tx.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, name string) *sql.Stmt {
	return tx.StmtContext(ctx, s.stmts[name])
}

// write runs fn in a write transaction: on SQLite an immediate one, so
// that concurrent writers queue on the database lock instead of failing
// when they upgrade from reading.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		// A panicking callback must not keep the transaction (and, on
		// SQLite, the only writer connection) for ever.
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	if s.writes.Add(1)%optimizeEvery == 0 {
		s.optimize(ctx)
	}
	return nil
}

// read runs fn in a read-only transaction, for reads that must see one
// snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Times are stored as Unix milliseconds so that both databases compare
// them alike; the zero time is stored as 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// msCeil rounds a time up to a whole millisecond, so that "stored >=
// msCeil(t)" means the same as "stored >= t".
func msCeil(t time.Time) int64 {
	v := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		v++
	}
	return v
}

// invalid makes an error about bad input.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...)
}

// notFound makes an ErrNotFound naming what was missing.
func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrNotFound}, args...)...)
}

// dbErr wraps a database error with the operation, turning uniqueness
// violations into ErrConflict.
func (s *Store) dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		return err
	}
	if s.d.IsUnique != nil && s.d.IsUnique(err) {
		return fmt.Errorf("%w: %s: %v", store.ErrConflict, op, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// limit applies the default page size of 100 and the maximum of 1000.
func limit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

func nullFloat(p *float64) sql.NullFloat64 {
	if p == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *p, Valid: true}
}

func floatPtr(n sql.NullFloat64) *float64 {
	if !n.Valid {
		return nil
	}
	v := n.Float64
	return &v
}

// blob keeps an empty JSON payload from being stored as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
