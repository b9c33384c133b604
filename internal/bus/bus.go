package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/events/pattern"
	"github.com/vigilsec/vigil/internal/store"
)

// GateHandler is the gate target: it takes an event and decides what the
// event settles.
type GateHandler interface {
	HandleEvent(ctx context.Context, envelope []byte) error
}

// Callbacks sends gate decisions to the pipelines that asked for them: it
// returns the URL, the body and the key that signs it, for a delivery
// whose target is "callback/<request id>".
type Callbacks interface {
	Callback(ctx context.Context, requestID string, envelope []byte) (url string, body []byte, key string, err error)
}

// CallbackPrefix starts the target of a gate callback delivery.
const CallbackPrefix = "callback/"

// Bus dispatches and delivers events. Its fields are set before Run and
// not changed.
type Bus struct {
	Store store.Store
	Gate  GateHandler
	// Callbacks resolves gate callbacks (nil: they fail).
	Callbacks Callbacks
	// Egress decides where webhooks and callbacks may connect (nil:
	// egress.Default(), which refuses loopback, private, link-local and
	// metadata addresses); every request goes through its client.
	Egress *egress.Policy
	// Timeout bounds one HTTP attempt — a webhook or a callback —
	// (default 10 s): an attempt that runs out is a failed attempt,
	// retried as any other.
	Timeout time.Duration
	Log     *slog.Logger
	// Owner names this process in delivery leases; Lease is how long a
	// claim lasts.
	Owner string
	Lease time.Duration
	// Poll is how often to look for new events and due deliveries when
	// not woken.
	Poll time.Duration
	// BackoffBase and BackoffMax shape the exponential backoff between
	// attempts (defaults 1 s and 5 min), with jitter.
	BackoffBase, BackoffMax time.Duration
	// Account and Region make rule ARNs for input transformers.
	Account, Region string
	// Wake, when not nil, wakes the bus at once (events appended in this
	// process).
	Wake <-chan struct{}
	Now  func() time.Time

	rulesOnce sync.Once
	rules     *ruleCache

	clientOnce sync.Once
	client     *http.Client
}

// DefaultTimeout bounds one attempt when Timeout is not set.
const DefaultTimeout = 10 * time.Second

func (b *Bus) timeout() time.Duration {
	if b.Timeout > 0 {
		return b.Timeout
	}
	return DefaultTimeout
}

func (b *Bus) httpClient() *http.Client {
	b.clientOnce.Do(func() {
		p := b.Egress
		if p == nil {
			p = egress.Default()
		}
		b.client = p.Client()
	})
	return b.client
}

func (b *Bus) now() time.Time {
	if b.Now != nil {
		return b.Now().UTC()
	}
	return time.Now().UTC()
}

func (b *Bus) cache() *ruleCache {
	b.rulesOnce.Do(func() { b.rules = newRuleCache(b.Store, time.Second) })
	return b.rules
}

// Run dispatches and delivers until ctx is done. Deliveries are worked
// on by lane (see lanes.go): a slow or dead target holds up only its own.
func (b *Bus) Run(ctx context.Context) {
	if b.Poll <= 0 {
		b.Poll = 250 * time.Millisecond
	}
	if b.Lease <= 0 {
		b.Lease = 60 * time.Second
	}
	d := newDeliverer(b)
	defer d.wait()
	for {
		n, err := b.Dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			b.Log.Error("dispatching events", "err", err)
		}
		m, err := d.claim(ctx)
		if err != nil && ctx.Err() == nil {
			b.Log.Error("delivering events", "err", err)
		}
		if n > 0 || m > 0 {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-b.Wake:
		case <-d.freed:
		case <-time.After(b.Poll):
		}
	}
}

// dispatchBatch bounds the events one dispatch transaction reads.
const dispatchBatch = 500

// Dispatch turns the events after the cursor into deliveries, one for
// each target of each enabled rule whose pattern matches. It returns how
// many events it read.
func (b *Bus) Dispatch(ctx context.Context) (int, error) {
	set, rules, err := b.cache().get(ctx, false)
	if err != nil {
		b.Log.Warn("event rules", "err", err)
	}
	total := 0
	for {
		n, err := b.Store.DispatchEvents(ctx, dispatchBatch, func(evs []store.Event) ([]store.Delivery, error) {
			var out []store.Delivery
			for _, e := range evs {
				pe, err := pattern.ParseEvent(e.Envelope)
				if err != nil {
					// Events are written by Vigil; one that is not JSON
					// is skipped, not retried for ever.
					b.Log.Error("an event is not JSON; it matches no rule", "event", e.ID, "err", err)
					continue
				}
				for _, name := range set.MatchesEvent(pe) {
					cr := rules[name]
					if cr == nil {
						continue
					}
					for _, t := range cr.rule.Targets {
						out = append(out, store.Delivery{EventID: e.ID, EventSeq: e.Seq, Rule: name, Target: t.ID, WindowStart: e.Time})
					}
				}
			}
			return out, nil
		})
		total += n
		if err != nil || n < dispatchBatch {
			return total, err
		}
	}
}

