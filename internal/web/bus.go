package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// eventRuleRow is an event rule as the console shows it: never with its
// webhook secrets.
type eventRuleRow struct {
	store.EventRule
	Pattern string
	// Dead counts the rule's dead-letter deliveries (of the latest
	// page).
	Dead int
}

type eventRulesView struct {
	Rules []eventRuleRow
	Error string
}

func (c *console) eventRules(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	v := eventRulesView{}
	rules, err := c.opts.Store.EventRules(ctx)
	if err != nil {
		v.Error = c.errNote("Event rules", err)
	}
	for _, rule := range rules {
		for i := range rule.Targets {
			if rule.Targets[i].Secret != "" {
				rule.Targets[i].Secret, rule.Targets[i].HasSecret = "", true
			}
		}
		row := eventRuleRow{EventRule: rule, Pattern: prettyJSON(rule.EventPattern)}
		if dead, err := c.opts.Store.Deliveries(ctx, store.DeliveryQuery{State: store.DeliveryDead, Rule: rule.Name, Limit: 100}); err == nil {
			row.Dead = len(dead)
		}
		v.Rules = append(v.Rules, row)
	}
	c.render(w, r, rc, http.StatusOK, "rules", "Event rules", "rules", v)
	return nil
}

// setEventRuleState enables or disables a rule, leaving the rest of it
// (secrets included) as stored.
func (c *console) setEventRuleState(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	state := r.PostFormValue("state")
	if state != "ENABLED" && state != "DISABLED" {
		return badRequest("state must be ENABLED or DISABLED.")
	}
	rule, err := c.eventRuleFor(r)
	if err != nil {
		return err
	}
	rule.State, rule.UpdatedAt = state, c.now()
	if err := c.opts.Store.PutEventRule(ctx, *rule); err != nil {
		return err
	}
	redirect(w, r, "/rules", "rule-"+strings.ToLower(state))
	return nil
}

func (c *console) deleteEventRule(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rule, err := c.eventRuleFor(r)
	if err != nil {
		return err
	}
	err = c.opts.Store.DeleteEventRule(r.Context(), rule.Name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("Event rule %q does not exist.", rule.Name))
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/rules", "rule-deleted")
	return nil
}

// eventRuleFor is the rule a form changes. Rules from the configuration
// file are changed there: the file replaces them at each start.
func (c *console) eventRuleFor(r *http.Request) (*store.EventRule, error) {
	name := r.PathValue("name")
	rule, err := c.opts.Store.EventRule(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(fmt.Sprintf("Event rule %q does not exist.", name))
	}
	if err != nil {
		return nil, err
	}
	if rule.ManagedBy == "config" {
		return nil, &pageError{status: http.StatusConflict, title: "Managed by the configuration file",
			msg: fmt.Sprintf("Event rule %q comes from the configuration file, which replaces it at each start: change it there.", name)}
	}
	return rule, nil
}

var deliveryStates = []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryDead}

// deliveryRow is a delivery with what its event says.
type deliveryRow struct {
	store.Delivery
	DetailType string
}

func detailType(env json.RawMessage) (detailType, source string) {
	var e struct {
		DetailType string `json:"detail-type"`
		Source     string `json:"source"`
	}
	if json.Unmarshal(env, &e) != nil {
		return "", ""
	}
	return e.DetailType, e.Source
}

type deliveriesView struct {
	State, Rule string
	Deliveries  []deliveryRow
	NextURL     string
	Error       string
	// Tabs link the states, with the rule kept.
	Tabs []deliveryTab
}

type deliveryTab struct {
	Label, State, URL string
}

func (c *console) deliveries(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	v := deliveriesView{State: q.Get("state"), Rule: q.Get("rule")}
	status := http.StatusOK
	before, err := strconv.ParseInt(q.Get("before"), 10, 64)
	if q.Get("before") == "" {
		before, err = 0, nil
	}
	switch {
	case v.State != "" && !contains(deliveryStates, v.State):
		v.Error = fmt.Sprintf("state %q is not one of pending, delivered, dead.", v.State)
		v.State, status = "", http.StatusBadRequest
	case err != nil || before < 0:
		v.Error = fmt.Sprintf("before %q is not a delivery id.", q.Get("before"))
		status = http.StatusBadRequest
	}
	link := func(state string, before int64) string {
		u := url.Values{}
		if state != "" {
			u.Set("state", state)
		}
		if v.Rule != "" {
			u.Set("rule", v.Rule)
		}
		if before > 0 {
			u.Set("before", strconv.FormatInt(before, 10))
		}
		if len(u) == 0 {
			return "/deliveries"
		}
		return "/deliveries?" + u.Encode()
	}
	for _, t := range []struct{ label, state string }{{"All", ""}, {"Pending", store.DeliveryPending}, {"Delivered", store.DeliveryDelivered}, {"Dead letters", store.DeliveryDead}} {
		v.Tabs = append(v.Tabs, deliveryTab{Label: t.label, State: t.state, URL: link(t.state, 0)})
	}
	if v.Error == "" {
		ds, err := c.opts.Store.Deliveries(r.Context(), store.DeliveryQuery{State: v.State, Rule: v.Rule, Before: before, Limit: pageSize})
		if err != nil {
			v.Error = c.errNote("Deliveries", err)
		}
		for _, d := range ds {
			dt, _ := detailType(d.Envelope)
			v.Deliveries = append(v.Deliveries, deliveryRow{Delivery: d, DetailType: dt})
		}
		if len(ds) == pageSize {
			v.NextURL = link(v.State, ds[len(ds)-1].ID)
		}
	}
	title := "Deliveries"
	if v.State == store.DeliveryDead {
		title = "Dead-letter deliveries"
	}
	c.render(w, r, rc, status, "deliveries", title, "deliveries", v)
	return nil
}

type deliveryView struct {
	D     *store.Delivery
	Event string
	// DetailType and Source are read from the event.
	DetailType, Source string
}

func (c *console) delivery(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return notFound(fmt.Sprintf("%q is not a delivery id.", r.PathValue("id")))
	}
	d, err := c.opts.Store.Delivery(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("Delivery %d does not exist.", id))
	}
	if err != nil {
		return err
	}
	v := deliveryView{D: d, Event: prettyJSON(d.Envelope)}
	v.DetailType, v.Source = detailType(d.Envelope)
	c.render(w, r, rc, http.StatusOK, "delivery", fmt.Sprintf("Delivery %d", id), "deliveries", v)
	return nil
}

// redrive puts dead deliveries back as pending: those ticked (ids), or
// every dead one of a rule, or every dead one (all=1).
func (c *console) redrive(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var ids []int64
	for _, s := range r.PostForm["id"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return badRequest(fmt.Sprintf("%q is not a delivery id.", s))
		}
		ids = append(ids, id)
	}
	rule := r.PostFormValue("rule")
	if len(ids) == 0 && rule == "" && r.PostFormValue("all") != "1" {
		return badRequest("Tick the deliveries to redrive, or redrive every dead delivery.")
	}
	if len(ids) > 1000 {
		return badRequest("Redrive at most 1000 deliveries at once.")
	}
	if len(ids) > 0 {
		rule = ""
	}
	if _, err := c.opts.Store.RedriveDeliveries(r.Context(), ids, rule); err != nil {
		return err
	}
	if c.opts.Wake != nil {
		c.opts.Wake()
	}
	back := "/deliveries?state=dead"
	if rule != "" {
		back += "&rule=" + url.QueryEscape(rule)
	}
	redirect(w, r, back, "redriven")
	return nil
}
