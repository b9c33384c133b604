package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/vigilsec/vigil/internal/store"
)

// CreateRule stores a suppression rule after checking that its filter is
// one the store can evaluate.
func (s *Store) CreateRule(ctx context.Context, r store.Rule) error {
	switch {
	case r.ID == "" || r.Name == "":
		return invalid("rule: id and name are required")
	case r.Action != "SUPPRESS" && r.Action != "NONE":
		return invalid("rule %s: action %q (want SUPPRESS or NONE)", r.Name, r.Action)
	}
	if _, err := buildFilter(&r.Filter); err != nil {
		return err
	}
	filter, err := json.Marshal(r.Filter)
	if err != nil {
		return invalid("rule %s: filter: %v", r.Name, err)
	}
	created := ms(r.CreatedAt)
	if created == 0 {
		created = ms(s.now())
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO rules (id, name, action, reason, description, filter, expires_at, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.Name, r.Action, r.Reason, r.Description, filter, ms(r.ExpiresAt), created, r.CreatedBy)
		return s.dbErr("create rule "+r.Name, err)
	})
}

const ruleCols = `id, name, action, reason, description, filter, expires_at, created_at, created_by`

func scanRule(sc interface{ Scan(...any) error }) (store.Rule, error) {
	var r store.Rule
	var filter []byte
	var expires, created int64
	if err := sc.Scan(&r.ID, &r.Name, &r.Action, &r.Reason, &r.Description, &filter, &expires, &created, &r.CreatedBy); err != nil {
		return r, err
	}
	r.ExpiresAt, r.CreatedAt = fromMS(expires), fromMS(created)
	if err := json.Unmarshal(filter, &r.Filter); err != nil {
		return r, err
	}
	return r, nil
}

func (s *Store) Rules(ctx context.Context) ([]store.Rule, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+ruleCols+` FROM rules ORDER BY created_at, id`)
	if err != nil {
		return nil, s.dbErr("rules", err)
	}
	defer rows.Close()
	var out []store.Rule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, s.dbErr("rules", err)
		}
		out = append(out, r)
	}
	return out, s.dbErr("rules", rows.Err())
}

func (s *Store) Rule(ctx context.Context, id string) (*store.Rule, error) {
	r, err := scanRule(s.ro.QueryRowContext(ctx, s.q(`SELECT `+ruleCols+` FROM rules WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("rule %s", id)
	}
	if err != nil {
		return nil, s.dbErr("rule", err)
	}
	return &r, nil
}

func (s *Store) DeleteRule(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`DELETE FROM rules WHERE id = ?`), id)
		return s.affected("delete rule", r, err, "rule %s", id)
	})
}
