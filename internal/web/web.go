// Package web is Vigil's console: server-rendered pages over the store,
// with their assets embedded in the binary, served by `vigil serve` at /.
package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store"
)

// Options configure the console.
type Options struct {
	Store store.Store
	Auth  *auth.Authenticator
	// ApplyRules re-applies suppression rules to stored findings after
	// one is created or deleted.
	ApplyRules func(context.Context) error
	// Secret keys the console's cookies and form tokens; processes
	// sharing a store share it.
	Secret          string
	Account, Region string
	Log             *slog.Logger
}

// New returns the console's handler.
func New(opts Options) http.Handler {
	return http.NotFoundHandler()
}
