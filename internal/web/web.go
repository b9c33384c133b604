// Package web is Vigil's console: server-rendered pages over the store,
// with their assets embedded in the binary, served by `vigil serve` at /.
//
// Every page is rendered from bounded store queries (aggregations, one page
// of findings, images or decisions), so no page reads every finding. The
// console applies the API's permission rules (auth.Allowed): only roles
// allowed auth.Write see or may use a control that changes anything, and
// the server checks that again on every POST, with a CSRF token derived
// from the session. Sessions are signed cookies naming a session the store
// keeps (see session.go), so several `vigil serve` processes sharing a
// store and a secret share them, and a sign-out in one ends the session in
// all.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

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
	// sharing a store share it. Empty: a random secret for this handler
	// (sessions then last as long as the process).
	Secret          string
	Account, Region string
	Log             *slog.Logger
	// Wake, when set, is called after a redrive so that delivery starts
	// at once rather than at the bus's next poll.
	Wake func()
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Feeds, when set, lists the vulnerability database's feeds with the
	// age of their data, for the dashboard.
	Feeds func(ctx context.Context) ([]Feed, error)
	// Attachments, when set, lists the artifacts attached to an image
	// (its referrers in the registry), for the image's page.
	Attachments func(ctx context.Context, repository, digest string) ([]Attachment, error)
	// SessionIdle is how long a session lasts without use (default 2
	// hours); SessionLifetime how long it lasts at most after sign-in,
	// used or not (default 12 hours).
	SessionIdle, SessionLifetime time.Duration
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// requests, for a console reached over HTTPS through a proxy that
	// ends TLS (requests over TLS get it anyway).
	SecureCookies bool
}

// console is the handler New returns.
type console struct {
	opts   Options
	mux    *http.ServeMux
	pages  *pages
	assets *assets
	keys   keys
	// sessions is Options.Store, as far as sessions go.
	sessions sessionStore
}

// need says what a route requires of its caller.
type need int

const (
	public need = iota // no session (sign-in, assets)
	read               // a session whose role may read
	write              // a session whose role may write (POSTs only)
)

// route is one page or action.
type route struct {
	method, path string
	need         need
	fn           func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error
}

