package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// Policy actions for scan failures, unsupported images and timeouts.
const (
	gateReject  = "REJECT"
	gateApprove = "APPROVE"
)

// PutGatePolicy creates the policy or replaces the one of the same name;
// a replaced policy keeps its CreatedAt, and zero times default to now.
// OnScanFailure, OnUnsupported and OnTimeout are REJECT or APPROVE, ""
// being stored as REJECT. Two policies may not select the same
// Repository (ErrConflict). The policy is stored as JSON, with its
// repository in a column of its own for the uniqueness rule.
func (s *Store) PutGatePolicy(ctx context.Context, p store.GatePolicy) error {
	if err := validName("gate policy", p.Name); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"OnScanFailure", &p.OnScanFailure}, {"OnUnsupported", &p.OnUnsupported}, {"OnTimeout", &p.OnTimeout}} {
		switch *f.v {
		case "":
			*f.v = gateReject
		case gateReject, gateApprove:
		default:
			return invalid("gate policy %s: %s %q (want REJECT or APPROVE)", p.Name, f.name, *f.v)
		}
	}
	if p.TimeoutSeconds < 0 {
		return invalid("gate policy %s: negative TimeoutSeconds", p.Name)
	}
	now := ms(s.now())
	created, updated := ms(p.CreatedAt), ms(p.UpdatedAt)
	if created == 0 {
		created = now
	}
	if updated == 0 {
		updated = now
	}
	data, err := json.Marshal(p)
	if err != nil {
		return invalid("gate policy %s: %v", p.Name, err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO gate_policies (name, repository, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET repository = excluded.repository, data = excluded.data, updated_at = excluded.updated_at`),
			p.Name, p.Repository, data, created, updated)
		return s.dbErr("put gate policy "+p.Name, err)
	})
}

const gatePolicyCols = `name, repository, data, created_at, updated_at`

func scanGatePolicy(sc interface{ Scan(...any) error }) (store.GatePolicy, error) {
	var p store.GatePolicy
	var name, repo string
	var data []byte
	var created, updated int64
	if err := sc.Scan(&name, &repo, &data, &created, &updated); err != nil {
		return p, err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, err
	}
	p.Name, p.Repository, p.CreatedAt, p.UpdatedAt = name, repo, fromMS(created), fromMS(updated)
	return p, nil
}

// GatePolicies lists the policies by name.
func (s *Store) GatePolicies(ctx context.Context) ([]store.GatePolicy, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT `+gatePolicyCols+` FROM gate_policies ORDER BY name`)
	if err != nil {
		return nil, s.dbErr("gate policies", err)
	}
	defer rows.Close()
	var out []store.GatePolicy
	for rows.Next() {
		p, err := scanGatePolicy(rows)
		if err != nil {
			return nil, s.dbErr("gate policies", err)
		}
		out = append(out, p)
	}
	return out, s.dbErr("gate policies", rows.Err())
}

func (s *Store) GatePolicy(ctx context.Context, name string) (*store.GatePolicy, error) {
	p, err := scanGatePolicy(s.ro.QueryRowContext(ctx, s.q(`SELECT `+gatePolicyCols+` FROM gate_policies WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("gate policy %s", name)
	}
	if err != nil {
		return nil, s.dbErr("gate policy", err)
	}
	return &p, nil
}

func (s *Store) DeleteGatePolicy(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`DELETE FROM gate_policies WHERE name = ?`), name)
		return s.affected("delete gate policy", r, err, "gate policy %s", name)
	})
}

var (
	gateStates    = map[string]bool{store.GatePending: true, store.GateDecided: true}
	gateDecisions = map[string]bool{store.Approved: true, store.Rejected: true}
)

// validGateRequest checks a request about to be written; an empty State
// becomes PENDING.
func validGateRequest(r *store.GateRequest) error {
	switch {
	case r.ID == "" || r.Token == "" || r.Repository == "":
		return invalid("gate request %q: id, token and repository are required", r.ID)
	case r.State == "":
		r.State = store.GatePending
	case !gateStates[r.State]:
		return invalid("gate request %s: state %q (want PENDING or DECIDED)", r.ID, r.State)
	}
	if r.Decision != "" && !gateDecisions[r.Decision] {
		return invalid("gate request %s: decision %q (want Approved or Rejected)", r.ID, r.Decision)
	}
	return nil
}

// CreateGateRequest stores a new request (ErrConflict if its id is
// taken). State defaults to PENDING, CreatedAt and UpdatedAt to now.
func (s *Store) CreateGateRequest(ctx context.Context, r store.GateRequest) error {
	if err := validGateRequest(&r); err != nil {
		return err
	}
	now := s.now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO gate_requests (`+gateRequestCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), gateRequestArgs(&r)...)
		return s.dbErr("create gate request "+r.ID, err)
	})
}

