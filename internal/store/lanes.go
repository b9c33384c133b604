package store

import "time"

// DeliveryLane is the work of one target of one rule: a gate callback
// (no rule) is a lane of its own.
type DeliveryLane struct {
	Rule, Target string
}

// LaneClaim asks for due pending deliveries, as ClaimDeliveries takes
// them (nobody holds them, or the holder's lease ran out; the longest
// due first), within bounds, and each time from the lane the claimer
// holds least of, so that an idle lane is served before a busy one.
type LaneClaim struct {
	Owner string
	Lease time.Duration
	// N bounds the deliveries taken in all (at most 1000).
	N int
	// PerLane bounds what the claimer holds of one lane: with Held[l]
	// already held, at most PerLane-Held[l] of lane l are taken. 0: no
	// bound.
	PerLane int
	Held    map[DeliveryLane]int
	// PerRule bounds the deliveries of a rule taken ("" is the rule of
	// gate callbacks): at most PerRule[r], 0 meaning none. A rule not in
	// the map has no bound.
	PerRule map[string]int
}
