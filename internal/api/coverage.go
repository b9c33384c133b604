package api

import (
	"errors"
	"net/http"

	"github.com/vigilsec/vigil/internal/store"
)

func (h *handler) imageCoverage(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"repository", "digest", "tag"})
	if q.err != nil {
		return q.err
	}
	im, err := h.image(r, q)
	if err != nil {
		return err
	}
	c, err := h.opts.Store.ImageCoverage(r.Context(), im.Repository, im.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "image %s@%s has no coverage yet (scan status %s)", im.Repository, im.Digest, im.ScanStatus)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}
