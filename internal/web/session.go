package web

import (
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
//	v1.<kind>.<id>.<nonce>.<expiry>.<mac>
//
// kind "t" names an API token by the SHA-256 hash the store keeps of it
// (id), so that the cookie never holds the token itself and a deleted
// token ends its sessions at once; kind "a" is the anonymous session of a
// console whose authentication is disabled (id is random). nonce is
// random per sign-in, expiry is Unix seconds and mac is HMAC-SHA256 of
// the rest under a key derived from Options.Secret. Nothing is kept on
// the server: any process with the secret and the store accepts it.
//
// The CSRF token of a session is HMAC-SHA256, under another derived key,
// of its kind, id and nonce: it does not change when the cookie is
// renewed, and a token of one sign-in is worthless in another.
const (
	cookieName = "vigil_session"
	// sessionTTL is how long a session lasts without use; it is renewed
	// once less than half of it is left.
	sessionTTL = 12 * time.Hour
)

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
	kind, id, nonce string
	expires         time.Time
}

const (
	kindToken = "t"
	kindAnon  = "a"
)

func (k keys) mac(payload string) string {
	m := hmac.New(sha256.New, k.session)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *session) payload() string {
	return strings.Join([]string{"v1", s.kind, s.id, s.nonce, strconv.FormatInt(s.expires.Unix(), 10)}, ".")
}

func (k keys) encode(s *session) string {
	p := s.payload()
	return p + "." + k.mac(p)
}

// decode verifies a cookie value; nil when it is not a valid, unexpired
// session.
func (k keys) decode(v string, now time.Time) *session {
	parts := strings.Split(v, ".")
	if len(parts) != 6 || parts[0] != "v1" {
		return nil
	}
	payload := strings.Join(parts[:5], ".")
	if !hmac.Equal([]byte(parts[5]), []byte(k.mac(payload))) {
		return nil
	}
	exp, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return nil
	}
	return &session{kind: parts[1], id: parts[2], nonce: parts[3], expires: time.Unix(exp, 0)}
}

func (k keys) csrfToken(s *session) string {
	m := hmac.New(sha256.New, k.csrf)
	m.Write([]byte(s.kind + "." + s.id + "." + s.nonce))
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

func (c *console) setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: c.keys.encode(s), Path: "/", Expires: s.expires,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// authenticate returns the principal of a request's session, or nil when
// it has none (an error only when the store fails). With authentication
// disabled everyone is the anonymous admin, with a session made on the
// spot so that forms have a CSRF token.
func (c *console) authenticate(w http.ResponseWriter, r *http.Request) (*auth.Principal, *session, error) {
	now := c.now()
	var s *session
	if ck, err := r.Cookie(cookieName); err == nil {
		s = c.keys.decode(ck.Value, now)
	}
	if c.opts.Auth.Disabled {
		if s == nil || s.kind != kindAnon {
			s = &session{kind: kindAnon, id: randomHex(16), nonce: randomHex(16), expires: now.Add(sessionTTL)}
			c.setCookie(w, r, s)
		}
		c.renew(w, r, s, now)
		return &auth.Principal{Name: "anonymous (authentication disabled)", Role: store.RoleAdmin}, s, nil
	}
	if s == nil || s.kind != kindToken {
		return nil, nil, nil
	}
	t, err := c.opts.Auth.Tokens.TokenByHash(r.Context(), s.id)
	if errors.Is(err, store.ErrNotFound) {
		clearCookie(w, r)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("web: session: %w", err)
	}
	c.renew(w, r, s, now)
	return &auth.Principal{TokenID: t.ID, Name: t.Name, Role: t.Role}, s, nil
}

// renew extends a session used in the second half of its life.
func (c *console) renew(w http.ResponseWriter, r *http.Request, s *session, now time.Time) {
	if s.expires.Sub(now) < sessionTTL/2 {
		s.expires = now.Add(sessionTTL)
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

// localPath keeps a redirect target on this site: a path, not "//host"
// or a URL.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") || strings.HasPrefix(next, "/signin") {
		return "/"
	}
	return next
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
	if errors.Is(err, auth.ErrUnauthenticated) {
		c.pages.renderBare(w, http.StatusUnauthorized, "signin", signinView{Next: next,
			Error: "That token is not valid. Check that it was copied whole and has not been deleted."})
		return nil
	}
	if err != nil {
		return err
	}
	s := &session{kind: kindToken, id: auth.Hash(token), nonce: randomHex(16), expires: c.now().Add(sessionTTL)}
	c.setCookie(w, r, s)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (c *console) signout(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	clearCookie(w, r)
	target := "/signin"
	if c.opts.Auth.Disabled {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}
