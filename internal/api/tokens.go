package api

import (
	"errors"
	"net/http"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store"
)

func (h *handler) listTokens(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	tokens, err := h.opts.Store.Tokens(r.Context())
	if err != nil {
		return err
	}
	if tokens == nil {
		tokens = []store.Token{}
	}
	// store.Token never writes its hash to JSON.
	return writeJSON(w, http.StatusOK, map[string]any{"tokens": tokens})
}

type tokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// newToken is the one response that holds a token's secret.
type newToken struct {
	Token  store.Token `json:"token"`
	Secret string      `json:"secret"`
}

func (h *handler) createToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkText("name", req.Name, maxName, true); err != nil {
		return err
	}
	if !auth.ValidRole(req.Role) {
		return badRequest("role %q is not one of admin, pipeline and read-only", req.Role)
	}
	secret, hash := auth.NewToken()
	t := store.Token{ID: newID(), Name: req.Name, Role: req.Role, Hash: hash, CreatedAt: h.now()}
	err := h.opts.Store.CreateToken(r.Context(), t)
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "a token named %q already exists", req.Name)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, newToken{Token: t, Secret: secret})
}

// deleteToken refuses to delete the last admin token: nobody could manage
// tokens afterwards.
func (h *handler) deleteToken(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	ctx := r.Context()
	tokens, err := h.opts.Store.Tokens(ctx)
	if err != nil {
		return err
	}
	var target *store.Token
	admins := 0
	for i, t := range tokens {
		if t.ID == id {
			target = &tokens[i]
		}
		if t.Role == store.RoleAdmin {
			admins++
		}
	}
	if target == nil {
		return errorf(http.StatusNotFound, "token %q not found", id)
	}
	if target.Role == store.RoleAdmin && admins == 1 {
		return errorf(http.StatusConflict, "token %q is the last admin token; create another admin token first", id)
	}
	err = h.opts.Store.DeleteToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "token %q not found", id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
