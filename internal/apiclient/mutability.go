package apiclient

import (
	"context"
	"net/url"

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
