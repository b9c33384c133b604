package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// names are those of event rules and gate policies, as EventBridge's rule
// names: 1 to 64 letters, digits, '.', '_' or '-'.
var names = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func validName(what, name string) error {
	if !names.MatchString(name) {
		return invalid("%s name %q: 1 to 64 letters, digits, '.', '_' or '-'", what, name)
	}
	return nil
}

var targetTypes = map[string]bool{store.TargetWebhook: true, store.TargetGate: true, store.TargetLog: true}

// validEventRule checks what the store relies on: a name, a pattern that
// is a JSON object, a state, and targets that can be told apart and
// reached. (The bus checks the pattern's grammar and the targets' URLs,
// transformers and retry policies.) An empty State becomes ENABLED.
func validEventRule(r *store.EventRule) error {
	if err := validName("event rule", r.Name); err != nil {
		return err
	}
	if p := bytes.TrimLeft(r.EventPattern, " \t\r\n"); len(p) == 0 || p[0] != '{' || !json.Valid(p) {
		return invalid("event rule %s: EventPattern is not a JSON object", r.Name)
	}
	switch r.State {
	case "":
		r.State = "ENABLED"
	case "ENABLED", "DISABLED":
	default:
		return invalid("event rule %s: State %q (want ENABLED or DISABLED)", r.Name, r.State)
	}
	seen := map[string]bool{}
	for i, t := range r.Targets {
		switch {
		case t.ID == "":
			return invalid("event rule %s: target %d: Id is required", r.Name, i)
		case seen[t.ID]:
			return invalid("event rule %s: target Id %q is used twice", r.Name, t.ID)
		case !targetTypes[t.Type]:
			return invalid("event rule %s: target %s: Type %q (want webhook, gate or log)", r.Name, t.ID, t.Type)
		case t.Type == store.TargetWebhook && t.URL == "":
			return invalid("event rule %s: target %s: a webhook needs a Url", r.Name, t.ID)
		}
		seen[t.ID] = true
	}
	return nil
}

// PutEventRule creates the rule or replaces the one of the same name. A
// replaced rule keeps its CreatedAt; zero times default to now. Targets
// are stored whole, secrets included: the bus signs with them, and it is
// the API's business to hide them.
func (s *Store) PutEventRule(ctx context.Context, r store.EventRule) error {
	if err := validEventRule(&r); err != nil {
		return err
	}
	if r.Targets == nil {
		r.Targets = []store.Target{}
	}
	targets, err := json.Marshal(r.Targets)
	if err != nil {
		return invalid("event rule %s: targets: %v", r.Name, err)
	}
	now := ms(s.now())
	created, updated := ms(r.CreatedAt), ms(r.UpdatedAt)
	if created == 0 {
		created = now
	}
	if updated == 0 {
		updated = now
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO event_rules (name, description, event_pattern, state, targets, managed_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET description = excluded.description, event_pattern = excluded.event_pattern,
				state = excluded.state, targets = excluded.targets, managed_by = excluded.managed_by, updated_at = excluded.updated_at`),
			r.Name, r.Description, []byte(r.EventPattern), r.State, targets, r.ManagedBy, created, updated)
		return s.dbErr("put event rule "+r.Name, err)
	})
}

const eventRuleCols = `name, description, event_pattern, state, targets, managed_by, created_at, updated_at`

func scanEventRule(sc interface{ Scan(...any) error }) (store.EventRule, error) {
	var r store.EventRule
	var pattern, targets []byte
	var created, updated int64
	if err := sc.Scan(&r.Name, &r.Description, &pattern, &r.State, &targets, &r.ManagedBy, &created, &updated); err != nil {
		return r, err
	}
	r.EventPattern, r.CreatedAt, r.UpdatedAt = pattern, fromMS(created), fromMS(updated)
	if err := json.Unmarshal(targets, &r.Targets); err != nil {
		return r, err
	}
	if r.Targets == nil {
		r.Targets = []store.Target{}
	}
	return r, nil
}

// EventRules lists the event rules by name.
func (s *Store) EventRules(ctx context.Context) ([]store.EventRule, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+eventRuleCols+` FROM event_rules ORDER BY name`)
	if err != nil {
		return nil, s.dbErr("event rules", err)
	}
	defer rows.Close()
	var out []store.EventRule
	for rows.Next() {
		r, err := scanEventRule(rows)
		if err != nil {
			return nil, s.dbErr("event rules", err)
		}
		out = append(out, r)
	}
	return out, s.dbErr("event rules", rows.Err())
}

func (s *Store) EventRule(ctx context.Context, name string) (*store.EventRule, error) {
	r, err := scanEventRule(s.ro.QueryRowContext(ctx, s.q(`SELECT `+eventRuleCols+` FROM event_rules WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("event rule %s", name)
	}
	if err != nil {
		return nil, s.dbErr("event rule", err)
	}
	return &r, nil
}

// DeleteEventRule deletes a rule; its deliveries stay (a delivery whose
// rule is gone ends in the dead-letter list, see the bus).
func (s *Store) DeleteEventRule(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`DELETE FROM event_rules WHERE name = ?`), name)
		return s.affected("delete event rule", r, err, "event rule %s", name)
	})
}

