package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// ClaimDeliveryLanes takes due deliveries as ClaimDeliveries does, within
// the claim's bounds per lane and per rule, in two rounds: first from the
// lanes the claimer holds nothing of, then from any lane with room, so
// that an idle target is never kept behind a busy one's backlog. Each
// round reads candidates the way ClaimDeliveries reads them (locked, on
// PostgreSQL, with SKIP LOCKED), leaving out the lanes and rules that
// are full, at most laneCandidates(n) of them, and chooses among them
// with pickFair.
func (s *Store) ClaimDeliveryLanes(ctx context.Context, c store.LaneClaim) ([]store.Delivery, error) {
	if c.Owner == "" || c.Lease <= 0 || c.N <= 0 || c.PerLane < 0 {
		return nil, invalid("claim delivery lanes: an owner, a positive lease, a positive count and a bound per lane that is not negative are required")
	}
	n := min(c.N, 1000)
	var out []store.Delivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = nil
		now := ms(s.now())
		held := map[store.DeliveryLane]int{}
		for l, h := range c.Held {
			held[l] = h
		}
		taken := map[string]int{}
		var ids []int64
		for _, idleOnly := range []bool{true, false} {
			if len(ids) == n {
				break
			}
			query := `SELECT id, rule, target FROM deliveries
				WHERE state = 'pending' AND next_attempt_at <= ? AND (owner = '' OR lease_until < ?)`
			args := []any{now, now}
			var skip []string
			for l, h := range held {
				if idleOnly && h > 0 || c.PerLane > 0 && h >= c.PerLane {
					skip, args = append(skip, "(rule = ? AND target = ?)"), append(args, l.Rule, l.Target)
				}
			}
			for r, k := range c.PerRule {
				if taken[r] >= k {
					skip, args = append(skip, "rule = ?"), append(args, r)
				}
			}
			if len(skip) > 0 {
				query += ` AND NOT (` + strings.Join(skip, " OR ") + `)`
			}
			if len(ids) > 0 {
				// Taken in the first round: on PostgreSQL this
				// transaction's own locks do not make them skipped.
				in, idArgs := int64List(ids)
				query += ` AND id NOT IN (` + in + `)`
				args = append(args, idArgs...)
			}
			query += ` ORDER BY next_attempt_at, id LIMIT ?` + s.d.SkipLocked
			args = append(args, laneCandidates(n))
			rows, err := tx.QueryContext(ctx, s.q(query), args...)
			if err != nil {
				return s.dbErr("claim delivery lanes", err)
			}
			var cands []laneCandidate
			for rows.Next() {
				var x laneCandidate
				if err := rows.Scan(&x.id, &x.lane.Rule, &x.lane.Target); err != nil {
					rows.Close()
					return s.dbErr("claim delivery lanes", err)
				}
				cands = append(cands, x)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return s.dbErr("claim delivery lanes", err)
			}
			ids = append(ids, pickFair(cands, n-len(ids), c, held, taken)...)
		}
		if len(ids) == 0 {
			return nil
		}
		in, idArgs := int64List(ids)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE deliveries SET owner = ?, lease_until = ? WHERE id IN (`+in+`)`),
			append([]any{c.Owner, now + c.Lease.Milliseconds()}, idArgs...)...); err != nil {
			return s.dbErr("claim delivery lanes", err)
		}
		var err error
		out, err = s.scanDeliveries(tx.QueryContext(ctx, s.q(`SELECT `+deliveryCols+deliveriesFrom+`
			WHERE d.id IN (`+in+`) ORDER BY d.next_attempt_at, d.id`), idArgs...))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type laneCandidate struct {
	id   int64
	lane store.DeliveryLane
}

// pickFair chooses up to n of the candidates (read the longest due first)
// within the claim's bounds, each time from the lane held least (then
// the one read first), counting what it takes in held and taken.
func pickFair(cands []laneCandidate, n int, c store.LaneClaim, held map[store.DeliveryLane]int, taken map[string]int) []int64 {
	var order []store.DeliveryLane // lanes in the order first read
	queue := map[store.DeliveryLane][]int64{}
	for _, x := range cands {
		if _, ok := queue[x.lane]; !ok {
			order = append(order, x.lane)
		}
		queue[x.lane] = append(queue[x.lane], x.id)
	}
	var ids []int64
	for len(ids) < n {
		best := -1
		for i, l := range order {
			if len(queue[l]) == 0 || c.PerLane > 0 && held[l] >= c.PerLane {
				continue
			}
			if k, ok := c.PerRule[l.Rule]; ok && taken[l.Rule] >= k {
				continue
			}
			if best < 0 || held[l] < held[order[best]] {
				best = i
			}
		}
		if best < 0 {
			break
		}
		l := order[best]
		ids = append(ids, queue[l][0])
		queue[l] = queue[l][1:]
		held[l]++
		taken[l.Rule]++
	}
	return ids
}

// laneCandidates is how many rows a round of a claim of n reads to
// choose from.
func laneCandidates(n int) int {
	return min(1000, max(8*n, 256))
}
