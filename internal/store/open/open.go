// Package open opens the store a data source name names, so that callers
// need not know the backends: "postgres://…" or "postgresql://…" is
// PostgreSQL; "sqlite:PATH", "file:PATH" or a plain path is a SQLite file.
package open

import (
	"context"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/postgres"
	"github.com/vigilsec/vigil/internal/store/sqlite"
)

// Open opens and migrates the store named by dsn.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	switch {
	case dsn == "":
		return nil, fmt.Errorf("open: no store given")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn)
	}
	path := dsn
	for _, p := range []string{"sqlite:", "file:"} {
		if rest, ok := strings.CutPrefix(dsn, p); ok {
			path = rest
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("open: %q names no file", dsn)
	}
	return sqlite.Open(ctx, path)
}
