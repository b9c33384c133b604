package server

import (
	"context"
	"errors"

	"github.com/vigilsec/vigil/internal/dbartifact"
	"github.com/vigilsec/vigil/internal/registry"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// publishDatabase stores the database in use into the server's own
// registry as the artifact vigil/db (see package dbartifact), through the
// storage API rather than over HTTP: no credential is needed, and the
// push hooks, which would record it as an image, are not involved.
func (s *Server) publishDatabase(ctx context.Context) {
	pub, err := dbartifact.Publish(ctx, s.registry, registry.ErrNotFound, s.dbs.path, s.tmp.Path())
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, vulndb.ErrNoDatabase) {
			s.log.Error("publishing the vulnerability database to the registry", "repository", dbartifact.Repository, "err", err)
		}
		return
	}
	if pub.Already {
		return
	}
	s.log.Info("vulnerability database published", "repository", dbartifact.Repository, "version", pub.Version, "previous", pub.Previous,
		"partitions", pub.Partitions, "new", pub.Stored, "newBytes", pub.StoredBytes, "totalBytes", pub.TotalBytes, "took", pub.Duration)
}

// isDatabaseArtifact reports a push of the database artifact (a site
// mirroring it with crane or regctl into this server): it is kept by the
// registry but is not an image to record, list or scan.
func isDatabaseArtifact(repository, artifactType string) bool {
	return artifactType == dbartifact.ArtifactType || repository == dbartifact.Repository
}
