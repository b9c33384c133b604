package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

func (s *Store) GetLayer(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := s.ro.QueryRowContext(ctx, s.q(`SELECT data FROM layers WHERE key = ?`), key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.dbErr("layer", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

func (s *Store) PutLayer(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return invalid("layer: key is required")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO layers (key, data, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`), key, blob(data), ms(s.now()))
		return s.dbErr("put layer", err)
	})
}

// PutInventory keeps the first copy of an inventory: the hash names its
// content, so a second copy is the same.
func (s *Store) PutInventory(ctx context.Context, hash string, data []byte) error {
	if hash == "" {
		return invalid("inventory: hash is required")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO inventories (hash, data) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING`), hash, blob(data))
		return s.dbErr("put inventory", err)
	})
}

func (s *Store) Inventory(ctx context.Context, hash string) ([]byte, error) {
	var data []byte
	err := s.ro.QueryRowContext(ctx, s.q(`SELECT data FROM inventories WHERE hash = ?`), hash).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("inventory %s", hash)
	}
	if err != nil {
		return nil, s.dbErr("inventory", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

func (s *Store) GetMeta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.ro.QueryRowContext(ctx, s.q(`SELECT value FROM meta WHERE key = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, s.dbErr("meta", err)
}

func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if key == "" {
		return invalid("meta: key is required")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`), key, value)
		return s.dbErr("set meta", err)
	})
}

var roles = map[string]bool{store.RoleAdmin: true, store.RolePipeline: true, store.RoleReadOnly: true}

func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	switch {
	case t.ID == "" || t.Name == "" || t.Hash == "":
		return invalid("token: id, name and hash are required")
	case !roles[t.Role]:
		return invalid("token %s: role %q (want admin, pipeline or read-only)", t.Name, t.Role)
	}
	created := ms(t.CreatedAt)
	if created == 0 {
		created = ms(s.now())
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO tokens (id, name, role, hash, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)`),
			t.ID, t.Name, t.Role, t.Hash, created, ms(t.LastUsedAt))
		return s.dbErr("create token "+t.Name, err)
	})
}

const tokenCols = `id, name, role, hash, created_at, last_used_at`

func scanToken(sc interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var created, used int64
	err := sc.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &used)
	t.CreatedAt, t.LastUsedAt = fromMS(created), fromMS(used)
	return t, err
}

func (s *Store) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	t, err := scanToken(s.ro.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM tokens WHERE hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		// The hash is a secret's: do not echo it.
		return nil, notFound("token")
	}
	if err != nil {
		return nil, s.dbErr("token", err)
	}
	return &t, nil
}

func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, s.dbErr("tokens", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, s.dbErr("tokens", err)
		}
		out = append(out, t)
	}
	return out, s.dbErr("tokens", rows.Err())
}

func (s *Store) DeleteToken(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`DELETE FROM tokens WHERE id = ?`), id)
		return s.affected("delete token", r, err, "token %s", id)
	})
}

func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`UPDATE tokens SET last_used_at = ? WHERE id = ?`), ms(at), id)
		return s.affected("touch token", r, err, "token %s", id)
	})
}
