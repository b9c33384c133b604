package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/events/pattern"
	"github.com/vigilsec/vigil/internal/store"
)

// Retry policy limits and defaults, as EventBridge's.
const (
	DefaultMaxAge      = 86400 * time.Second
	DefaultMaxAttempts = 185
	minAge, maxAge     = 60, 86400
	maxAttempts        = 185
)

// PatternJSON accepts an EventPattern as Vigil's API and files give it (a
// JSON object) or as EventBridge's PutRule takes it (a JSON string holding
// the object), and returns the object. It checks only the outer shape;
// Validate compiles what it returns.
func PatternJSON(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("bus: EventPattern: not a JSON string: %w", err)
		}
		raw = bytes.TrimSpace([]byte(s))
		if len(raw) == 0 {
			return nil, errors.New("bus: EventPattern: the string is empty")
		}
		if raw[0] == '"' {
			return nil, errors.New("bus: EventPattern: a string holding a string; want the pattern object, or a string holding it")
		}
	}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, errors.New("bus: EventPattern is required")
	}
	return raw, nil
}

// Normalize makes a rule given in EventBridge's PutRule shape (EventPattern
// as a string, State left out) the shape Vigil keeps, in place.
func Normalize(r *store.EventRule) error {
	p, err := PatternJSON(r.EventPattern)
	if err != nil {
		if r.Name != "" {
			return fmt.Errorf("bus: rule %s: %s", r.Name, strings.TrimPrefix(err.Error(), "bus: "))
		}
		return err
	}
	r.EventPattern = p
	if r.State == "" {
		r.State = "ENABLED"
	}
	return nil
}

// Validate checks a rule as PutRule and PutTargets would, naming what is
// wrong: the pattern (with the operator and path at fault), each target's
// type, URL, transformer and retry policy.
func Validate(r *store.EventRule) error {
	if r.Name == "" {
		return fmt.Errorf("bus: rule: Name is required")
	}
	if _, err := pattern.Compile(r.EventPattern); err != nil {
		return fmt.Errorf("bus: rule %s: EventPattern: %w", r.Name, err)
	}
	switch r.State {
	case "", "ENABLED", "DISABLED":
	default:
		return fmt.Errorf("bus: rule %s: State %q (ENABLED or DISABLED)", r.Name, r.State)
	}
	seen := map[string]bool{}
	for i, t := range r.Targets {
		where := fmt.Sprintf("bus: rule %s: Targets[%d]", r.Name, i)
		if t.ID == "" {
			return fmt.Errorf("%s: Id is required", where)
		}
		if seen[t.ID] {
			return fmt.Errorf("%s: Id %q is used twice", where, t.ID)
		}
		seen[t.ID] = true
		switch t.Type {
		case store.TargetWebhook:
			u, err := url.Parse(t.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%s (%s): Url %q must be an http or https URL", where, t.ID, t.URL)
			}
		case store.TargetGate, store.TargetLog:
			if t.URL != "" {
				return fmt.Errorf("%s (%s): a %s target takes no Url", where, t.ID, t.Type)
			}
		default:
			return fmt.Errorf("%s (%s): Type %q (webhook, gate or log)", where, t.ID, t.Type)
		}
		if _, err := NewTransformer(t.InputTransformer); err != nil {
			return fmt.Errorf("%s (%s): InputTransformer: %w", where, t.ID, err)
		}
		if p := t.RetryPolicy; p != nil {
			if p.MaximumEventAgeInSeconds != 0 && (p.MaximumEventAgeInSeconds < minAge || p.MaximumEventAgeInSeconds > maxAge) {
				return fmt.Errorf("%s (%s): RetryPolicy.MaximumEventAgeInSeconds %d (%d to %d)", where, t.ID, p.MaximumEventAgeInSeconds, minAge, maxAge)
			}
			if a := p.MaximumRetryAttempts; a != nil && (*a < 0 || *a > maxAttempts) {
				return fmt.Errorf("%s (%s): RetryPolicy.MaximumRetryAttempts %d (0 to %d)", where, t.ID, *a, maxAttempts)
			}
		}
	}
	return nil
}

// CheckTargets checks the URLs of a rule's webhook targets against the
// egress policy, naming the target and why its URL is refused. Validate
// checks their form; this, where the policy is known (the server), what
// they may reach.
func CheckTargets(ctx context.Context, p *egress.Policy, r *store.EventRule) error {
	for i, t := range r.Targets {
		if t.Type != store.TargetWebhook {
			continue
		}
		if err := p.CheckURL(ctx, t.URL); err != nil {
			return fmt.Errorf("bus: rule %s: Targets[%d] (%s): Url: %w", r.Name, i, t.ID, err)
		}
	}
	return nil
}

// compiled is a rule made ready to match and deliver.
type compiled struct {
	rule         store.EventRule
	transformers map[string]*Transformer // by target id
}

// ruleCache keeps the store's rules compiled, reloading them when they
// change: rules are few, and any process may change them.
type ruleCache struct {
	store store.Store
	every time.Duration

	mu     sync.Mutex
	loaded time.Time
	set    *pattern.Set
	rules  map[string]*compiled
	stamp  map[string]time.Time // UpdatedAt per rule, to recompile only what changed
}

func newRuleCache(st store.Store, every time.Duration) *ruleCache {
	return &ruleCache{store: st, every: every, set: &pattern.Set{}, rules: map[string]*compiled{}, stamp: map[string]time.Time{}}
}

// get returns the current rules, reloading them if the last load is older
// than every (or force is set).
func (c *ruleCache) get(ctx context.Context, force bool) (*pattern.Set, map[string]*compiled, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !force && !c.loaded.IsZero() && time.Since(c.loaded) < c.every {
		return c.set, c.rules, nil
	}
	rules, err := c.store.EventRules(ctx)
	if err != nil {
		return c.set, c.rules, err
	}
	present := map[string]bool{}
	var errs []error
	for _, r := range rules {
		present[r.Name] = true
		if old, ok := c.stamp[r.Name]; ok && old.Equal(r.UpdatedAt) {
			continue
		}
		cr, err := compile(r)
		if err != nil {
			// A rule the store accepted but this version cannot read:
			// it matches nothing until fixed, and says why.
			errs = append(errs, err)
			c.set.Remove(r.Name)
			delete(c.rules, r.Name)
			c.stamp[r.Name] = r.UpdatedAt
			continue
		}
		p, _ := pattern.Compile(r.EventPattern)
		if r.State == "DISABLED" {
			c.set.Remove(r.Name)
		} else {
			c.set.Add(r.Name, p)
		}
		c.rules[r.Name] = cr
		c.stamp[r.Name] = r.UpdatedAt
	}
	for name := range c.stamp {
		if !present[name] {
			c.set.Remove(name)
			delete(c.rules, name)
			delete(c.stamp, name)
		}
	}
	c.loaded = time.Now()
	return c.set, c.rules, errors.Join(errs...)
}

func compile(r store.EventRule) (*compiled, error) {
	if err := Validate(&r); err != nil {
		return nil, err
	}
	cr := &compiled{rule: r, transformers: map[string]*Transformer{}}
	for _, t := range r.Targets {
		tr, _ := NewTransformer(t.InputTransformer)
		cr.transformers[t.ID] = tr
	}
	return cr, nil
}

func (c *compiled) target(id string) (*store.Target, bool) {
	for i := range c.rule.Targets {
		if c.rule.Targets[i].ID == id {
			return &c.rule.Targets[i], true
		}
	}
	return nil, false
}
