package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
)

// ImmutableTagError refuses a manifest PUT that would move a tag of an
// immutable repository to another manifest, as ECR refuses it
// (ImageTagAlreadyExistsException).
type ImmutableTagError struct {
	Repository, Tag string
}

func (e *ImmutableTagError) Error() string {
	return "the image tag '" + e.Tag + "' already exists in the '" + e.Repository +
		"' repository and cannot be overwritten because the tag is immutable (ImageTagAlreadyExistsException)"
}

// refuseRetag asks Options.BeforeRetag about each tag the PUT of the
// manifest d names that already names another manifest, and answers a
// refusal itself: 400 TAG_INVALID for an *ImmutableTagError, 500 for
// anything else. Pushing the same manifest under its tag again is no move.
func (r *Registry) refuseRetag(w http.ResponseWriter, req *http.Request, rt route, tags []string, d digest.Digest) bool {
	if r.opts.BeforeRetag == nil {
		return false
	}
	if isTag(rt.reference) {
		tags = append([]string{rt.reference}, tags...)
	}
	if len(tags) == 0 {
		return false
	}
	ctx := req.Context()
	err := r.checkRetag(ctx, rt.repository, tags, d)
	var imm *ImmutableTagError
	switch {
	case err == nil:
		return false
	case errors.As(err, &imm):
		r.serveStatus(w, req, http.StatusBadRequest, errcode.ErrorCodeTagInvalid.WithMessage(imm.Error()))
	default:
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("checking the repository's tag mutability failed"), err)
	}
	return true
}

func (r *Registry) checkRetag(ctx context.Context, repository string, tags []string, d digest.Digest) error {
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return err
	}
	for _, t := range tags {
		desc, err := repo.Tags(ctx).Get(ctx, t)
		switch {
		case errors.As(err, new(distribution.ErrTagUnknown)):
			continue
		case err != nil:
			return fmt.Errorf("registry: tag %s: %w", t, err)
		}
		if desc.Digest == d {
			continue
		}
		if err := r.opts.BeforeRetag(ctx, repository, t, desc.Digest.String(), d.String()); err != nil {
			return err
		}
	}
	return nil
}