// deliver makes one attempt on a delivery this process holds and records
// it.
func (b *Bus) deliver(ctx context.Context, d *store.Delivery) {
	_, rules, err := b.cache().get(ctx, false)
	if err != nil {
		b.Log.Warn("event rules", "err", err)
	}
	o := b.attempt(ctx, d, rules)
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the delivery is taken again
	}
	if err := b.Store.FinishDelivery(ctx, d.ID, b.Owner, o); err != nil && !errors.Is(err, store.ErrNotFound) {
		b.Log.Error("recording a delivery", "delivery", d.ID, "err", err)
	}
}

// failure is an attempt that failed; permanent ones are not retried.
type failure struct {
	err       error
	status    int
	permanent bool
}

// attempt delivers d once and says what became of it.
func (b *Bus) attempt(ctx context.Context, d *store.Delivery, rules map[string]*compiled) store.DeliveryOutcome {
	var policy *store.RetryPolicy
	var f *failure
	if id, ok := strings.CutPrefix(d.Target, CallbackPrefix); ok && d.Rule == "" {
		f = b.callback(ctx, d, id)
	} else {
		cr := rules[d.Rule]
		var t *store.Target
		if cr != nil {
			t, _ = cr.target(d.Target)
		}
		if t == nil {
			// Deleted since dispatch: nothing to deliver to. Kept in the
			// dead-letter list, where a redrive after the rule is
			// restored delivers it.
			f = &failure{err: fmt.Errorf("rule %s has no target %s (deleted?)", d.Rule, d.Target), permanent: true}
		} else {
			policy = t.RetryPolicy
			f = b.send(ctx, d, cr, t)
		}
	}
	now := b.now()
	if f == nil {
		return store.DeliveryOutcome{State: store.DeliveryDelivered, Status: 200}
	}
	o := store.DeliveryOutcome{Error: f.err.Error(), Status: f.status}
	if len(o.Error) > 1000 {
		o.Error = o.Error[:1000] + "…"
	}
	maxAge, maxTries := DefaultMaxAge, DefaultMaxAttempts
	if policy != nil {
		if policy.MaximumEventAgeInSeconds > 0 {
			maxAge = time.Duration(policy.MaximumEventAgeInSeconds) * time.Second
		}
		if policy.MaximumRetryAttempts != nil {
			maxTries = *policy.MaximumRetryAttempts
		}
	}
	// Attempts before this one were the first and d.Attempts-1 retries:
	// one more retry is allowed while d.Attempts < maxTries.
	retries := d.Attempts
	next := now.Add(b.backoff(d.Attempts + 1))
	switch {
	case f.permanent:
		o.State = store.DeliveryDead
	case retries >= maxTries:
		o.State = store.DeliveryDead
		o.Error += fmt.Sprintf(" (gave up after %d attempts)", d.Attempts+1)
	case next.Sub(d.WindowStart) > maxAge:
		o.State = store.DeliveryDead
		o.Error += fmt.Sprintf(" (gave up: the event would be older than %s)", maxAge)
	default:
		o.State, o.NextAttemptAt = store.DeliveryPending, next
	}
	if o.State == store.DeliveryDead {
		b.Log.Warn("delivery moved to the dead-letter list", "delivery", d.ID, "rule", d.Rule, "target", d.Target, "event", d.EventID, "err", o.Error)
	}
	return o
}

