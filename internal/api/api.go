// Package api is Vigil's HTTP API under /api/v1: a JSON face of the store
// (repositories, images, findings, suppression rules, events, tokens) with
// Amazon Inspector's request and response shapes where Inspector has one
// (ListFindings, finding aggregations, filter criteria, findings), so that
// tooling written for Inspector carries over. It is the one place where
// errors become HTTP status codes.
//
// Every request needs an API token (bearer, or the password of basic auth);
// the token's role decides what it may do (see auth.Allowed): GETs and the
// list and aggregate POSTs need read, changes need write, tokens need an
// admin. The routes, bodies and responses are described by the OpenAPI 3.0
// document served at /api/v1/openapi.yaml (openapi.yaml in this package),
// which a test keeps in step with the handler.
package api

import (
	"context"
	_ "embed"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
)

//go:embed openapi.yaml
var openapiYAML []byte

// Options configure the API handler.
type Options struct {
	Store store.Store
	Auth  *auth.Authenticator
	// ApplyRules re-applies suppression rules to stored findings; it is
	// called after a rule is created or deleted (nil: not called).
	ApplyRules func(context.Context) error
	// Account and Region name ARNs (defaults 000000000000 and local).
	Account, Region string
	// Gate takes approval requests and answers checks (nil: those two
	// routes answer 404; policies and decisions are read from the store).
	Gate *gate.Gate
	// Wake, when set, is called after a change the background work
	// should act on at once (a redrive).
	Wake func()
	// Egress decides which webhook URLs a rule's targets may have (nil:
	// egress.Default()).
	Egress *egress.Policy
	// DB is the vulnerability database the scan routes match with (nil:
	// they answer 404).
	DB Databases
	// Referrers lists the artifacts attached to an image in the registry
	// (nil: none are listed).
	Referrers ReferrerLister
	// Log receives internal errors, which clients never see.
	Log *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Prefix is where the API lives.
const Prefix = "/api/v1"

// maxBody caps request bodies.
const maxBody = 1 << 20

// adminOnly is the permission of routes only admins may use, beyond
// auth's actions.
const adminOnly = "admin"

type handler struct {
	opts Options
	mux  *http.ServeMux
}

// route is one operation: its method and path (a ServeMux pattern under
// Prefix), the permission it needs, and its function.
type route struct {
	method, path, need string
	fn                 func(w http.ResponseWriter, r *http.Request) error
}

// New returns the API handler. It serves paths under /api/v1 (mount it at
// /api/ or at the root).
func New(opts Options) http.Handler {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Region == "" {
		opts.Region = "local"
	}
	h := &handler{opts: opts, mux: http.NewServeMux()}
	for _, rt := range h.routes() {
		h.mux.HandleFunc(rt.method+" "+Prefix+rt.path, h.wrap(rt))
	}
	return h
}

// routes is the whole API; the OpenAPI test walks it.
func (h *handler) routes() []route {
	return []route{
		{"GET", "/whoami", auth.Read, h.whoami},
		{"GET", "/openapi.yaml", auth.Read, h.openapi},

		{"GET", "/repositories", auth.Read, h.listRepositories},
		{"PUT", "/repositories/settings", auth.Write, h.repositorySettings},
		{"GET", "/repositories/tag-mutability", auth.Read, h.getTagMutability},
		{"PUT", "/repositories/tag-mutability", auth.Write, h.putTagMutability},
		{"POST", "/repositories/lifecycle-policy/preview", auth.Read, h.previewLifecyclePolicy},

		{"GET", "/images", auth.Read, h.listImages},
		{"GET", "/images/detail", auth.Read, h.imageDetail},
		{"GET", "/images/sbom", auth.Read, h.imageSBOM},
		{"GET", "/images/coverage", auth.Read, h.imageCoverage},
		{"GET", "/images/referrers", auth.Read, h.imageReferrers},
		{"POST", "/images/rescan", auth.Write, h.rescan},

		{"GET", "/findings", auth.Read, h.findingsQuery},
		{"POST", "/findings/list", auth.Read, h.listFindings},
		{"POST", "/findings/aggregate", auth.Read, h.aggregateFindings},
		{"GET", "/findings/{id}", auth.Read, h.getFinding},

		{"GET", "/suppressions", auth.Read, h.listSuppressions},
		{"POST", "/suppressions", auth.Write, h.createSuppression},
		{"GET", "/suppressions/{id}", auth.Read, h.getSuppression},
		{"DELETE", "/suppressions/{id}", auth.Write, h.deleteSuppression},

		{"GET", "/events", auth.Read, h.listEvents},

		{"GET", "/rules", auth.Read, h.listRules},
		{"POST", "/rules/test", auth.Read, h.testPattern},
		{"GET", "/rules/{name}", auth.Read, h.getRule},
		{"PUT", "/rules/{name}", auth.Write, h.putRule},
		{"DELETE", "/rules/{name}", auth.Write, h.deleteRule},

		{"GET", "/deliveries", auth.Read, h.listDeliveries},
		{"POST", "/deliveries/redrive", auth.Write, h.redrive},
		{"GET", "/deliveries/{id}", auth.Read, h.getDelivery},

		{"GET", "/gate/policies", auth.Read, h.listPolicies},
		{"GET", "/gate/policies/{name}", auth.Read, h.getPolicy},
		{"PUT", "/gate/policies/{name}", auth.Write, h.putPolicy},
		{"DELETE", "/gate/policies/{name}", auth.Write, h.deletePolicy},
		{"POST", "/gate/requests", auth.Push, h.createGateRequest},
		{"GET", "/gate/requests", auth.Read, h.listGateRequests},
		{"GET", "/gate/requests/{id}", auth.Read, h.getGateRequest},
		{"GET", "/gate/decisions", auth.Read, h.listDecisions},
		{"GET", "/gate/decisions/{id}", auth.Read, h.getDecision},
		{"GET", "/gate/check", auth.Read, h.gateCheck},

		{"POST", "/scan/inventory", auth.Push, h.scanInventory},
		{"POST", "/scan/sbom", auth.Push, h.scanSBOM},

		{"GET", "/tokens", adminOnly, h.listTokens},
		{"POST", "/tokens", adminOnly, h.createToken},
		{"DELETE", "/tokens/{id}", adminOnly, h.deleteToken},
	}
}

type principalKey struct{}

func principal(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

// ServeHTTP authenticates every request, even for paths that do not
// exist (so that nobody learns the API's shape without a token), then
// routes it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := h.opts.Auth.Authenticate(r)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			h.fail(w, r, errorf(http.StatusUnauthorized, "a valid API token is required (Authorization: Bearer vgl_…)"))
			return
		}
		h.fail(w, r, err)
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.unrouted(w, r)
		return
	}
	h.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
}

