package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/vigilsec/vigil/internal/bus"
	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/store"
)

// ruleName is EventBridge's rule name rule.
var ruleName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// hideSecrets blanks the webhook secrets of rules before they are
// answered: a secret is shown once, when the server makes it.
func hideSecrets(r *store.EventRule) {
	for i := range r.Targets {
		if r.Targets[i].Secret != "" {
			r.Targets[i].Secret = ""
			r.Targets[i].HasSecret = true
		}
	}
}

func (h *handler) listRules(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	rules, err := h.opts.Store.EventRules(r.Context())
	if err != nil {
		return err
	}
	if rules == nil {
		rules = []store.EventRule{}
	}
	for i := range rules {
		hideSecrets(&rules[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Rules": rules})
}

func (h *handler) getRule(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	rule, err := h.opts.Store.EventRule(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "event rule %q not found", r.PathValue("name"))
	}
	if err != nil {
		return err
	}
	hideSecrets(rule)
	return writeJSON(w, http.StatusOK, rule)
}

// patternJSON accepts an EventPattern given as a JSON object or, as
// EventBridge's API takes it, as a string holding one.
func patternJSON(raw json.RawMessage) (json.RawMessage, error) {
	p, err := bus.PatternJSON(raw)
	if err != nil {
		return nil, badRequest("%s", trimPrefix(err.Error(), "bus: "))
	}
	return p, nil
}

// putRule creates or replaces a rule, with its targets. A webhook target
// without a Secret keeps the one its Id had, or gets a new one, which the
// answer shows this once.
func (h *handler) putRule(w http.ResponseWriter, r *http.Request) error {
	var rule store.EventRule
	if err := decode(r, &rule); err != nil {
		return err
	}
	name := r.PathValue("name")
	if rule.Name == "" {
		rule.Name = name
	}
	if rule.Name != name {
		return badRequest("Name %q differs from the rule in the path, %q", rule.Name, name)
	}
	if !ruleName.MatchString(name) {
		return badRequest("rule name %q: 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	if err := checkText("Description", rule.Description, maxDescription, false); err != nil {
		return err
	}
	p, err := patternJSON(rule.EventPattern)
	if err != nil {
		return err
	}
	rule.EventPattern = p
	if rule.State == "" {
		rule.State = "ENABLED"
	}
	// A rule read back (HasSecret set, Secret left out) may be sent
	// again as it is: the secrets stay.
	for i := range rule.Targets {
		rule.Targets[i].HasSecret = false
	}
	if err := bus.Validate(&rule); err != nil {
		return badRequest("%s", trimPrefix(err.Error(), "bus: "))
	}
	ctx := r.Context()
	policy := h.opts.Egress
	if policy == nil {
		policy = egress.Default()
	}
	if err := bus.CheckTargets(ctx, policy, &rule); err != nil {
		return badRequest("%s", trimPrefix(err.Error(), "bus: "))
	}
	old, err := h.opts.Store.EventRule(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	shown := map[string]bool{}
	for i := range rule.Targets {
		t := &rule.Targets[i]
		if t.Type != store.TargetWebhook || t.Secret != "" {
			continue
		}
		if old != nil {
			for _, ot := range old.Targets {
				if ot.ID == t.ID && ot.Secret != "" {
					t.Secret = ot.Secret
				}
			}
		}
		if t.Secret == "" {
			t.Secret = newSecret()
			shown[t.ID] = true
		}
	}
	rule.ManagedBy = "api"
	rule.CreatedAt, rule.UpdatedAt = h.now(), h.now()
	if err := h.opts.Store.PutEventRule(ctx, rule); err != nil {
		return err
	}
	stored, err := h.opts.Store.EventRule(ctx, name)
	if err != nil {
		return err
	}
	// The secrets this request made, from what it wrote (not from the
	// rule read back, which a concurrent PUT may have replaced).
	secrets := map[string]string{}
	for _, t := range rule.Targets {
		if shown[t.ID] {
			secrets[t.ID] = t.Secret
		}
	}
	hideSecrets(stored)
	status := http.StatusOK
	if old == nil {
		status = http.StatusCreated
	}
	resp := ruleResponse{EventRule: *stored}
	if len(secrets) > 0 {
		resp.NewSecrets = secrets
	}
	return writeJSON(w, status, resp)
}

// ruleResponse is a stored rule with the webhook secrets the server made
// for it, by target id, shown this once.
type ruleResponse struct {
	store.EventRule
	NewSecrets map[string]string `json:"NewSecrets,omitempty"`
}

func newSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:])
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func (h *handler) deleteRule(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	err := h.opts.Store.DeleteEventRule(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "event rule %q not found", r.PathValue("name"))
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testPatternRequest is EventBridge's TestEventPattern request.
type testPatternRequest struct {
	EventPattern json.RawMessage `json:"EventPattern"`
	Event        json.RawMessage `json:"Event"`
}

// testPattern answers {"Result": true|false}, as TestEventPattern does.
func (h *handler) testPattern(w http.ResponseWriter, r *http.Request) error {
	var req testPatternRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	p, err := patternJSON(req.EventPattern)
	if err != nil {
		return err
	}
	ev, err := patternJSON(req.Event)
	if err != nil {
		return badRequest("Event is required (a JSON object, or a string holding one)")
	}
	ok, err := bus.TestPattern(p, ev)
	if err != nil {
		return badRequest("%s", err.Error())
	}
	return writeJSON(w, http.StatusOK, map[string]bool{"Result": ok})
}

type deliveryPage struct {
	Deliveries []store.Delivery `json:"deliveries"`
	// NextBefore asks for the next (older) page with before=NextBefore.
	NextBefore int64 `json:"nextBefore,omitempty"`
}

func (h *handler) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"state", "rule", "eventId", "before", "maxResults"})
	dq := store.DeliveryQuery{
		State: q.get("state"), Rule: q.get("rule"), EventID: q.get("eventId"),
		Before: q.int("before", 0, 0, 1<<62), Limit: int(q.int("maxResults", 100, 1, 1000)),
	}
	if q.err != nil {
		return q.err
	}
	if !oneOf(dq.State, []string{"", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead}) {
		return badRequest("state %q (pending, delivered or dead)", dq.State)
	}
	ds, err := h.opts.Store.Deliveries(r.Context(), dq)
	if err != nil {
		return err
	}
	page := deliveryPage{Deliveries: ds}
	if page.Deliveries == nil {
		page.Deliveries = []store.Delivery{}
	}
	if len(ds) == dq.Limit {
		page.NextBefore = ds[len(ds)-1].ID
	}
	return writeJSON(w, http.StatusOK, page)
}

func (h *handler) getDelivery(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errorf(http.StatusNotFound, "delivery %q not found", r.PathValue("id"))
	}
	d, err := h.opts.Store.Delivery(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "delivery %d not found", id)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

type redriveRequest struct {
	IDs  []int64 `json:"ids"`
	Rule string  `json:"rule"`
	// All must be set to redrive every dead delivery, so that an empty
	// body does not do it by accident.
	All bool `json:"all"`
}

func (h *handler) redrive(w http.ResponseWriter, r *http.Request) error {
	var req redriveRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.IDs) == 0 && req.Rule == "" && !req.All {
		return badRequest("say what to redrive: ids, a rule, or all: true")
	}
	if len(req.IDs) > 1000 {
		return badRequest("at most 1000 ids at once")
	}
	n, err := h.opts.Store.RedriveDeliveries(r.Context(), req.IDs, req.Rule)
	if err != nil {
		return err
	}
	if h.opts.Wake != nil {
		h.opts.Wake()
	}
	return writeJSON(w, http.StatusOK, map[string]int{"redriven": n})
}
