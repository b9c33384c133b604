package api

import (
	"net/http"

	"github.com/distribution/reference"

	"github.com/vigilsec/vigil/internal/mutability"
)

// tagMutability is ECR's PutImageTagMutability request and response.
type tagMutability struct {
	RegistryID     string              `json:"registryId,omitempty"`
	RepositoryName string              `json:"repositoryName"`
	Mutability     string              `json:"imageTagMutability"`
	Filters        []mutability.Filter `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

func (h *handler) repositoryName(name string) error {
	if name == "" {
		return badRequest("repositoryName is required")
	}
	if _, err := reference.WithName(name); err != nil {
		return badRequest("repositoryName %q is not a repository name: %v", name, err)
	}
	return nil
}

func (h *handler) getTagMutability(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"repositoryName"})
	if q.err != nil {
		return q.err
	}
	name := q.get("repositoryName")
	if err := h.repositoryName(name); err != nil {
		return err
	}
	m, err := h.opts.Store.TagMutability(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tagMutability{RegistryID: h.opts.Account, RepositoryName: name,
		Mutability: m.Mutability, Filters: m.Filters})
}

func (h *handler) putTagMutability(w http.ResponseWriter, r *http.Request) error {
	var req tagMutability
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := h.repositoryName(req.RepositoryName); err != nil {
		return err
	}
	if req.RegistryID != "" && req.RegistryID != h.opts.Account {
		return badRequest("registryId %q is not this registry's (%s)", req.RegistryID, h.opts.Account)
	}
	m := mutability.Setting{Mutability: req.Mutability, Filters: req.Filters}
	if err := m.Validate(); err != nil {
		return badRequest("%v", err)
	}
	if err := h.opts.Store.PutTagMutability(r.Context(), req.RepositoryName, m); err != nil {
		return err
	}
	req.RegistryID = h.opts.Account
	return writeJSON(w, http.StatusOK, req)
}
