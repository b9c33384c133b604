package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/store"
)

// suppressionRequest is Inspector's CreateFilter request, for action
// SUPPRESS.
type suppressionRequest struct {
	Name           string                `json:"name"`
	Action         string                `json:"action"`
	Reason         string                `json:"reason"`
	Description    string                `json:"description"`
	FilterCriteria *store.FilterCriteria `json:"filterCriteria"`
	// ExpiresAt is parsed here, so that a bad time is reported by name.
	ExpiresAt string `json:"expiresAt"`
}

func (h *handler) listSuppressions(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	rules, err := h.opts.Store.Rules(r.Context())
	if err != nil {
		return err
	}
	if rules == nil {
		rules = []store.Rule{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"suppressions": rules})
}

func (h *handler) getSuppression(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	rule, err := h.opts.Store.Rule(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "suppression rule %q not found", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rule)
}

// Inspector's bounds on a filter's texts.
const (
	maxName        = 128
	maxReason      = 512
	maxDescription = 512
)

func checkText(field, v string, max int, required bool) error {
	switch {
	case required && v == "":
		return badRequest("%s is required", field)
	case !utf8.ValidString(v):
		return badRequest("%s is not valid UTF-8", field)
	case utf8.RuneCountInString(v) > max:
		return badRequest("%s is longer than %d characters", field, max)
	}
	return nil
}

// createSuppression stores a rule and then re-applies the rules to stored
// findings. If re-applying fails the rule stays: it is answered with 500
// and code RULES_NOT_APPLIED naming the rule, since the rule already
// applies to every scan and rescan from now on; a rescan (POST
// /images/rescan) or the next rule change brings existing findings in
// line.
func (h *handler) createSuppression(w http.ResponseWriter, r *http.Request) error {
	var req suppressionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkText("name", req.Name, maxName, true); err != nil {
		return err
	}
	if err := checkText("reason", req.Reason, maxReason, true); err != nil {
		return err
	}
	if err := checkText("description", req.Description, maxDescription, false); err != nil {
		return err
	}
	if req.Action == "" {
		req.Action = "SUPPRESS"
	}
	if req.Action != "SUPPRESS" {
		return badRequest("action %q: suppression rules have action SUPPRESS", req.Action)
	}
	if req.FilterCriteria == nil || emptyFilter(req.FilterCriteria) {
		return badRequest("filterCriteria is required and must not be empty: a rule would suppress every finding")
	}
	if err := checkFilter(req.FilterCriteria); err != nil {
		return err
	}
	now := h.now()
	rule := store.Rule{
		ID: newID(), Name: req.Name, Action: req.Action, Reason: req.Reason, Description: req.Description,
		Filter: *req.FilterCriteria, CreatedAt: now, CreatedBy: principal(r.Context()).Name,
	}
	if req.ExpiresAt != "" {
		exp, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			return badRequest("expiresAt %q is not an RFC 3339 time (2026-12-31T00:00:00Z)", req.ExpiresAt)
		}
		if !exp.After(now) {
			return badRequest("expiresAt %s is not in the future", req.ExpiresAt)
		}
		rule.ExpiresAt = exp.UTC()
	}
	ctx := r.Context()
	err := h.opts.Store.CreateRule(ctx, rule)
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "a suppression rule named %q already exists", req.Name)
	}
	if err != nil {
		return err
	}
	if err := h.applyRules(r, "created", rule.ID); err != nil {
		return err
	}
	stored, err := h.opts.Store.Rule(ctx, rule.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/suppressions/"+rule.ID)
	return writeJSON(w, http.StatusCreated, stored)
}

func (h *handler) deleteSuppression(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	err := h.opts.Store.DeleteRule(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "suppression rule %q not found", id)
	}
	if err != nil {
		return err
	}
	if err := h.applyRules(r, "deleted", id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) applyRules(r *http.Request, done, id string) error {
	if h.opts.ApplyRules == nil {
		return nil
	}
	if err := h.opts.ApplyRules(r.Context()); err != nil {
		h.opts.Log.Error("api: applying suppression rules failed", "rule", id, "err", err)
		return &Error{Status: http.StatusInternalServerError, Code: CodeRulesNotApplied, Message: fmt.Sprintf(
			"suppression rule %s was %s, but applying the rules to existing findings failed (the server log has the details); "+
				"scans apply it from now on, and a rescan (POST %s/images/rescan) brings existing findings in line", id, done, Prefix)}
	}
	return nil
}

// newID is a random id for rules and tokens: 32 hex digits.
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}
