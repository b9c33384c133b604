package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/vigilsec/vigil/internal/mutability"
)

// TagMutability reads a repository's imageTagMutability.
func (s *Store) TagMutability(ctx context.Context, repository string) (mutability.Setting, error) {
	var m mutability.Setting
	var filters string
	err := s.ro.QueryRowContext(ctx, s.q(`SELECT mutability, filters FROM repository_tag_mutability WHERE repository = ?`),
		repository).Scan(&m.Mutability, &filters)
	if errors.Is(err, sql.ErrNoRows) {
		return mutability.Setting{Mutability: mutability.Mutable}, nil
	}
	if err != nil {
		return mutability.Setting{}, s.dbErr("tag mutability", err)
	}
	if err := json.Unmarshal([]byte(filters), &m.Filters); err != nil {
		return mutability.Setting{}, s.dbErr("tag mutability: filters", err)
	}
	if len(m.Filters) == 0 {
		m.Filters = nil
	}
	return m, nil
}

// PutTagMutability replaces a repository's imageTagMutability.
func (s *Store) PutTagMutability(ctx context.Context, repository string, m mutability.Setting) error {
	if repository == "" {
		return invalid("tag mutability: no repository")
	}
	if err := m.Validate(); err != nil {
		return invalid("tag mutability of %s: %v", repository, err)
	}
	filters := m.Filters
	if filters == nil {
		filters = []mutability.Filter{}
	}
	b, err := json.Marshal(filters)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO repository_tag_mutability (repository, mutability, filters) VALUES (?, ?, ?)
			ON CONFLICT (repository) DO UPDATE SET mutability = excluded.mutability, filters = excluded.filters`),
			repository, m.Mutability, string(b))
		return s.dbErr("put tag mutability", err)
	})
}
