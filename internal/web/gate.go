package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
)

type gateView struct {
	Policies []store.GatePolicy
	// Builtin is the default policy that applies while no stored policy
	// covers every repository.
	Builtin        *store.GatePolicy
	Pending        []store.GateRequest
	Decisions      []store.GateDecision
	Repository     string
	NextURL        string
	PoliciesError  string
	PendingError   string
	DecisionsError string
}

func (c *console) gate(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	q := r.URL.Query()
	v := gateView{Repository: q.Get("repository")}
	status := http.StatusOK
	ps, err := c.opts.Store.GatePolicies(ctx)
	if err != nil {
		v.PoliciesError = c.errNote("Gate policies", err)
	} else {
		v.Policies = ps
		hasDefault := false
		for _, p := range ps {
			hasDefault = hasDefault || p.Repository == ""
		}
		if !hasDefault {
			d := gate.DefaultPolicy()
			v.Builtin = &d
		}
	}
	if v.Pending, _, err = c.opts.Store.GateRequests(ctx, store.GateRequestQuery{State: store.GatePending, Repository: v.Repository, Limit: 20}); err != nil {
		v.PendingError = c.errNote("Pending requests", err)
	}
	ds, next, err := c.opts.Store.GateDecisions(ctx, store.GateDecisionQuery{Repository: v.Repository, Limit: pageSize, Next: q.Get("next")})
	switch {
	case errors.Is(err, store.ErrInvalid):
		v.DecisionsError, status = invalidMessage(err), http.StatusBadRequest
	case err != nil:
		v.DecisionsError = c.errNote("Gate decisions", err)
	}
	v.Decisions = ds
	if next != "" {
		u := url.Values{"next": {next}}
		if v.Repository != "" {
			u.Set("repository", v.Repository)
		}
		v.NextURL = "/gate?" + u.Encode()
	}
	c.render(w, r, rc, status, "gate", "Deployment gate", "gate", v)
	return nil
}

type decisionView struct {
	D       *store.GateDecision
	Request *store.GateRequest
}

func (c *console) gateDecision(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	id := r.PathValue("id")
	d, err := c.opts.Store.GateDecision(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("Gate decision %q does not exist.", id))
	}
	if err != nil {
		return err
	}
	v := decisionView{D: d}
	if req, err := c.opts.Store.GateRequest(ctx, d.RequestID); err == nil {
		req.Token = "" // the pipeline's, never shown
		v.Request = req
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	c.render(w, r, rc, http.StatusOK, "decision", d.Decision+" — "+d.Repository, "gate", v)
	return nil
}

func (c *console) deleteGatePolicy(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	name := r.PathValue("name")
	err := c.opts.Store.DeleteGatePolicy(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("Gate policy %q does not exist.", name))
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/gate", "policy-deleted")
	return nil
}