// eventRef is what a delivery takes from its event.
type eventRef struct {
	seq int64
	at  time.Time
}

// DispatchEvents reads the events after the dispatch cursor and writes
// the deliveries fn makes of them, in one write transaction that holds
// the cursor's row (on PostgreSQL locked FOR UPDATE; on SQLite the write
// transaction excludes every other writer), so that two dispatchers, in
// one process or several, never read the same events: each event's
// deliveries are created once. Event sequence numbers become visible in
// order (see insertEvents), so no event is passed over either.
//
// limit follows the rules of page sizes (default 100, at most 1000). With
// no event after the cursor fn is not called and 0 is returned. If fn
// fails, or a delivery it returns is invalid, nothing is written and the
// cursor stays. Deliveries take the defaults of AddDeliveries; their
// EventSeq is always their event's. fn runs inside the transaction and
// must not call the store's write methods (on SQLite the transaction
// holds the only writer connection).
func (s *Store) DispatchEvents(ctx context.Context, n int, fn func([]store.Event) ([]store.Delivery, error)) (int, error) {
	if fn == nil {
		return 0, invalid("dispatch events: a callback is required")
	}
	n = limit(n)
	read := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		read = 0
		if _, err := tx.ExecContext(ctx, `INSERT INTO dispatch_cursor (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`); err != nil {
			return s.dbErr("dispatch: cursor", err)
		}
		var cursor int64
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM dispatch_cursor WHERE id = 1`+s.d.ForUpdate).Scan(&cursor); err != nil {
			return s.dbErr("dispatch: cursor", err)
		}
		evs, err := s.scanEvents(tx.QueryContext(ctx, s.q(`SELECT seq, id, at, source, detail_type, envelope FROM events
			WHERE seq > ? ORDER BY seq LIMIT ?`), cursor, n))
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		known := make(map[string]eventRef, len(evs))
		for _, e := range evs {
			known[e.ID] = eventRef{e.Seq, e.Time}
		}
		ds, err := fn(slices.Clone(evs))
		if err != nil {
			return err
		}
		if err := s.insertDeliveries(ctx, tx, ds, known); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE dispatch_cursor SET seq = ? WHERE id = 1`), evs[len(evs)-1].Seq); err != nil {
			return s.dbErr("dispatch: move cursor", err)
		}
		read = len(evs)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return read, nil
}

// AddDeliveries inserts deliveries, in one transaction: all or none. Each
// must name an existing event (ErrInvalid otherwise) and a target. Zero
// fields take defaults: State pending, CreatedAt, UpdatedAt and
// NextAttemptAt now, WindowStart the event's time; EventSeq is always
// the event's.
func (s *Store) AddDeliveries(ctx context.Context, ds []store.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error { return s.insertDeliveries(ctx, tx, ds, nil) })
}

var deliveryStates = map[string]bool{store.DeliveryPending: true, store.DeliveryDelivered: true, store.DeliveryDead: true}

