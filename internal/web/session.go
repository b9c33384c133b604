package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store"
)

// The session cookie is
//
//	v2.<kind>.<id>.<issued>.<expiry>.<mac>
//
// kind "t" is a sign-in with an API token: id is a random session id, and
// the store keeps the session (by the id's SHA-256, with the token's
// hash and when it ends) so that every process sharing the store knows
// it, and sign-out or deleting the token ends it everywhere at once.
// kind "a" is the anonymous session of a console whose authentication is
// disabled (id is random, nothing is kept). issued is the sign-in and
// expiry the end of this cookie, both Unix seconds; mac is HMAC-SHA256 of
// the rest under a key derived from Options.Secret, so that expiry
// cannot be moved by the browser.
//
// A session ends after Options.SessionIdle without use, and in any case
// Options.SessionLifetime after sign-in: using it renews the cookie's
// expiry, but never past that.
//
// The CSRF token of a session is HMAC-SHA256, under another derived key,
// of its kind and id: it does not change when the cookie is renewed, and
// a token of one sign-in is worthless in another.
const (
	cookieName = "vigil_session"
	// Defaults of Options.SessionIdle and Options.SessionLifetime.
	defaultSessionIdle     = 2 * time.Hour
	defaultSessionLifetime = 12 * time.Hour
)

// sessionStore is what the console keeps sessions in.
type sessionStore interface {
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, id string) (*store.Session, error)
	DeleteSession(ctx context.Context, id string) error
}

type keys struct {
	session, csrf []byte
}

// deriveKeys separates the console's keys from the secret, which the
// registry also uses for its upload state.
func deriveKeys(secret string) keys {
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("vigil console " + purpose))
		return m.Sum(nil)
	}
	return keys{session: derive("session"), csrf: derive("csrf")}
}

// session is a verified session cookie.
type session struct {
	kind, id        string
	issued, expires time.Time
}

const (
	kindToken = "t"
	kindAnon  = "a"
)

// storeID is the name the store keeps a token session under.
func (s *session) storeID() string { return auth.Hash(s.id) }

func (k keys) mac(payload string) string {
	m := hmac.New(sha256.New, k.session)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *session) payload() string {
	return strings.Join([]string{"v2", s.kind, s.id,
		strconv.FormatInt(s.issued.Unix(), 10), strconv.FormatInt(s.expires.Unix(), 10)}, ".")
}

func (k keys) encode(s *session) string {
	p := s.payload()
	return p + "." + k.mac(p)
}

// decode verifies a cookie value; nil when it is not a valid session
// that is still within both of its limits.
func (k keys) decode(v string, now time.Time, lifetime time.Duration) *session {
	parts := strings.Split(v, ".")
	if len(parts) != 6 || parts[0] != "v2" || (parts[1] != kindToken && parts[1] != kindAnon) || parts[2] == "" {
		return nil
	}
	payload := strings.Join(parts[:5], ".")
	if !hmac.Equal([]byte(parts[5]), []byte(k.mac(payload))) {
		return nil
	}
	issued, err1 := strconv.ParseInt(parts[3], 10, 64)
	exp, err2 := strconv.ParseInt(parts[4], 10, 64)
	if err1 != nil || err2 != nil {
		return nil
	}
	s := &session{kind: parts[1], id: parts[2], issued: time.Unix(issued, 0).UTC(), expires: time.Unix(exp, 0).UTC()}
	if !now.Before(s.expires) || !now.Before(s.issued.Add(lifetime)) {
		return nil
	}
	return s
}