const gateRequestCols = `id, token, repository, digest, tag, new_push, pipeline, stage, action, callback_url,
	state, decision, decision_id, deadline, created_at, updated_at, created_by`

func gateRequestArgs(r *store.GateRequest) []any {
	newPush := 0
	if r.NewPush {
		newPush = 1
	}
	return []any{r.ID, r.Token, r.Repository, r.Digest, r.Tag, newPush, r.Pipeline, r.Stage, r.Action, r.CallbackURL,
		r.State, r.Decision, r.DecisionID, ms(r.Deadline), ms(r.CreatedAt), ms(r.UpdatedAt), r.CreatedBy}
}

func scanGateRequest(sc interface{ Scan(...any) error }) (store.GateRequest, error) {
	var r store.GateRequest
	var newPush int
	var deadline, created, updated int64
	err := sc.Scan(&r.ID, &r.Token, &r.Repository, &r.Digest, &r.Tag, &newPush, &r.Pipeline, &r.Stage, &r.Action, &r.CallbackURL,
		&r.State, &r.Decision, &r.DecisionID, &deadline, &created, &updated, &r.CreatedBy)
	r.NewPush = newPush != 0
	r.Deadline, r.CreatedAt, r.UpdatedAt = fromMS(deadline), fromMS(created), fromMS(updated)
	return r, err
}