// insertDeliveries inserts deliveries inside tx; events not in known are
// looked up in tx, so they may be ones the transaction inserted.
func (s *Store) insertDeliveries(ctx context.Context, tx *sql.Tx, ds []store.Delivery, known map[string]eventRef) error {
	if len(ds) == 0 {
		return nil
	}
	for i, d := range ds {
		switch {
		case d.EventID == "" || d.Target == "":
			return invalid("delivery %d: event id and target are required", i)
		case d.State != "" && !deliveryStates[d.State]:
			return invalid("delivery of %s to %s: state %q (want pending, delivered or dead)", d.EventID, d.Target, d.State)
		case d.Attempts < 0:
			return invalid("delivery of %s to %s: negative attempts", d.EventID, d.Target)
		}
	}
	now := ms(s.now())
	st, err := tx.PrepareContext(ctx, s.q(`INSERT INTO deliveries (event_id, event_seq, rule, target, state, attempts,
		next_attempt_at, window_start, last_error, last_status, created_at, updated_at, delivered_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return s.dbErr("insert deliveries", err)
	}
	defer st.Close()
	for _, d := range ds {
		ev, ok := known[d.EventID]
		if !ok {
			var at int64
			err := tx.QueryRowContext(ctx, s.q(`SELECT seq, at FROM events WHERE id = ?`), d.EventID).Scan(&ev.seq, &at)
			if errors.Is(err, sql.ErrNoRows) {
				return invalid("delivery to %s: event %s does not exist", d.Target, d.EventID)
			}
			if err != nil {
				return s.dbErr("delivery: event", err)
			}
			ev.at = fromMS(at)
			if known == nil {
				known = map[string]eventRef{}
			}
			known[d.EventID] = ev
		}
		state := d.State
		if state == "" {
			state = store.DeliveryPending
		}
		next, window, created, updated := ms(d.NextAttemptAt), ms(d.WindowStart), ms(d.CreatedAt), ms(d.UpdatedAt)
		if next == 0 {
			next = now
		}
		if window == 0 {
			window = ms(ev.at)
		}
		if created == 0 {
			created = now
		}
		if updated == 0 {
			updated = now
		}
		if _, err := st.ExecContext(ctx, d.EventID, ev.seq, d.Rule, d.Target, state, d.Attempts,
			next, window, d.LastError, d.LastStatus, created, updated, ms(d.DeliveredAt)); err != nil {
			return s.dbErr("insert delivery", err)
		}
	}
	return nil
}

// The columns of a delivery and of its event's envelope, which is NULL
// for an event no longer stored.
const deliveryCols = `d.id, d.event_id, d.event_seq, d.rule, d.target, d.state, d.attempts, d.next_attempt_at,
	d.window_start, d.last_error, d.last_status, d.created_at, d.updated_at, d.delivered_at, d.owner, d.lease_until, e.envelope`

const deliveriesFrom = ` FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq`

func scanDelivery(sc interface{ Scan(...any) error }) (store.Delivery, error) {
	var d store.Delivery
	var next, window, created, updated, delivered, lease int64
	var env []byte
	err := sc.Scan(&d.ID, &d.EventID, &d.EventSeq, &d.Rule, &d.Target, &d.State, &d.Attempts, &next,
		&window, &d.LastError, &d.LastStatus, &created, &updated, &delivered, &d.Owner, &lease, &env)
	d.NextAttemptAt, d.WindowStart, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(window), fromMS(created), fromMS(updated)
	d.DeliveredAt, d.LeaseUntil = fromMS(delivered), fromMS(lease)
	if env != nil {
		d.Envelope = env
	}
	return d, err
}

func (s *Store) scanDeliveries(rows *sql.Rows, err error) ([]store.Delivery, error) {
	if err != nil {
		return nil, s.dbErr("deliveries", err)
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, s.dbErr("deliveries", err)
		}
		out = append(out, d)
	}
	return out, s.dbErr("deliveries", rows.Err())
}

// ClaimDeliveries takes up to n (at most 1000) pending deliveries that
// are due and that nobody holds or whose holder's lease ran out, the
// longest due first (then by id), and holds them for owner until
// now+lease. On PostgreSQL, SKIP LOCKED lets concurrent claimers pass
// over each other's rows, and the rows it locks (their condition checked
// again on the latest version) stay locked until the transaction ends; on SQLite the write transaction
// excludes other writers. A claim
// changes no visible field (UpdatedAt stays): the hold is the claimer's.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, lease time.Duration, n int) ([]store.Delivery, error) {
	if owner == "" || lease <= 0 || n <= 0 {
		return nil, invalid("claim deliveries: an owner, a positive lease and a positive count are required")
	}
	n = min(n, 1000)
	var out []store.Delivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := ms(s.now())
		// The rows are chosen and locked first, then updated by id: an
		// UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)
		// may rescan its subquery, which then skips the rows the UPDATE
		// itself changed and takes more than n.
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM deliveries
			WHERE state = 'pending' AND next_attempt_at <= ? AND (owner = '' OR lease_until < ?)
			ORDER BY next_attempt_at, id LIMIT ?`+s.d.SkipLocked), now, now, n)
		if err != nil {
			return s.dbErr("claim deliveries", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return s.dbErr("claim deliveries", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.dbErr("claim deliveries", err)
		}
		if len(ids) == 0 {
			return nil
		}
		in, args := int64List(ids)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE deliveries SET owner = ?, lease_until = ? WHERE id IN (`+in+`)`),
			append([]any{owner, now + lease.Milliseconds()}, args...)...); err != nil {
			return s.dbErr("claim deliveries", err)
		}
		out, err = s.scanDeliveries(tx.QueryContext(ctx, s.q(`SELECT `+deliveryCols+deliveriesFrom+`
			WHERE d.id IN (`+in+`) ORDER BY d.next_attempt_at, d.id`), args...))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// int64List makes "?, ?, …" for ids.
func int64List(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}

// FinishDelivery records an attempt on a delivery owner holds (its lease
// may have run out, as long as nobody claimed it since): attempts grow
// by one, the delivery takes the outcome's state, error and status, and
// the hold ends. A pending outcome without NextAttemptAt is due at once;
// a delivered one sets DeliveredAt to now.
func (s *Store) FinishDelivery(ctx context.Context, id int64, owner string, o store.DeliveryOutcome) error {
	if owner == "" {
		return invalid("finish delivery %d: an owner is required", id)
	}
	if !deliveryStates[o.State] {
		return invalid("finish delivery %d: state %q (want pending, delivered or dead)", id, o.State)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		now := ms(s.now())
		next := ms(o.NextAttemptAt)
		if next == 0 && o.State == store.DeliveryPending {
			next = now
		}
		r, err := tx.ExecContext(ctx, s.q(`UPDATE deliveries SET attempts = attempts + 1, state = ?, next_attempt_at = ?,
				last_error = ?, last_status = ?, updated_at = ?,
				delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END,
				owner = '', lease_until = 0
			WHERE id = ? AND owner = ? AND state = 'pending'`),
			o.State, next, o.Error, o.Status, now, o.State, now, id, owner)
		return s.affected("finish delivery", r, err, "delivery %d held by %s", id, owner)
	})
}

func (s *Store) Delivery(ctx context.Context, id int64) (*store.Delivery, error) {
	d, err := scanDelivery(s.ro.QueryRowContext(ctx, s.q(`SELECT `+deliveryCols+deliveriesFrom+` WHERE d.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("delivery %d", id)
	}
	if err != nil {
		return nil, s.dbErr("delivery", err)
	}
	return &d, nil
}

// Deliveries lists deliveries newest (highest id) first, with their
// events; Before pages by id.
func (s *Store) Deliveries(ctx context.Context, q store.DeliveryQuery) ([]store.Delivery, error) {
	var conds []string
	var args []any
	if q.State != "" {
		if !deliveryStates[q.State] {
			return nil, invalid("delivery state %q (want pending, delivered or dead)", q.State)
		}
		conds, args = append(conds, "d.state = ?"), append(args, q.State)
	}
	if q.Rule != "" {
		conds, args = append(conds, "d.rule = ?"), append(args, q.Rule)
	}
	if q.EventID != "" {
		conds, args = append(conds, "d.event_id = ?"), append(args, q.EventID)
	}
	switch {
	case q.Before < 0:
		return nil, invalid("deliveries: negative Before")
	case q.Before > 0:
		conds, args = append(conds, "d.id < ?"), append(args, q.Before)
	}
	query := `SELECT ` + deliveryCols + deliveriesFrom
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY d.id DESC LIMIT ?"
	args = append(args, limit(q.Limit))
	return s.scanDeliveries(s.ro.QueryContext(ctx, s.q(query), args...))
}

// redriveBatch bounds the ids of one statement.
const redriveBatch = 500

// RedriveDeliveries moves dead deliveries back to pending, in one
// transaction. With ids, those of them that are dead (and, if rule is
// given too, of that rule) move; without, every dead delivery of rule, or
// every dead one. They are due now, with no attempt made, no holder and a
// new age window starting now; LastError and LastStatus are kept, so
// that why they died stays visible until the next attempt.
func (s *Store) RedriveDeliveries(ctx context.Context, ids []int64, rule string) (int, error) {
	total := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		total = 0
		now := ms(s.now())
		redrive := func(extra string, extraArgs []any) error {
			query := `UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, window_start = ?,
				owner = '', lease_until = 0, updated_at = ? WHERE state = 'dead'`
			args := []any{now, now, now}
			if rule != "" {
				query, args = query+` AND rule = ?`, append(args, rule)
			}
			r, err := tx.ExecContext(ctx, s.q(query+extra), append(args, extraArgs...)...)
			if err != nil {
				return s.dbErr("redrive deliveries", err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return s.dbErr("redrive deliveries", err)
			}
			total += int(n)
			return nil
		}
		if len(ids) == 0 {
			return redrive("", nil)
		}
		ids := slices.Clone(ids)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		for chunk := range slices.Chunk(ids, redriveBatch) {
			in, args := int64List(chunk)
			if err := redrive(` AND id IN (`+in+`)`, args); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}
