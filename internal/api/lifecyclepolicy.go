package api

import (
	"net/http"
	"time"

	"github.com/vigilsec/vigil/internal/lifecyclepolicy"
	"github.com/vigilsec/vigil/internal/store"
)

// lifecyclePreviewRequest is ECR's StartLifecyclePolicyPreview request.
type lifecyclePreviewRequest struct {
	RegistryID          string `json:"registryId,omitempty"`
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
}

// lifecyclePreview is ECR's GetLifecyclePolicyPreview response.
type lifecyclePreview struct {
	RegistryID          string                   `json:"registryId"`
	RepositoryName      string                   `json:"repositoryName"`
	LifecyclePolicyText string                   `json:"lifecyclePolicyText"`
	Status              string                   `json:"status"`
	PreviewResults      []lifecyclePreviewResult `json:"previewResults"`
	Summary             struct {
		ExpiringImageTotalCount int `json:"expiringImageTotalCount"`
	} `json:"summary"`
}

type lifecyclePreviewResult struct {
	ImageTags     []string  `json:"imageTags"`
	ImageDigest   string    `json:"imageDigest"`
	ImagePushedAt time.Time `json:"imagePushedAt"`
	Action        struct {
		Type string `json:"type"`
	} `json:"action"`
	AppliedRulePriority int `json:"appliedRulePriority"`
}

// maxPreviewImages bounds the images a preview reads.
const maxPreviewImages = 100000

// previewLifecyclePolicy names the images of a repository that a
// lifecycle policy would expire now, expiring nothing.
func (h *handler) previewLifecyclePolicy(w http.ResponseWriter, r *http.Request) error {
	var req lifecyclePreviewRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := h.repositoryName(req.RepositoryName); err != nil {
		return err
	}
	if req.RegistryID != "" && req.RegistryID != h.opts.Account {
		return badRequest("registryId %q is not this registry's (%s)", req.RegistryID, h.opts.Account)
	}
	if req.LifecyclePolicyText == "" {
		return badRequest("lifecyclePolicyText is required")
	}
	p, err := lifecyclepolicy.Parse([]byte(req.LifecyclePolicyText))
	if err != nil {
		return badRequest("%v", err)
	}
	// The manifests an index of the repository lists are part of that
	// image, not images a rule may expire on their own (the registry
	// would refuse to delete them).
	var images []lifecyclepolicy.Image
	listed := map[string]bool{}
	q := store.ImageQuery{Repository: req.RepositoryName, Limit: 1000}
	for {
		page, next, err := h.opts.Store.ListImages(r.Context(), q)
		if err != nil {
			return err
		}
		for _, im := range page {
			images = append(images, lifecyclepolicy.Image{Digest: im.Digest, Tags: im.Tags, PushedAt: im.PushedAt})
			for _, c := range im.Children {
				listed[c.Digest] = true
			}
		}
		if len(images) > maxPreviewImages {
			return errorf(http.StatusRequestEntityTooLarge, "repository %s has more than %d images to preview", req.RepositoryName, maxPreviewImages)
		}
		if next == "" {
			break
		}
		q.Next = next
	}
	own := images[:0]
	for _, im := range images {
		if !listed[im.Digest] {
			own = append(own, im)
		}
	}
	out := lifecyclePreview{RegistryID: h.opts.Account, RepositoryName: req.RepositoryName,
		LifecyclePolicyText: req.LifecyclePolicyText, Status: "COMPLETE", PreviewResults: []lifecyclePreviewResult{}}
	for _, e := range p.Preview(own, h.now()) {
		res := lifecyclePreviewResult{ImageTags: e.Tags, ImageDigest: e.Digest, ImagePushedAt: e.PushedAt.UTC(), AppliedRulePriority: e.RulePriority}
		if res.ImageTags == nil {
			res.ImageTags = []string{}
		}
		res.Action.Type = "EXPIRE"
		out.PreviewResults = append(out.PreviewResults, res)
	}
	out.Summary.ExpiringImageTotalCount = len(out.PreviewResults)
	return writeJSON(w, http.StatusOK, out)
}
