package server

import (
	"context"

	"github.com/vigilsec/vigil/internal/registry"
)

// beforeRetag refuses to move a tag that the repository's
// imageTagMutability makes immutable.
func (s *Server) beforeRetag(ctx context.Context, repository, tag, _, _ string) error {
	m, err := s.store.TagMutability(ctx, repository)
	if err != nil {
		return err
	}
	if m.Immutable(tag) {
		return &registry.ImmutableTagError{Repository: repository, Tag: tag}
	}
	return nil
}
