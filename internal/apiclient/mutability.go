package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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

// DeleteManifest deletes a manifest by digest through the server's
// registry (DELETE /v2/REPOSITORY/manifests/DIGEST), as any registry
// client would, so that the registry's checks and records apply. A
// manifest already gone is no error.
func (c *Client) DeleteManifest(ctx context.Context, repository, digest string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.base+"/v2/"+repository+"/manifests/"+digest, nil)
	if err != nil {
		return fmt.Errorf("apiclient: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("apiclient: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNotFound {
		return nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxError))
	var oci struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	e := &Error{StatusCode: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(data))}
	if json.Unmarshal(data, &oci) == nil && len(oci.Errors) > 0 {
		e.Code, e.Message = oci.Errors[0].Code, oci.Errors[0].Message
	}
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "…"
	}
	return e
}
