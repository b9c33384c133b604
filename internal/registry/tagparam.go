package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Tags given as parameters of a manifest PUT by digest
// (PUT /v2/R/manifests/DIGEST?tag=A&tag=B), which the distribution spec's
// next version adds and the library does not know: each is pointed at the
// manifest once it is stored, and the answer lists them in OCI-Tag.

// tagParams returns the tags a PUT by digest names, refusing one that is
// not a tag.
func tagParams(req *http.Request, rt route) ([]string, *errcode.Error) {
	if !isDigest(rt.reference) {
		return nil, nil
	}
	tags := req.URL.Query()["tag"]
	for _, t := range tags {
		if !isTag(t) {
			e := errcode.ErrorCodeTagInvalid.WithMessage(fmt.Sprintf("tag parameter %q is not a tag", t))
			return nil, &e
		}
	}
	return tags, nil
}

// tagState is where tags pointed before a PUT moved them.
type tagState map[string]*ocispec.Descriptor

func (r *Registry) tagsBefore(ctx context.Context, repository string, tags []string) (tagState, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return nil, err
	}
	s := tagState{}
	for _, t := range tags {
		desc, err := repo.Tags(ctx).Get(ctx, t)
		switch {
		case errors.As(err, new(distribution.ErrTagUnknown)):
			s[t] = nil
		case err != nil:
			return nil, fmt.Errorf("registry: tag %s: %w", t, err)
		default:
			s[t] = &desc
		}
	}
	return s, nil
}

// applyTags points tags at the stored manifest body.
func (r *Registry) applyTags(ctx context.Context, repository string, tags []string, contentType string, body []byte) error {
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return err
	}
	var m struct {
		MediaType string `json:"mediaType"`
	}
	_ = json.Unmarshal(body, &m)
	if m.MediaType == "" {
		m.MediaType = contentType
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(body), Size: int64(len(body))}
	for _, t := range tags {
		if err := repo.Tags(ctx).Tag(ctx, t, desc); err != nil {
			return fmt.Errorf("registry: tagging %s:%s: %w", repository, t, err)
		}
	}
	return nil
}

// restoreTags puts tags back where they pointed.
func (r *Registry) restoreTags(ctx context.Context, repository string, s tagState) error {
	if len(s) == 0 {
		return nil
	}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return err
	}
	for t, desc := range s {
		if desc != nil {
			err = repo.Tags(ctx).Tag(ctx, t, *desc)
		} else {
			err = repo.Tags(ctx).Untag(ctx, t)
		}
		if err != nil && !errors.As(err, new(distribution.ErrTagUnknown)) {
			return fmt.Errorf("registry: restoring tag %s: %w", t, err)
		}
	}
	return nil
}
