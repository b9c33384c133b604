package bus

import (
	"context"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Deliveries are worked on by lane — one target of one rule, or one gate
// callback — so that a target that answers slowly, or not at all, holds
// up only its own deliveries: each lane has its own bounded queue and
// its own few workers, and a claim takes no more of a lane than the lane
// has room for, passing over full lanes and serving idle lanes first
// (store.LaneClaim). What is not held stays in the store, due, for this
// process or another to take. The bound on the whole process is there
// for memory; it is large beside a lane's so that it takes many slow
// targets at once to fill it.
const (
	laneParallel = 4   // attempts at once in one lane
	laneHeld     = 8   // deliveries one lane holds: in flight and queued
	maxHeld      = 256 // deliveries the process holds
	maxCallbacks = 128 // of which gate callbacks, each a lane of its own
)

// deliverer holds the lanes of one Run.
type deliverer struct {
	b     *Bus
	lease time.Duration
	// freed is signalled when a delivery ends, so that Run claims more.
	freed chan struct{}
	wg    sync.WaitGroup

	mu        sync.Mutex
	lanes     map[store.DeliveryLane]*lane
	held      int
	callbacks int
}

// lane is what the process holds of one lane.
type lane struct {
	queue   []store.Delivery
	running int // workers
	held    int // queued and in flight
}

func newDeliverer(b *Bus) *deliverer {
	// A delivery waits at most for the attempts ahead of it in its lane
	// (laneHeld/laneParallel rounds, each bounded by the timeout), then
	// for its own: the lease outlasts that, so that no other claimer
	// takes it meanwhile.
	lease := max(b.Lease, time.Duration(laneHeld/laneParallel+1)*b.timeout()+b.timeout())
	return &deliverer{b: b, lease: lease, freed: make(chan struct{}, 1), lanes: map[store.DeliveryLane]*lane{}}
}

// claim takes as many due deliveries as the lanes have room for and
// starts them. It returns how many it took.
func (d *deliverer) claim(ctx context.Context) (int, error) {
	d.mu.Lock()
	room := maxHeld - d.held
	held := make(map[store.DeliveryLane]int, len(d.lanes))
	for k, l := range d.lanes {
		held[k] = l.held
	}
	callbacks := maxCallbacks - d.callbacks
	d.mu.Unlock()
	if room <= 0 {
		return 0, nil
	}
	ds, err := d.b.Store.ClaimDeliveryLanes(ctx, store.LaneClaim{
		Owner: d.b.Owner, Lease: d.lease, N: room, PerLane: laneHeld, Held: held,
		PerRule: map[string]int{"": max(callbacks, 0)},
	})
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dl := range ds {
		k := store.DeliveryLane{Rule: dl.Rule, Target: dl.Target}
		l := d.lanes[k]
		if l == nil {
			l = &lane{}
			d.lanes[k] = l
		}
		l.queue = append(l.queue, dl)
		l.held++
		d.held++
		if dl.Rule == "" {
			d.callbacks++
		}
		if l.running < laneParallel {
			l.running++
			d.wg.Add(1)
			go d.work(ctx, k, l)
		}
	}
	return len(ds), nil
}

// work attempts a lane's queued deliveries until none is left.
func (d *deliverer) work(ctx context.Context, k store.DeliveryLane, l *lane) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(l.queue) == 0 {
			l.running--
			if l.running == 0 && l.held == 0 {
				delete(d.lanes, k)
			}
			d.mu.Unlock()
			return
		}
		dl := l.queue[0]
		l.queue = l.queue[1:]
		d.mu.Unlock()

		d.b.deliver(ctx, &dl)

		d.mu.Lock()
		l.held--
		d.held--
		if dl.Rule == "" {
			d.callbacks--
		}
		// Claim more once the lane is half empty, or the process had no
		// room: one claim per delivery would cost a write transaction
		// each.
		refill := l.held <= laneHeld/2 || d.held+1 == maxHeld || dl.Rule == "" && d.callbacks+1 == maxCallbacks
		d.mu.Unlock()
		if refill {
			select {
			case d.freed <- struct{}{}:
			default:
			}
		}
	}
}

// wait returns once every worker has ended (their context is done).
func (d *deliverer) wait() { d.wg.Wait() }