// backoff is the wait before attempt n+1: exponential from BackoffBase,
// capped at BackoffMax, with jitter between half and all of it.
func (b *Bus) backoff(n int) time.Duration {
	base, limit := b.BackoffBase, b.BackoffMax
	if base <= 0 {
		base = time.Second
	}
	if limit <= 0 {
		limit = 5 * time.Minute
	}
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

// send delivers to a rule's target.
func (b *Bus) send(ctx context.Context, d *store.Delivery, cr *compiled, t *store.Target) *failure {
	body, isJSON := []byte(d.Envelope), true
	if tr := cr.transformers[t.ID]; tr != nil {
		var err error
		body, isJSON, err = tr.Apply(d.Envelope, Context{RuleName: cr.rule.Name, RuleARN: b.ruleARN(cr.rule.Name), Ingestion: d.WindowStart})
		if err != nil {
			return &failure{err: err, permanent: true}
		}
	}
	switch t.Type {
	case store.TargetLog:
		b.Log.Info("event", "rule", cr.rule.Name, "target", t.ID, "event", d.EventID, "input", string(body))
		return nil
	case store.TargetGate:
		if b.Gate == nil {
			return &failure{err: errors.New("no gate in this process")}
		}
		if err := b.Gate.HandleEvent(ctx, d.Envelope); err != nil {
			return &failure{err: fmt.Errorf("gate: %w", err)}
		}
		return nil
	case store.TargetWebhook:
		return b.post(ctx, d, t.URL, body, isJSON, t.Secret, cr.rule.Name)
	}
	return &failure{err: fmt.Errorf("unknown target type %q", t.Type), permanent: true}
}

func (b *Bus) callback(ctx context.Context, d *store.Delivery, requestID string) *failure {
	if b.Callbacks == nil {
		return &failure{err: errors.New("no gate callbacks in this process")}
	}
	url, body, key, err := b.Callbacks.Callback(ctx, requestID, d.Envelope)
	if err != nil {
		return &failure{err: err, permanent: errors.Is(err, store.ErrNotFound)}
	}
	return b.post(ctx, d, url, body, true, key, "")
}

func (b *Bus) ruleARN(name string) string {
	region, account := b.Region, b.Account
	if region == "" {
		region = "local"
	}
	if account == "" {
		account = "000000000000"
	}
	return "arn:aws:events:" + region + ":" + account + ":rule/" + name
}

// post sends one signed webhook request, through the egress policy's
// client. 2xx is success; 408, 429, 5xx, transport errors and running out
// of time are retried; an address the policy refuses, a redirect (never
// followed) and any other status are permanent (the receiver refuses the
// event, and will on every attempt).
func (b *Bus) post(ctx context.Context, d *store.Delivery, url string, body []byte, isJSON bool, secret, rule string) *failure {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &failure{err: err, permanent: true}
	}
	ct := "text/plain; charset=utf-8"
	if isJSON {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "vigil-events")
	req.Header.Set(HeaderEventID, d.EventID)
	req.Header.Set(HeaderDeliveryID, strconv.FormatInt(d.ID, 10))
	req.Header.Set(HeaderAttempt, strconv.Itoa(d.Attempts+1))
	if rule != "" {
		req.Header.Set(HeaderRule, rule)
	}
	if secret != "" {
		req.Header.Set(HeaderSignature, Sign(secret, b.now(), body))
	}
	resp, err := b.httpClient().Do(req)
	if err != nil {
		var denied *egress.DeniedError
		switch {
		case errors.As(err, &denied):
			return &failure{err: fmt.Errorf("POST %s: %w", redact(url), denied), permanent: true}
		case errors.Is(err, context.DeadlineExceeded):
			return &failure{err: fmt.Errorf("POST %s: no answer within %s", redact(url), b.timeout())}
		}
		return &failure{err: fmt.Errorf("POST %s: %w", redact(url), errors.Unwrap(err))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	f := &failure{status: resp.StatusCode, err: fmt.Errorf("POST %s: %s %s", redact(url), resp.Status, strings.TrimSpace(string(snippet)))}
	switch {
	case resp.StatusCode/100 == 3:
		f.err = fmt.Errorf("POST %s: %s: redirects are not followed (Location: %s)", redact(url), resp.Status, redact(resp.Header.Get("Location")))
		f.permanent = true
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
	default:
		f.permanent = true
	}
	return f
}

// redact drops a URL's user information and query, which may hold
// credentials, from what is logged and stored.
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if s, rest, ok := strings.Cut(u, "://"); ok {
		if at := strings.IndexByte(rest, '@'); at >= 0 && at < strings.IndexByte(rest+"/", '/') {
			rest = rest[at+1:]
		}
		u = s + "://" + rest
	}
	return u
}

// TestPattern answers EventBridge's TestEventPattern: whether the event
// matches the pattern.
func TestPattern(patternJSON, event []byte) (bool, error) {
	p, err := pattern.Compile(patternJSON)
	if err != nil {
		return false, err
	}
	if !json.Valid(event) {
		return false, fmt.Errorf("bus: the event is not JSON")
	}
	return p.Match(event)
}