func (k keys) csrfToken(s *session) string {
	m := hmac.New(sha256.New, k.csrf)
	m.Write([]byte(s.kind + "." + s.id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (k keys) validCSRF(s *session, token string) bool {
	return s != nil && token != "" && hmac.Equal([]byte(token), []byte(k.csrfToken(s)))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// secure says whether the cookie may travel only over TLS: when the
// request came over it, or when the console is told it is reached over
// it (behind a proxy that ends TLS).
func (c *console) secure(r *http.Request) bool {
	return r.TLS != nil || c.opts.SecureCookies
}

func (c *console) setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: c.keys.encode(s), Path: "/", Expires: s.expires,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

func (c *console) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// newSession starts a session of a kind now; it ends at the idle limit
// unless renewed, and at the lifetime limit in any case.
func (c *console) newSession(kind string, now time.Time) *session {
	s := &session{kind: kind, id: randomHex(16), issued: now.Truncate(time.Second)}
	s.expires = c.idleEnd(s, now)
	return s
}

// idleEnd is when a session used now ends if it is not used again.
func (c *console) idleEnd(s *session, now time.Time) time.Time {
	end := now.Add(c.opts.SessionIdle)
	if last := s.issued.Add(c.opts.SessionLifetime); end.After(last) {
		end = last
	}
	return end
}

// authenticate returns the principal of a request's session, or nil when
// it has none (an error only when the store fails). With authentication
// disabled everyone is the anonymous admin, with a session made on the
// spot so that forms have a CSRF token.
func (c *console) authenticate(w http.ResponseWriter, r *http.Request) (*auth.Principal, *session, error) {
	now := c.now()
	var s *session
	if ck, err := r.Cookie(cookieName); err == nil {
		s = c.keys.decode(ck.Value, now, c.opts.SessionLifetime)
	}
	if c.opts.Auth.Disabled {
		if s == nil || s.kind != kindAnon {
			s = c.newSession(kindAnon, now)
			c.setCookie(w, r, s)
		}
		c.renew(w, r, s, now)
		return &auth.Principal{Name: "anonymous (authentication disabled)", Role: store.RoleAdmin}, s, nil
	}
	if s == nil || s.kind != kindToken {
		return nil, nil, nil
	}
	kept, err := c.sessions.Session(r.Context(), s.storeID())
	if errors.Is(err, store.ErrNotFound) {
		c.clearCookie(w, r)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("web: session: %w", err)
	}
	if !now.Before(kept.ExpiresAt) {
		c.clearCookie(w, r)
		return nil, nil, nil
	}
	t, err := c.opts.Auth.Tokens.TokenByHash(r.Context(), kept.TokenHash)
	if errors.Is(err, store.ErrNotFound) {
		c.clearCookie(w, r)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("web: session: %w", err)
	}
	c.renew(w, r, s, now)
	return &auth.Principal{TokenID: t.ID, Name: t.Name, Role: t.Role}, s, nil
}

// renew extends a session used in the second half of its idle time, as
// far as its lifetime allows.
func (c *console) renew(w http.ResponseWriter, r *http.Request, s *session, now time.Time) {
	if s.expires.Sub(now) >= c.opts.SessionIdle/2 {
		return
	}
	if end := c.idleEnd(s, now); end.After(s.expires) {
		s.expires = end
		c.setCookie(w, r, s)
	}
}

// unauthenticated sends a page request to the sign-in page, coming back
// afterwards; anything else is refused.
func (c *console) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	c.pages.renderBare(w, http.StatusUnauthorized, "error", errorView{Title: "Signed out",
		Message: "Your session has ended. Sign in again, then repeat what you were doing."})
}

// checkOrigin refuses a POST whose Origin (or, without one, Referer)
// names another host: browsers send one of them with every form, and a
// cross-site form must not act with the user's session.
func checkOrigin(r *http.Request) error {
	bad := &pageError{status: http.StatusForbidden, title: "Cross-site request refused",
		msg: "This form was not sent from the console's own pages."}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if o == "null" || err != nil || u.Host != r.Host {
			return bad
		}
		return nil
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		if err != nil || u.Host != r.Host {
			return bad
		}
	}
	return nil
}

// maxNext bounds a redirect target; no page of the console needs more.
const maxNext = 4096

// localPath keeps a redirect target on this site, or else is the
// dashboard. Browsers read a Location leniently: they drop tabs and
// newlines anywhere, take "\" for "/", and a second leading slash makes
// what follows a host. So only a plain path passes: one leading "/", no
// "\", no control character, nothing url.Parse reads as a scheme, host
// or user, both in the value as given and percent-decoded (repeatedly,
// since a target may be decoded again on its way), and not the sign-in
// page itself.
func localPath(next string) string {
	if len(next) > maxNext || strings.HasPrefix(next, "/signin") {
		return "/"
	}
	v := next
	for depth := 0; ; depth++ {
		if !plainPath(v) {
			return "/"
		}
		d, err := url.PathUnescape(v)
		switch {
		case err != nil && depth == 0:
			// Malformed escapes: not a URL this console made.
			return "/"
		case err != nil || d == v:
			return next
		case depth == 3:
			// Encoded four times over is nobody's link.
			return "/"
		}
		v = d
	}
}

// plainPath says whether v is an absolute path on this site and nothing
// a browser could read otherwise.
func plainPath(v string) bool {
	if v == "" || v[0] != '/' || strings.HasPrefix(v, "//") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(v)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

type signinView struct {
	Next, Error string
}

func (c *console) signinPage(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	next := localPath(r.URL.Query().Get("next"))
	if c.opts.Auth.Disabled {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	c.pages.renderBare(w, http.StatusOK, "signin", signinView{Next: next})
	return nil
}

// signin checks the token with the authenticator, as the API would, and
// starts a session naming it by its hash.
func (c *console) signin(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	next := localPath(r.PostFormValue("next"))
	if c.opts.Auth.Disabled {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		c.pages.renderBare(w, http.StatusBadRequest, "signin", signinView{Next: next, Error: "Enter an API token."})
		return nil
	}
	req := r.Clone(r.Context())
	req.Header = http.Header{"Authorization": {"Bearer " + token}}
	_, err := c.opts.Auth.Authenticate(req)
	s := c.newSession(kindToken, c.now())
	if err == nil {
		err = c.sessions.CreateSession(r.Context(), store.Session{ID: s.storeID(), TokenHash: auth.Hash(token),
			CreatedAt: s.issued, ExpiresAt: s.issued.Add(c.opts.SessionLifetime)})
		if errors.Is(err, store.ErrNotFound) {
			// Deleted between the check and now.
			err = auth.ErrUnauthenticated
		}
	}
	if errors.Is(err, auth.ErrUnauthenticated) {
		c.pages.renderBare(w, http.StatusUnauthorized, "signin", signinView{Next: next,
			Error: "That token is not valid. Check that it was copied whole and has not been deleted."})
		return nil
	}
	if err != nil {
		return fmt.Errorf("web: sign in: %w", err)
	}
	c.setCookie(w, r, s)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// signout ends the session in the store, so that a copy of the cookie
// is worthless too, in every process.
func (c *console) signout(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if s := rc.session; s != nil && s.kind == kindToken {
		if err := c.sessions.DeleteSession(r.Context(), s.storeID()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("web: sign out: %w", err)
		}
	}
	c.clearCookie(w, r)
	target := "/signin"
	if c.opts.Auth.Disabled {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}
