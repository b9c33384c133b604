package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/vigilsec/vigil/internal/store"
)

// validEvents checks events before a transaction starts, so that a bad
// event fails the whole write instead of being stored half-formed.
func validEvents(evs []store.Event) error {
	for i, e := range evs {
		switch {
		case e.ID == "":
			return invalid("event %d: id is required", i)
		case e.DetailType == "" || e.Source == "":
			return invalid("event %s: source and detail type are required", e.ID)
		case !json.Valid(e.Envelope):
			return invalid("event %s: envelope is not JSON", e.ID)
		}
	}
	return nil
}

// insertEvents appends events inside tx. On PostgreSQL it first takes a
// transaction-long lock, so that a transaction holding a lower sequence
// number always commits (or aborts) before another can take a higher one:
// a reader that has seen sequence number N can never later find a
// committed event below N. On SQLite the write transaction already
// excludes every other writer.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, evs []store.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if err := validEvents(evs); err != nil {
		return err
	}
	if s.d.LockEvents != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockEvents); err != nil {
			return s.dbErr("lock events", err)
		}
	}
	st := s.stmt(ctx, tx, qInsertEvent)
	for _, e := range evs {
		if _, err := st.ExecContext(ctx, e.ID, ms(e.Time), e.Source, e.DetailType, []byte(e.Envelope)); err != nil {
			return s.dbErr("event "+e.ID, err)
		}
	}
	return nil
}

func (s *Store) AppendEvents(ctx context.Context, evs []store.Event) error {
	if err := validEvents(evs); err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error { return s.insertEvents(ctx, tx, evs) })
}

// Events lists events after a sequence number, oldest first. Sequence
// numbers become visible in increasing order (see insertEvents), so a
// reader may keep the last Seq it saw as its cursor; numbers of rolled
// back transactions are skipped, never filled in later.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	query := `SELECT seq, id, at, source, detail_type, envelope FROM events WHERE seq > ?`
	args := []any{q.After}
	if q.DetailType != "" {
		query += ` AND detail_type = ?`
		args = append(args, q.DetailType)
	}
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, limit(q.Limit))
	return s.scanEvents(s.ro.QueryContext(ctx, s.q(query), args...))
}

// scanEvents reads rows of seq, id, at, source, detail_type, envelope.
func (s *Store) scanEvents(rows *sql.Rows, err error) ([]store.Event, error) {
	if err != nil {
		return nil, s.dbErr("events", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var at int64
		var env []byte
		if err := rows.Scan(&e.Seq, &e.ID, &at, &e.Source, &e.DetailType, &env); err != nil {
			return nil, s.dbErr("events", err)
		}
		e.Time, e.Envelope = fromMS(at), env
		out = append(out, e)
	}
	return out, s.dbErr("events", rows.Err())
}
