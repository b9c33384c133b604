package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/vigilsec/vigil/internal/store"
)

// PutImageCoverage replaces an image's coverage record.
func (s *Store) PutImageCoverage(ctx context.Context, c store.ImageCoverage) error {
	if c.Repository == "" || c.Digest == "" {
		return invalid("image coverage: repository and digest are required")
	}
	for name, doc := range map[string]json.RawMessage{"coverage": c.Coverage, "warnings": c.Warnings} {
		if len(doc) > 0 && !json.Valid(doc) {
			return invalid("image coverage %s@%s: %s is not JSON", c.Repository, c.Digest, name)
		}
	}
	cov, warn := c.Coverage, c.Warnings
	if len(cov) == 0 {
		cov = json.RawMessage("null")
	}
	if len(warn) == 0 {
		warn = json.RawMessage("[]")
	}
	at := c.UpdatedAt
	if at.IsZero() {
		at = s.now()
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM images WHERE repository = ? AND digest = ?`), c.Repository, c.Digest).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("image %s@%s", c.Repository, c.Digest)
		}
		if err != nil {
			return s.dbErr("put image coverage", err)
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO image_coverage (repository, digest, reason, coverage, warnings, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (repository, digest) DO UPDATE SET reason = excluded.reason, coverage = excluded.coverage,
			warnings = excluded.warnings, updated_at = excluded.updated_at`),
			c.Repository, c.Digest, c.Reason, blob(cov), blob(warn), ms(at))
		return s.dbErr("put image coverage", err)
	})
}

// ImageCoverage reads an image's coverage record.
func (s *Store) ImageCoverage(ctx context.Context, repository, digest string) (*store.ImageCoverage, error) {
	c := store.ImageCoverage{Repository: repository, Digest: digest}
	var cov, warn []byte
	var at int64
	err := s.ro.QueryRowContext(ctx, s.q(`SELECT reason, coverage, warnings, updated_at FROM image_coverage WHERE repository = ? AND digest = ?`),
		repository, digest).Scan(&c.Reason, &cov, &warn, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("coverage of image %s@%s", repository, digest)
	}
	if err != nil {
		return nil, s.dbErr("image coverage", err)
	}
	c.Coverage, c.Warnings, c.UpdatedAt = cov, warn, fromMS(at)
	return &c, nil
}
