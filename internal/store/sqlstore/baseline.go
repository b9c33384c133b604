package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// LastApproved is the newest decision approving an image of repository
// for stage that is still its request's latest decision, other than one
// of the digests excluded.
func (s *Store) LastApproved(ctx context.Context, repository, stage string, exclude ...string) (*store.GateDecision, error) {
	if len(exclude) > 100 {
		return nil, invalid("last approved image: %d digests to leave out, at most 100", len(exclude))
	}
	args := []any{repository, stage, store.Approved, store.Approved}
	cond := ""
	for _, d := range exclude {
		cond += " AND d.digest <> ?"
		args = append(args, d)
	}
	d, err := scanGateDecision(s.ro.QueryRowContext(ctx, s.q(`SELECT `+prefixCols("d.", gateDecisionCols)+`
		FROM gate_requests r JOIN gate_decisions d ON d.id = r.decision_id
		WHERE r.repository = ? AND r.stage = ? AND r.decision = ? AND d.decision = ? AND d.digest <> ''`+cond+`
		ORDER BY d.decided_at DESC, d.id DESC LIMIT 1`), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("approved image of %s for stage %q", repository, stage)
	}
	if err != nil {
		return nil, s.dbErr("last approved image", err)
	}
	return &d, nil
}

// prefixCols qualifies each of a comma-separated list of columns.
func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
