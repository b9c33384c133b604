package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/vulndb"
)

func (h *handler) gate() (*gate.Gate, error) {
	if h.opts.Gate == nil {
		return nil, errorf(http.StatusNotFound, "this server has no deployment gate")
	}
	return h.opts.Gate, nil
}

func (h *handler) listPolicies(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	ps, err := h.opts.Store.GatePolicies(r.Context())
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []store.GatePolicy{}
	}
	// The built-in default applies while no stored policy has
	// repository "": say so, so that nobody wonders what is judged.
	hasDefault := false
	for _, p := range ps {
		hasDefault = hasDefault || p.Repository == ""
	}
	resp := map[string]any{"policies": ps}
	if !hasDefault {
		resp["builtinDefault"] = gate.DefaultPolicy()
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (h *handler) getPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	p, err := h.opts.Store.GatePolicy(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "gate policy %q not found", r.PathValue("name"))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (h *handler) putPolicy(w http.ResponseWriter, r *http.Request) error {
	var p store.GatePolicy
	if err := decode(r, &p); err != nil {
		return err
	}
	name := r.PathValue("name")
	if p.Name == "" {
		p.Name = name
	}
	if p.Name != name {
		return badRequest("name %q differs from the policy in the path, %q", p.Name, name)
	}
	if err := gate.ValidatePolicy(&p); err != nil {
		return badRequest("%s", trimPrefix(err.Error(), "gate: "))
	}
	ctx := r.Context()
	_, err := h.opts.Store.GatePolicy(ctx, name)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return err
	}
	p.CreatedAt, p.UpdatedAt = h.now(), h.now()
	err = h.opts.Store.PutGatePolicy(ctx, p)
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "another policy already covers repository %q", p.Repository)
	}
	if err != nil {
		return err
	}
	stored, err := h.opts.Store.GatePolicy(ctx, name)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, stored)
}

func (h *handler) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	err := h.opts.Store.DeleteGatePolicy(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "gate policy %q not found", r.PathValue("name"))
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// createGateRequest registers a pipeline's approval request. The answer
// holds the request's token, shown only here; the pipeline gets it back
// with every decision.
func (h *handler) createGateRequest(w http.ResponseWriter, r *http.Request) error {
	g, err := h.gate()
	if err != nil {
		return err
	}
	var in gate.RequestInput
	if err := decode(r, &in); err != nil {
		return err
	}
	for _, f := range []struct {
		name, v string
	}{{"pipeline", in.Pipeline}, {"stage", in.Stage}, {"action", in.Action}} {
		if err := checkText(f.name, f.v, maxName, f.name == "pipeline"); err != nil {
			return err
		}
	}
	in.CreatedBy = principal(r.Context()).Name
	req, err := g.Request(r.Context(), in)
	if errors.Is(err, gate.ErrInvalid) {
		return badRequest("%s", trimPrefix(err.Error(), gate.ErrInvalid.Error()+": "))
	}
	if err != nil {
		return err
	}
	resp, err := h.requestWithDecision(r, req)
	if err != nil {
		return err
	}
	resp.Request.Token = req.Token
	w.Header().Set("Location", Prefix+"/gate/requests/"+req.ID)
	return writeJSON(w, http.StatusCreated, resp)
}

// gateRequestResponse is a request with its latest decision.
type gateRequestResponse struct {
	Request  store.GateRequest   `json:"request"`
	Decision *store.GateDecision `json:"decision,omitempty"`
}

func (h *handler) requestWithDecision(r *http.Request, req *store.GateRequest) (*gateRequestResponse, error) {
	resp := &gateRequestResponse{Request: *req}
	resp.Request.Token = ""
	if req.DecisionID != "" {
		d, err := h.opts.Store.GateDecision(r.Context(), req.DecisionID)
		if err != nil {
			return nil, err
		}
		resp.Decision = d
	}
	return resp, nil
}

// maxWait bounds a long poll.
const maxWait = 60

// getGateRequest answers a request; with wait=N (seconds, at most 60) it
// answers as soon as the request is decided, or after N seconds.
func (h *handler) getGateRequest(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"wait"})
	wait := time.Duration(q.int("wait", 0, 0, maxWait)) * time.Second
	if q.err != nil {
		return q.err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	deadline := time.Now().Add(wait)
	for {
		req, err := h.opts.Store.GateRequest(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, "gate request %q not found", id)
		}
		if err != nil {
			return err
		}
		if req.State == store.GateDecided || !time.Now().Before(deadline) {
			resp, err := h.requestWithDecision(r, req)
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, resp)
		}
		select {
		case <-ctx.Done():
			return nil // the client left
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (h *handler) listGateRequests(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"state", "repository", "digest", "maxResults", "nextToken"})
	gq := store.GateRequestQuery{State: q.get("state"), Repository: q.get("repository"), Digest: q.get("digest"),
		Limit: int(q.int("maxResults", 100, 1, 1000)), Next: q.get("nextToken")}
	if q.err != nil {
		return q.err
	}
	if !oneOf(gq.State, []string{"", store.GatePending, store.GateDecided}) {
		return badRequest("state %q (PENDING or DECIDED)", gq.State)
	}
	rs, next, err := h.opts.Store.GateRequests(r.Context(), gq)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []store.GateRequest{}
	}
	for i := range rs {
		rs[i].Token = ""
	}
	return writeJSON(w, http.StatusOK, map[string]any{"requests": rs, "nextToken": next})
}

