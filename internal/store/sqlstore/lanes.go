package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// ClaimDeliveryLanes takes due deliveries as ClaimDeliveries does, within
// the claim's bounds per lane and per rule. Candidates are read the way
// ClaimDeliveries reads them (locked, on PostgreSQL, with SKIP LOCKED),
// leaving out the lanes and rules that are already full, and at most
// laneCandidates(n) of them; the bounds are then applied in the order
// read, so that a full lane with a long backlog cannot crowd the others
// out of a claim.
func (s *Store) ClaimDeliveryLanes(ctx context.Context, c store.LaneClaim) ([]store.Delivery, error) {
	if c.Owner == "" || c.Lease <= 0 || c.N <= 0 || c.PerLane < 0 {
		return nil, invalid("claim delivery lanes: an owner, a positive lease, a positive count and a bound per lane that is not negative are required")
	}
	n := min(c.N, 1000)
	var full []string
	var fullArgs []any
	if c.PerLane > 0 {
		for l, h := range c.Held {
			if h >= c.PerLane {
				full, fullArgs = append(full, "(rule = ? AND target = ?)"), append(fullArgs, l.Rule, l.Target)
			}
		}
	}
	for r, k := range c.PerRule {
		if k <= 0 {
			full, fullArgs = append(full, "rule = ?"), append(fullArgs, r)
		}
	}
	var out []store.Delivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = nil
		now := ms(s.now())
		query := `SELECT id, rule, target FROM deliveries
			WHERE state = 'pending' AND next_attempt_at <= ? AND (owner = '' OR lease_until < ?)`
		args := []any{now, now}
		if len(full) > 0 {
			query += ` AND NOT (` + strings.Join(full, " OR ") + `)`
			args = append(args, fullArgs...)
		}
		query += ` ORDER BY next_attempt_at, id LIMIT ?` + s.d.SkipLocked
		args = append(args, laneCandidates(n))
		rows, err := tx.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return s.dbErr("claim delivery lanes", err)
		}
		held := map[store.DeliveryLane]int{}
		for l, h := range c.Held {
			held[l] = h
		}
		taken := map[string]int{}
		var ids []int64
		for rows.Next() {
			var id int64
			var l store.DeliveryLane
			if err := rows.Scan(&id, &l.Rule, &l.Target); err != nil {
				rows.Close()
				return s.dbErr("claim delivery lanes", err)
			}
			if len(ids) == n {
				continue // read to the end: the rows stay locked until commit either way
			}
			if c.PerLane > 0 && held[l] >= c.PerLane {
				continue
			}
			if k, ok := c.PerRule[l.Rule]; ok && taken[l.Rule] >= k {
				continue
			}
			held[l]++
			taken[l.Rule]++
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.dbErr("claim delivery lanes", err)
		}
		if len(ids) == 0 {
			return nil
		}
		in, idArgs := int64List(ids)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE deliveries SET owner = ?, lease_until = ? WHERE id IN (`+in+`)`),
			append([]any{c.Owner, now + c.Lease.Milliseconds()}, idArgs...)...); err != nil {
			return s.dbErr("claim delivery lanes", err)
		}
		out, err = s.scanDeliveries(tx.QueryContext(ctx, s.q(`SELECT `+deliveryCols+deliveriesFrom+`
			WHERE d.id IN (`+in+`) ORDER BY d.next_attempt_at, d.id`), idArgs...))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// laneCandidates is how many rows a claim of n reads to choose from.
func laneCandidates(n int) int {
	return min(1000, max(8*n, 256))
}
