package apiclient

import (
	"context"
	"net/url"
	"time"

	"github.com/vigilsec/vigil/internal/mutability"
)

// TagMutability is ECR's PutImageTagMutability request and response.
type TagMutability struct {
	RegistryID     string              `json:"registryId,omitempty"`
	RepositoryName string              `json:"repositoryName"`
	Mutability     string              `json:"imageTagMutability"`
	Filters        []mutability.Filter `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

// TagMutability reads a repository's imageTagMutability.
func (c *Client) TagMutability(ctx context.Context, repository string) (*TagMutability, error) {
	return call[TagMutability](ctx, c, "GET", "/repositories/tag-mutability?"+url.Values{"repositoryName": {repository}}.Encode(), nil)
}

// PutTagMutability sets a repository's imageTagMutability.
func (c *Client) PutTagMutability(ctx context.Context, m TagMutability) (*TagMutability, error) {
	return call[TagMutability](ctx, c, "PUT", "/repositories/tag-mutability", m)
}

// LifecyclePreview is ECR's GetLifecyclePolicyPreview response.
type LifecyclePreview struct {
	RegistryID          string `json:"registryId"`
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
	Status              string `json:"status"`
	PreviewResults      []struct {
		ImageTags     []string  `json:"imageTags"`
		ImageDigest   string    `json:"imageDigest"`
		ImagePushedAt time.Time `json:"imagePushedAt"`
		Action        struct {
			Type string `json:"type"`
		} `json:"action"`
		AppliedRulePriority int `json:"appliedRulePriority"`
	} `json:"previewResults"`
	Summary struct {
		ExpiringImageTotalCount int `json:"expiringImageTotalCount"`
	} `json:"summary"`
}

// PreviewLifecyclePolicy names the images of a repository that the
// lifecycle policy text would expire.
func (c *Client) PreviewLifecyclePolicy(ctx context.Context, repository, policy string) (*LifecyclePreview, error) {
	return call[LifecyclePreview](ctx, c, "POST", "/repositories/lifecycle-policy/preview",
		map[string]string{"repositoryName": repository, "lifecyclePolicyText": policy})
}
