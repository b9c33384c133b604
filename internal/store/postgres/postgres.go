// Package postgres opens Vigil's shared store on PostgreSQL (pgx through
// database/sql), with the queries of sqlstore, for several `vigil serve`
// and `vigil worker` processes sharing the work.
//
// Jobs are claimed with FOR UPDATE SKIP LOCKED; writers of one image's
// findings lock its row; event-writing transactions take an advisory lock
// so that event sequence numbers commit in order; migrations run under an
// advisory lock so that processes starting together migrate once.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/vigilsec/vigil/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys: (class, id) pairs in a class of Vigil's own.
const (
	lockClass      = 0x76676c // "vgl"
	lockMigrations = 1
	lockEvents     = 2
)

// Open connects to the database named by a postgres:// URL (or a
// key=value connection string) and migrates it.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s, err := sqlstore.New(ctx, db, db, sqlstore.Dialect{
		Name:             "postgres",
		Numbered:         true,
		ForUpdate:        " FOR UPDATE",
		SkipLocked:       " FOR UPDATE SKIP LOCKED",
		LockEvents:       fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, %d)", lockClass, lockEvents),
		LockMigrations:   fmt.Sprintf("SELECT pg_advisory_lock(%d, %d)", lockClass, lockMigrations),
		UnlockMigrations: fmt.Sprintf("SELECT pg_advisory_unlock(%d, %d)", lockClass, lockMigrations),
		IsUnique:         isUnique,
		Migrations:       sub,
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}
