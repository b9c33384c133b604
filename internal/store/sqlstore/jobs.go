package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

const jobCols = `id, kind, repository, digest, state, attempts, owner, lease_until, created_at, updated_at, failure`

func scanJob(sc interface{ Scan(...any) error }) (store.Job, error) {
	var j store.Job
	var lease, created, updated int64
	err := sc.Scan(&j.ID, &j.Kind, &j.Repository, &j.Digest, &j.State, &j.Attempts, &j.Owner, &lease, &created, &updated, &j.Failure)
	j.LeaseUntil, j.CreatedAt, j.UpdatedAt = fromMS(lease), fromMS(created), fromMS(updated)
	return j, err
}

func (s *Store) EnqueueJob(ctx context.Context, j store.Job) (bool, error) {
	var added bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		added, err = s.enqueue(ctx, tx, j)
		return err
	})
	return added, err
}

// enqueue inserts a queued job unless one of the same kind for the same
// image is queued already; the partial unique index jobs_queued decides,
// so two processes enqueueing at once still add one.
func (s *Store) enqueue(ctx context.Context, tx *sql.Tx, j store.Job) (bool, error) {
	if j.Kind == "" {
		return false, invalid("job: kind is required")
	}
	now := ms(s.now())
	created := ms(j.CreatedAt)
	if created == 0 {
		created = now
	}
	r, err := tx.ExecContext(ctx, s.q(`INSERT INTO jobs (kind, repository, digest, state, created_at, updated_at)
		VALUES (?, ?, ?, 'queued', ?, ?)
		ON CONFLICT (kind, repository, digest) WHERE state = 'queued' DO NOTHING`),
		j.Kind, j.Repository, j.Digest, created, now)
	if err != nil {
		return false, s.dbErr("enqueue job", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, s.dbErr("enqueue job", err)
	}
	return n == 1, nil
}

// ClaimJob takes the oldest job that is queued or whose lease has expired.
// On PostgreSQL, SKIP LOCKED lets concurrent claimers pass over a row
// another is taking, and the outer condition is checked again on the
// locked row; on SQLite the immediate transaction excludes other writers.
func (s *Store) ClaimJob(ctx context.Context, owner string, lease time.Duration) (*store.Job, error) {
	if owner == "" || lease <= 0 {
		return nil, invalid("claim job: an owner and a positive lease are required")
	}
	var job *store.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := s.now()
		const claimable = `(state = 'queued' OR (state = 'running' AND lease_until < ?))`
		j, err := scanJob(tx.QueryRowContext(ctx, s.q(`UPDATE jobs SET state = 'running', owner = ?, lease_until = ?,
				attempts = attempts + 1, updated_at = ?
			WHERE id = (SELECT id FROM jobs WHERE `+claimable+` ORDER BY id LIMIT 1`+s.d.SkipLocked+`)
				AND `+claimable+`
			RETURNING `+jobCols),
			owner, ms(now.Add(lease)), ms(now), ms(now), ms(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return s.dbErr("claim job", err)
		}
		job = &j
		return nil
	})
	return job, err
}

// ExtendJob with a zero lease hands the job back: its lease ends before
// now, so the next ClaimJob anywhere takes it (the row stays "running" with
// an expired lease rather than going back to "queued", where the unique
// index could collide with a newer queued job for the same image).
func (s *Store) ExtendJob(ctx context.Context, id int64, owner string, lease time.Duration) error {
	if lease < 0 {
		return invalid("extend job: a negative lease")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		now := s.now()
		until := ms(now.Add(lease))
		if lease == 0 {
			until = ms(now) - 1
		}
		r, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND owner = ? AND state = 'running'`),
			until, ms(now), id, owner)
		return s.affected("extend job", r, err, "job %d held by %s", id, owner)
	})
}

func (s *Store) FinishJob(ctx context.Context, id int64, owner, failure string) error {
	state := "done"
	if failure != "" {
		state = "failed"
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, failure = ?, lease_until = 0, updated_at = ?
			WHERE id = ? AND owner = ? AND state = 'running'`), state, failure, ms(s.now()), id, owner)
		return s.affected("finish job", r, err, "job %d held by %s", id, owner)
	})
}

var jobStates = map[string]bool{"queued": true, "running": true, "done": true, "failed": true}

func (s *Store) Jobs(ctx context.Context, state string, n int) ([]store.Job, error) {
	if !jobStates[state] {
		return nil, invalid("job state %q (want queued, running, done or failed)", state)
	}
	rows, err := s.ro.QueryContext(ctx, s.q(`SELECT `+jobCols+` FROM jobs WHERE state = ? ORDER BY id LIMIT ?`), state, limit(n))
	if err != nil {
		return nil, s.dbErr("jobs", err)
	}
	defer rows.Close()
	var out []store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, s.dbErr("jobs", err)
		}
		out = append(out, j)
	}
	return out, s.dbErr("jobs", rows.Err())
}