func (h *handler) listDecisions(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"requestId", "repository", "digest", "maxResults", "nextToken"})
	dq := store.GateDecisionQuery{RequestID: q.get("requestId"), Repository: q.get("repository"), Digest: q.get("digest"),
		Limit: int(q.int("maxResults", 100, 1, 1000)), Next: q.get("nextToken")}
	if q.err != nil {
		return q.err
	}
	ds, next, err := h.opts.Store.GateDecisions(r.Context(), dq)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []store.GateDecision{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"decisions": ds, "nextToken": next})
}

func (h *handler) getDecision(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	d, err := h.opts.Store.GateDecision(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "gate decision %q not found", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (h *handler) gateCheck(w http.ResponseWriter, r *http.Request) error {
	g, err := h.gate()
	if err != nil {
		return err
	}
	q := query(r, []string{"image", "platform", "stage", "dbVersion"})
	if q.err != nil {
		return q.err
	}
	if v := q.get("dbVersion"); v != "" && !vulndb.ValidVersion(v) {
		return badRequest("dbVersion %q is not a database version (as `vigil db status` shows them: 20261204T183257Z-3f2a9c1b7e4d)", v)
	}
	ref, err := gate.ParseReference(q.get("image"))
	if err != nil {
		return badRequest("image: %s", trimPrefix(err.Error(), gate.ErrInvalid.Error()+": "))
	}
	ctx := r.Context()
	digest := ref.Digest
	if digest == "" {
		im, err := h.opts.Store.ImageByTag(ctx, ref.Repository, ref.Tag)
		if errors.Is(err, store.ErrNotFound) {
			return h.checkDeletedTag(w, r, g, ref)
		}
		if err != nil {
			return err
		}
		digest = im.Digest
	}
	j, err := g.JudgeWith(ctx, ref.Repository, digest, gate.JudgeOptions{Platform: q.get("platform"), Stage: q.get("stage"), DBVersion: q.get("dbVersion")})
	if errors.Is(err, gate.ErrDBVersion) {
		return errorf(http.StatusNotFound, "%s", trimPrefix(err.Error(), "gate: "))
	}
	if err != nil {
		return err
	}
	if j.Image == nil && !j.Ready {
		return errorf(http.StatusNotFound, "image %s@%s not found", ref.Repository, digest)
	}
	resp := gate.Check{Repository: ref.Repository, Digest: digest, Ready: j.Ready, Decision: j.Decision,
		Policy: j.Policy.Name, Reason: j.Reason, Findings: j.Findings, Counts: j.Counts,
		DBVersion: j.DBVersion, BaselineDigest: j.BaselineDigest}
	if j.Image != nil {
		resp.ScanStatus = j.Image.ScanStatus
	} else {
		resp.ScanStatus = "DELETED" // judged without an image: it was deleted
	}
	if !j.Ready {
		resp.Decision = store.Rejected
		resp.Reason = "Rejected by policy " + j.Policy.Name + ": the image is not scanned yet (" + j.Image.ScanStatus + ")"
	}
	if resp.Findings == nil {
		resp.Findings = []store.GateFinding{}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// checkDeletedTag answers a check of a tag the store does not hold: a
// rejection saying so when the tag was deleted, else 404.
func (h *handler) checkDeletedTag(w http.ResponseWriter, r *http.Request, g *gate.Gate, ref gate.Reference) error {
	d, err := h.opts.Store.Deletion(r.Context(), ref.Repository, ref.Tag)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "image %s:%s not found", ref.Repository, ref.Tag)
	}
	if err != nil {
		return err
	}
	p, err := g.Policy(r.Context(), ref.Repository)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, gate.Check{Repository: ref.Repository, Digest: d.Digest, Ready: true,
		Decision: store.Rejected, Policy: p.Name, Reason: "Rejected by policy " + p.Name + ": " + gate.DeletedTagReason(d),
		ScanStatus: "DELETED", Findings: []store.GateFinding{}})
}
