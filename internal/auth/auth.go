// Package auth checks the credentials of API and registry requests: API
// tokens, sent as a bearer token or as the password of HTTP basic auth
// (which is how registry clients such as docker and skopeo send them),
// each with a role that decides what it may do. Only a SHA-256 hash of each
// token is stored, and tokens never appear in logs.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Errors of Authenticate.
var (
	ErrUnauthenticated = errors.New("auth: missing or invalid credentials")
	ErrForbidden       = errors.New("auth: not allowed for this token's role")
)

// tokenPrefix marks Vigil tokens so that secret scanners can find leaked
// ones.
const tokenPrefix = "vgl_"

// NewToken returns a fresh secret and the hash to store.
func NewToken() (secret, hash string) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, Hash(secret)
}

// Hash is the stored form of a token secret.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Principal is who made a request.
type Principal struct {
	TokenID string
	Name    string
	Role    string
}

// Tokens looks tokens up by hash.
type Tokens interface {
	TokenByHash(ctx context.Context, hash string) (*store.Token, error)
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Authenticator checks requests against stored tokens. With Disabled set
// every request is let through as an admin: for local use only, and only
// when asked for explicitly.
type Authenticator struct {
	Tokens   Tokens
	Disabled bool
}

// Authenticate returns the principal of a request, or ErrUnauthenticated.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	if a.Disabled {
		return &Principal{Name: "anonymous (authentication disabled)", Role: store.RoleAdmin}, nil
	}
	secret := credentials(r)
	if secret == "" {
		return nil, ErrUnauthenticated
	}
	t, err := a.Tokens.TokenByHash(r.Context(), Hash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	// Recording use is best-effort: a failure must not refuse a valid
	// request.
	_ = a.Tokens.TouchToken(r.Context(), t.ID, time.Now())
	return &Principal{TokenID: t.ID, Name: t.Name, Role: t.Role}, nil
}

// credentials extracts the token from a bearer or basic Authorization
// header.
func credentials(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if token, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(token)
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return pass
	}
	return ""
}

// Actions a role may be allowed.
const (
	Read  = "read"  // list and view; pull images
	Push  = "push"  // push images; ask for gate decisions
	Write = "write" // change settings, rules, tokens; delete
)

// Allowed reports whether a role may do an action: admin everything,
// pipeline read and push, read-only read.
func Allowed(role, action string) bool {
	switch role {
	case store.RoleAdmin:
		return true
	case store.RolePipeline:
		return action == Read || action == Push
	case store.RoleReadOnly:
		return action == Read
	}
	return false
}

// ValidRole reports whether role is one of the roles.
func ValidRole(role string) bool {
	return role == store.RoleAdmin || role == store.RolePipeline || role == store.RoleReadOnly
}
