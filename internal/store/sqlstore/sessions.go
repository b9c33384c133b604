package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/vigilsec/vigil/internal/store"
)

// Console sessions (web).

func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	switch {
	case sess.ID == "" || sess.TokenHash == "":
		return invalid("session: id and token are required")
	case sess.CreatedAt.IsZero() || !sess.ExpiresAt.After(sess.CreatedAt):
		return invalid("session: it must expire after it is created")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM console_sessions WHERE expires_at <= ?`), ms(sess.CreatedAt)); err != nil {
			return s.dbErr("forget expired sessions", err)
		}
		var n int
		err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM tokens WHERE hash = ?`), sess.TokenHash).Scan(&n)
		if err != nil {
			return s.dbErr("create session", err)
		}
		if n == 0 {
			// The hash is a secret's: do not echo it.
			return notFound("session: token")
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO console_sessions (id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)`),
			sess.ID, sess.TokenHash, ms(sess.CreatedAt), ms(sess.ExpiresAt))
		return s.dbErr("create session", err)
	})
}

func (s *Store) Session(ctx context.Context, id string) (*store.Session, error) {
	var sess store.Session
	var created, expires int64
	err := s.ro.QueryRowContext(ctx, s.q(`SELECT id, token_hash, created_at, expires_at FROM console_sessions WHERE id = ?`), id).
		Scan(&sess.ID, &sess.TokenHash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session")
	}
	if err != nil {
		return nil, s.dbErr("session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMS(created), fromMS(expires)
	return &sess, nil
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`DELETE FROM console_sessions WHERE id = ?`), id)
		return s.affected("delete session", r, err, "session")
	})
}
