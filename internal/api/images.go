package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/sbom"
	"github.com/vigilsec/vigil/internal/store"
)

var (
	rescanDurations = []string{"LIFETIME", "DAYS_14", "DAYS_30", "DAYS_60", "DAYS_90", "DAYS_180"}
	rescanBases     = []string{"PUSH", "PULL"}
	scanStatuses    = []string{store.ScanPending, store.ScanInProgress, store.ScanComplete, store.ScanFailed, store.ScanUnsupported, store.ScanInactive}
)

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (h *handler) listRepositories(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	repos, err := h.opts.Store.ListRepositories(r.Context())
	if err != nil {
		return err
	}
	if repos == nil {
		repos = []store.Repository{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"repositories": repos})
}

type settingsRequest struct {
	Repository     string `json:"repository"`
	RescanDuration string `json:"rescanDuration"`
	RescanBasis    string `json:"rescanBasis"`
}

func (h *handler) repositorySettings(w http.ResponseWriter, r *http.Request) error {
	var req settingsRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Repository == "" {
		return badRequest("repository is required")
	}
	if !oneOf(req.RescanDuration, rescanDurations) {
		return badRequest("rescanDuration %q is not one of %v", req.RescanDuration, rescanDurations)
	}
	if req.RescanBasis == "" {
		req.RescanBasis = "PUSH"
	}
	if !oneOf(req.RescanBasis, rescanBases) {
		return badRequest("rescanBasis %q is not one of %v", req.RescanBasis, rescanBases)
	}
	ctx := r.Context()
	err := h.opts.Store.SetRescanDuration(ctx, req.Repository, req.RescanDuration, req.RescanBasis)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "repository %q not found", req.Repository)
	}
	if err != nil {
		return err
	}
	repo, err := h.opts.Store.Repository(ctx, req.Repository)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, repo)
}

type imagePage struct {
	Images    []store.Image `json:"images"`
	NextToken string        `json:"nextToken,omitempty"`
}

func (h *handler) listImages(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"repository", "tag", "scanStatus", "maxResults", "nextToken"})
	iq := store.ImageQuery{
		Repository: q.get("repository"), Tag: q.get("tag"), ScanStatus: q.get("scanStatus"),
		Limit: int(q.int("maxResults", 0, 1, 1000)), Next: q.get("nextToken"),
	}
	if q.err != nil {
		return q.err
	}
	if iq.ScanStatus != "" && !oneOf(iq.ScanStatus, scanStatuses) {
		return badRequest("scanStatus %q is not one of %v", iq.ScanStatus, scanStatuses)
	}
	images, next, err := h.opts.Store.ListImages(r.Context(), iq)
	if err != nil {
		return err
	}
	if images == nil {
		images = []store.Image{}
	}
	for i := range images {
		tagsArray(&images[i])
	}
	return writeJSON(w, http.StatusOK, imagePage{Images: images, NextToken: next})
}

// image finds the image a request names by repository and digest or tag.
func (h *handler) image(r *http.Request, q *params) (*store.Image, error) {
	repo, digest, tag := q.get("repository"), q.get("digest"), q.get("tag")
	switch {
	case repo == "":
		return nil, badRequest("query parameter repository is required")
	case (digest == "") == (tag == ""):
		return nil, badRequest("give one of the query parameters digest and tag")
	}
	var im *store.Image
	var err error
	if digest != "" {
		im, err = h.opts.Store.Image(r.Context(), repo, digest)
	} else {
		im, err = h.opts.Store.ImageByTag(r.Context(), repo, tag)
	}
	if errors.Is(err, store.ErrNotFound) {
		ref := repo + "@" + digest
		if tag != "" {
			ref = repo + ":" + tag
		}
		return nil, errorf(http.StatusNotFound, "image %s not found", ref)
	}
	return im, err
}

func (h *handler) imageDetail(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"repository", "digest", "tag"})
	if q.err != nil {
		return q.err
	}
	im, err := h.image(r, q)
	if err != nil {
		return err
	}
	tagsArray(im)
	return writeJSON(w, http.StatusOK, im)
}

// tagsArray makes an untagged image's tags [] rather than null, as the
// API describes them.
func tagsArray(im *store.Image) {
	if im.Tags == nil {
		im.Tags = []string{}
	}
}

func (h *handler) imageSBOM(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"repository", "digest", "tag", "format"})
	if q.err != nil {
		return q.err
	}
	format := q.get("format")
	if format == "" {
		format = "cyclonedx"
	}
	if format != "cyclonedx" && format != "spdx" {
		return badRequest("format %q is not cyclonedx or spdx", format)
	}
	im, err := h.image(r, q)
	if err != nil {
		return err
	}
	if im.InventoryHash == "" {
		return errorf(http.StatusConflict, "image %s@%s has no inventory yet (scan status %s): it is made by a successful scan", im.Repository, im.Digest, im.ScanStatus)
	}
	data, err := h.opts.Store.Inventory(r.Context(), im.InventoryHash)
	if err != nil {
		return fmt.Errorf("api: inventory %s of %s@%s: %w", im.InventoryHash, im.Repository, im.Digest, err)
	}
	var inv inventory.Inventory
	if err := json.Unmarshal(data, &inv); err != nil {
		return fmt.Errorf("api: inventory %s: %w", im.InventoryHash, err)
	}
	subject := sbom.Subject{Name: im.Repository + "@" + im.Digest, Digest: im.Digest, Platform: im.Platform}
	for _, t := range im.Tags {
		subject.RepoTags = append(subject.RepoTags, im.Repository+":"+t)
	}
	tool := sbom.Tool{Name: "vigil", Version: version()}
	// Encode fully before answering, so that a failure is an error
	// response rather than half a document.
	var buf bytes.Buffer
	contentType := "application/vnd.cyclonedx+json; version=1.6"
	if format == "spdx" {
		contentType = "application/spdx+json"
		err = sbom.EncodeSPDX(&buf, subject, &inv, tool, h.now())
	} else {
		err = sbom.EncodeCycloneDX(&buf, subject, &inv, tool, h.now())
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	_, err = w.Write(buf.Bytes())
	return err
}

// version is the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

type rescanRequest struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

type rescanResponse struct {
	// Enqueued is false when the same rescan was already waiting.
	Enqueued bool `json:"enqueued"`
}

func (h *handler) rescan(w http.ResponseWriter, r *http.Request) error {
	var req rescanRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	switch {
	case req.Digest != "" && req.Repository == "":
		return badRequest("a digest needs its repository")
	case req.Digest != "":
		if _, err := h.opts.Store.Image(ctx, req.Repository, req.Digest); errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, "image %s@%s not found", req.Repository, req.Digest)
		} else if err != nil {
			return err
		}
	case req.Repository != "":
		if _, err := h.opts.Store.Repository(ctx, req.Repository); errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, "repository %q not found", req.Repository)
		} else if err != nil {
			return err
		}
	}
	added, err := h.opts.Store.EnqueueJob(ctx, store.Job{Kind: store.JobRescan, Repository: req.Repository, Digest: req.Digest, CreatedAt: h.now()})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, rescanResponse{Enqueued: added})
}