// unrouted answers a request no route takes, with ServeMux's status (404,
// 405 with Allow, or a redirect to the clean path) and a JSON error.
func (h *handler) unrouted(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	h.mux.ServeHTTP(rec, r)
	switch rec.code {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		h.fail(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
			Message: r.Method + " is not allowed on " + r.URL.Path + " (allowed: " + rec.header.Get("Allow") + ")"})
	case http.StatusMovedPermanently, http.StatusPermanentRedirect, http.StatusTemporaryRedirect:
		w.Header().Set("Location", rec.header.Get("Location"))
		w.WriteHeader(rec.code)
	default:
		h.fail(w, r, errorf(http.StatusNotFound, "no such API route: %s %s", r.Method, r.URL.Path))
	}
}

// recorder keeps the status and headers ServeMux gives an unrouted
// request, dropping its plain-text body.
type recorder struct {
	header http.Header
	code   int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// wrap checks the route's permission, caps the body and turns the
// route's error into a response.
func (h *handler) wrap(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r.Context())
		allowed := p != nil && auth.Allowed(p.Role, rt.need)
		if rt.need == adminOnly {
			allowed = p != nil && p.Role == store.RoleAdmin
		}
		if !allowed {
			role := ""
			if p != nil {
				role = p.Role
			}
			h.fail(w, r, errorf(http.StatusForbidden, "a %s token may not %s %s", role, rt.method, Prefix+rt.path))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(rt.path))
		if err := rt.fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	}
}

func (h *handler) now() time.Time { return h.opts.Now().UTC() }

func (h *handler) whoami(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	p := principal(r.Context())
	return writeJSON(w, http.StatusOK, whoami{Name: p.Name, Role: p.Role, TokenID: p.TokenID})
}

type whoami struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	TokenID string `json:"tokenId,omitempty"`
}

func (h *handler) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(openapiYAML)
	return err
}