// New returns the console's handler.
func New(opts Options) http.Handler {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Auth == nil {
		opts.Auth = &auth.Authenticator{Tokens: opts.Store}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionLifetime <= 0 {
		opts.SessionLifetime = defaultSessionLifetime
	}
	if opts.SessionIdle <= 0 || opts.SessionIdle > opts.SessionLifetime {
		opts.SessionIdle = min(defaultSessionIdle, opts.SessionLifetime)
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Region == "" {
		opts.Region = "local"
	}
	secret := opts.Secret
	if secret == "" {
		var b [32]byte
		rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
		secret = hex.EncodeToString(b[:])
	}
	c := &console{opts: opts, mux: http.NewServeMux(), assets: newAssets(), keys: deriveKeys(secret), sessions: opts.Store}
	c.pages = mustParsePages(c.assets)
	for _, rt := range c.routes() {
		c.mux.HandleFunc(rt.method+" "+rt.path, c.wrap(rt))
	}
	c.mux.HandleFunc("/", c.wrap(route{"", "/", read, c.notFound}))
	return c
}

func (c *console) routes() []route {
	return []route{
		{"GET", "/static/{file...}", public, c.static},
		{"GET", "/favicon.ico", public, c.favicon},
		{"GET", "/signin", public, c.signinPage},
		{"POST", "/signin", public, c.signin},
		{"POST", "/signout", read, c.signout},

		{"GET", "/{$}", read, c.dashboard},
		{"GET", "/repositories", read, c.repositories},
		{"GET", "/repositories/{name...}", read, c.repository},
		{"GET", "/images/{ref...}", read, c.image},
		{"GET", "/findings", read, c.findings},
		{"GET", "/findings/{id}", read, c.finding},

		{"GET", "/suppressions", read, c.suppressions},
		{"GET", "/suppressions/new", write, c.newSuppression},
		{"POST", "/suppressions", write, c.createSuppression},
		{"GET", "/suppressions/{id}", read, c.suppression},
		{"POST", "/suppressions/{id}/delete", write, c.deleteSuppression},

		{"GET", "/rules", read, c.eventRules},
		{"POST", "/rules/{name}/state", write, c.setEventRuleState},
		{"POST", "/rules/{name}/delete", write, c.deleteEventRule},
		{"GET", "/deliveries", read, c.deliveries},
		{"GET", "/deliveries/{id}", read, c.delivery},
		{"POST", "/deliveries/redrive", write, c.redrive},

		{"GET", "/gate", read, c.gate},
		{"GET", "/gate/decisions/{id}", read, c.gateDecision},
		{"POST", "/gate/policies/{name}/delete", write, c.deleteGatePolicy},
	}
}

func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Nothing is loaded from elsewhere, nothing inline runs, and no other
	// site may frame the console or receive its forms.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

func (c *console) now() time.Time { return c.opts.Now().UTC() }

// wrap authenticates the request as the route needs, checks a POST's
// origin and CSRF token and the caller's permission, and turns the
// route's error into an error page.
func (c *console) wrap(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rc := &reqCtx{}
		if rt.need != public {
			p, sess, err := c.authenticate(w, r)
			if err != nil {
				c.fail(w, r, rc, err)
				return
			}
			if p == nil {
				c.unauthenticated(w, r)
				return
			}
			rc.principal, rc.session = p, sess
			rc.csrf = c.keys.csrfToken(sess)
			rc.canWrite = auth.Allowed(p.Role, auth.Write)
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := checkOrigin(r); err != nil {
				c.fail(w, r, rc, err)
				return
			}
			if rt.need != public && !c.keys.validCSRF(rc.session, r.PostFormValue("csrf")) {
				c.fail(w, r, rc, &pageError{status: http.StatusForbidden, title: "Form expired",
					msg: "The form's security token is missing or does not match your session. Reload the page and try again."})
				return
			}
		}
		if rt.need == write && !rc.canWrite {
			c.fail(w, r, rc, &pageError{status: http.StatusForbidden, title: "Not allowed",
				msg: "Your token's role (" + rc.principal.Role + ") may view the console but not change anything."})
			return
		}
		if err := rt.fn(w, r, rc); err != nil {
			c.fail(w, r, rc, err)
		}
	}
}

// maxForm caps form bodies.
const maxForm = 64 << 10

// reqCtx is what wrap learned about a request.
type reqCtx struct {
	principal *auth.Principal
	session   *session
	csrf      string
	canWrite  bool
}

// pageError is an error shown to the user as a page with a status.
type pageError struct {
	status     int
	title, msg string
}

func (e *pageError) Error() string { return "web: " + e.msg }

func notFound(msg string) *pageError {
	return &pageError{status: http.StatusNotFound, title: "Not found", msg: msg}
}

func badRequest(msg string) *pageError {
	return &pageError{status: http.StatusBadRequest, title: "Bad request", msg: msg}
}

// fail renders err as an error page. Errors that are not *pageError are
// internal: they are logged, and the user learns only that something
// failed.
func (c *console) fail(w http.ResponseWriter, r *http.Request, rc *reqCtx, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		switch {
		case errors.Is(err, store.ErrNotFound):
			pe = notFound("There is nothing here.")
		case errors.Is(err, store.ErrInvalid):
			pe = badRequest(invalidMessage(err))
		default:
			c.opts.Log.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			pe = &pageError{status: http.StatusInternalServerError, title: "Something went wrong",
				msg: "The console could not load this page; the server log has the details."}
		}
	}
	if rc.principal == nil {
		c.pages.renderBare(w, pe.status, "error", errorView{Title: pe.title, Message: pe.msg})
		return
	}
	c.render(w, r, rc, pe.status, "error", pe.title, "", errorView{Title: pe.title, Message: pe.msg})
}

type errorView struct {
	Title, Message string
}

func (c *console) notFound(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return notFound("No page lives at " + r.URL.Path + ".")
}