func (s *Store) GateRequest(ctx context.Context, id string) (*store.GateRequest, error) {
	r, err := scanGateRequest(s.ro.QueryRowContext(ctx, s.q(`SELECT `+gateRequestCols+` FROM gate_requests WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("gate request %s", id)
	}
	if err != nil {
		return nil, s.dbErr("gate request", err)
	}
	return &r, nil
}

// GateRequests pages through requests, newest first (by CreatedAt, then
// id). The filters AND together: State, Repository, Digest and Tag match
// exactly; Unresolved selects requests without a digest yet;
// DeadlineBefore selects PENDING requests whose deadline is before it.
func (s *Store) GateRequests(ctx context.Context, q store.GateRequestQuery) ([]store.GateRequest, string, error) {
	if q.State != "" && !gateStates[q.State] {
		return nil, "", invalid("gate request state %q (want PENDING or DECIDED)", q.State)
	}
	hash := queryHash("gate requests", q.State, q.Repository, q.Digest, q.Tag, q.Unresolved, ms(q.DeadlineBefore))
	var conds []string
	var args []any
	for _, f := range []struct {
		col, v string
	}{{"state", q.State}, {"repository", q.Repository}, {"digest", q.Digest}, {"tag", q.Tag}} {
		if f.v != "" {
			conds, args = append(conds, f.col+" = ?"), append(args, f.v)
		}
	}
	if q.Unresolved {
		conds = append(conds, "digest = ''")
	}
	if !q.DeadlineBefore.IsZero() {
		conds = append(conds, "state = ?", "deadline < ?")
		args = append(args, store.GatePending, msCeil(q.DeadlineBefore))
	}
	out, next, err := keysetPage(ctx, s, "gate requests", `SELECT `+gateRequestCols+` FROM gate_requests`, "created_at", hash, q.Next, q.Limit, conds, args,
		scanGateRequest, func(r *store.GateRequest) (int64, string) { return ms(r.CreatedAt), r.ID })
	return out, next, err
}

// keysetPage runs a query newest first by (timeCol, id), a page of n at a
// time; the token holds the time and id of the last row returned.
func keysetPage[T any](ctx context.Context, s *Store, op, query, timeCol, hash, next string, n int, conds []string, args []any,
	scan func(interface{ Scan(...any) error }) (T, error), key func(*T) (int64, string)) ([]T, string, error) {
	n = limit(n)
	if next != "" {
		t, err := decodeToken(next, hash)
		if err != nil {
			return nil, "", err
		}
		var at int64
		if err := t.key(&at); err != nil || len(t.IDs) != 1 {
			return nil, "", invalid("page token: malformed")
		}
		conds = append(conds, "("+timeCol+", id) < (?, ?)")
		args = append(args, at, t.IDs[0])
	}
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY " + timeCol + " DESC, id DESC LIMIT ?"
	args = append(args, n+1)
	rows, err := s.ro.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, "", s.dbErr(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", s.dbErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.dbErr(op, err)
	}
	token := ""
	if len(out) > n {
		out = out[:n]
		at, id := key(&out[n-1])
		token = encodeToken(hash, at, id)
	}
	return out, token, nil
}

// UpdateGateRequest runs fn on the request in a write transaction, with
// its row locked on PostgreSQL (SQLite's write transaction excludes every
// other writer), so that writers of one request take turns. If fn returns
// a zero GateUpdate and leaves the request as it was, nothing is written.
// Otherwise, in the same transaction, the request is written (UpdatedAt
// becomes now unless fn changed it), the decision is inserted (its ID is
// required; RequestID, Repository and Digest default to the request's,
// DecidedAt to now), the events are appended as by AppendEvents, and the
// deliveries are inserted as by AddDeliveries; they may name the events
// of this update. An error of fn, or anything invalid, writes nothing. fn
// must not call the store's write methods.
func (s *Store) UpdateGateRequest(ctx context.Context, id string, fn func(*store.GateRequest) (store.GateUpdate, error)) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := scanGateRequest(tx.QueryRowContext(ctx, s.q(`SELECT `+gateRequestCols+` FROM gate_requests WHERE id = ?`+s.d.ForUpdate), id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("gate request %s", id)
		}
		if err != nil {
			return s.dbErr("update gate request", err)
		}
		old := r
		u, err := fn(&r)
		if err != nil {
			return err
		}
		if u.Decision == nil && len(u.Events) == 0 && len(u.Deliveries) == 0 && r == old {
			return nil
		}
		if r.ID != old.ID {
			return invalid("update gate request %s: the callback changed its id to %q", old.ID, r.ID)
		}
		if err := validGateRequest(&r); err != nil {
			return err
		}
		if err := validEvents(u.Events); err != nil {
			return err
		}
		now := s.now()
		if r.UpdatedAt.Equal(old.UpdatedAt) {
			r.UpdatedAt = now
		}
		args := gateRequestArgs(&r)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE gate_requests SET token = ?, repository = ?, digest = ?, tag = ?, new_push = ?,
			pipeline = ?, stage = ?, action = ?, callback_url = ?, state = ?, decision = ?, decision_id = ?, deadline = ?,
			created_at = ?, updated_at = ?, created_by = ? WHERE id = ?`), append(args[1:], r.ID)...); err != nil {
			return s.dbErr("update gate request "+id, err)
		}
		if d := u.Decision; d != nil {
			if err := s.insertDecision(ctx, tx, *d, &r); err != nil {
				return err
			}
		}
		if err := s.insertEvents(ctx, tx, u.Events); err != nil {
			return err
		}
		return s.insertDeliveries(ctx, tx, u.Deliveries, nil)
	})
}

func (s *Store) insertDecision(ctx context.Context, tx *sql.Tx, d store.GateDecision, r *store.GateRequest) error {
	switch {
	case d.ID == "":
		return invalid("gate decision on %s: id is required", r.ID)
	case d.RequestID != "" && d.RequestID != r.ID:
		return invalid("gate decision %s: it is on request %s, not %s", d.ID, d.RequestID, r.ID)
	case !gateDecisions[d.Decision]:
		return invalid("gate decision %s: decision %q (want Approved or Rejected)", d.ID, d.Decision)
	}
	d.RequestID = r.ID
	if d.Repository == "" {
		d.Repository = r.Repository
	}
	if d.Digest == "" {
		d.Digest = r.Digest
	}
	if d.DecidedAt.IsZero() {
		d.DecidedAt = s.now()
	}
	findings, err := json.Marshal(d.Findings)
	if err != nil {
		return invalid("gate decision %s: findings: %v", d.ID, err)
	}
	counts, err := json.Marshal(d.Counts)
	if err != nil {
		return invalid("gate decision %s: counts: %v", d.ID, err)
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO gate_decisions (`+gateDecisionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		d.ID, d.RequestID, d.Repository, d.Digest, d.Decision, d.Policy, d.Reason, d.Trigger, findings, counts, d.Supersedes, ms(d.DecidedAt),
		d.DBVersion, d.BaselineDigest)
	return s.dbErr("gate decision "+d.ID, err)
}

const gateDecisionCols = `id, request_id, repository, digest, decision, policy, reason, cause, findings, counts, supersedes, decided_at, db_version, baseline_digest`

func scanGateDecision(sc interface{ Scan(...any) error }) (store.GateDecision, error) {
	var d store.GateDecision
	var findings, counts []byte
	var decided int64
	if err := sc.Scan(&d.ID, &d.RequestID, &d.Repository, &d.Digest, &d.Decision, &d.Policy, &d.Reason, &d.Trigger,
		&findings, &counts, &d.Supersedes, &decided, &d.DBVersion, &d.BaselineDigest); err != nil {
		return d, err
	}
	d.DecidedAt = fromMS(decided)
	if err := json.Unmarshal(findings, &d.Findings); err != nil {
		return d, err
	}
	if err := json.Unmarshal(counts, &d.Counts); err != nil {
		return d, err
	}
	return d, nil
}

func (s *Store) GateDecision(ctx context.Context, id string) (*store.GateDecision, error) {
	d, err := scanGateDecision(s.ro.QueryRowContext(ctx, s.q(`SELECT `+gateDecisionCols+` FROM gate_decisions WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("gate decision %s", id)
	}
	if err != nil {
		return nil, s.dbErr("gate decision", err)
	}
	return &d, nil
}

// GateDecisions pages through decisions, newest first (by DecidedAt, then
// id); RequestID, Repository and Digest match exactly.
func (s *Store) GateDecisions(ctx context.Context, q store.GateDecisionQuery) ([]store.GateDecision, string, error) {
	hash := queryHash("gate decisions", q.RequestID, q.Repository, q.Digest)
	var conds []string
	var args []any
	for _, f := range []struct {
		col, v string
	}{{"request_id", q.RequestID}, {"repository", q.Repository}, {"digest", q.Digest}} {
		if f.v != "" {
			conds, args = append(conds, f.col+" = ?"), append(args, f.v)
		}
	}
	return keysetPage(ctx, s, "gate decisions", `SELECT `+gateDecisionCols+` FROM gate_decisions`, "decided_at", hash, q.Next, q.Limit, conds, args,
		scanGateDecision, func(d *store.GateDecision) (int64, string) { return ms(d.DecidedAt), d.ID })
}
