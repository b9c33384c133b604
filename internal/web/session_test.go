package web_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/web"
)

// hostileNext are sign-in redirect targets that leave the site in some
// browser, or could once decoded again, as the form value arrives.
var hostileNext = []string{
	// Browsers drop tabs and newlines anywhere in a URL: "/\t/x" is "//x".
	"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\r\n/evil.example", "\t//evil.example",
	"/\t\t/evil.example/path?q=1", "/\x00/evil.example", "/\x1f/evil.example", "/\x7f/evil.example",
	// The same, percent-encoded once more (next=/%2509/evil.example).
	"/%09/evil.example", "/%0a/evil.example", "/%0D/evil.example", "/%0d%0a/evil.example", "/%00/evil.example", "/%7F/evil.example",
	"/%2509/evil.example",
	// Scheme-relative, and backslashes, which browsers read as slashes.
	"//evil.example", "///evil.example", "//evil.example/%2e%2e", "/\\evil.example", "/\\/evil.example", "\\\\evil.example",
	"\\/evil.example", "/a\\b", "/%5Cevil.example", "/%5c/evil.example", "/%255C/evil.example",
	// Encoded slashes that decode to a second leading one.
	"/%2F/evil.example", "/%2f%2fevil.example", "%2F%2Fevil", "%2f%2fevil.example", "/%252F/evil.example", "/%25252F%25252Fevil.example",
	// Schemes and hosts.
	"https://evil.example", "http://evil.example/", "HTTPS://evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(document.cookie)",
	"data:text/html,<script>alert(1)</script>", "vbscript:msgbox", "evil.example", "evil.example/path", "https:/evil.example",
	"https:evil.example", "//user@evil.example", " //evil.example", ".//evil.example",
	// Not a target at all.
	"", "/%zz", "/signin", "/signin?next=//evil.example", "/" + strings.Repeat("a", 5000),
}

// localNext are targets the console itself makes (the page a signed-out
// visitor asked for), which must survive.
var localNext = []string{
	"/", "/findings", "/findings?severity=CRITICAL&package=musl&status=ALL",
	"/images/team/app@sha256:" + strings.Repeat("ab", 32), "/repositories/team/app",
	"/findings?repository=team%2Fapp&vuln=CVE-2023-45853", "/findings/0123456789abcdef0123456789abcdef?tab=score",
	"/deliveries?state=dead",
}

var nextFieldRE = regexp.MustCompile(`name="next" value="([^"]*)"`)

// TestSigninRedirect: after sign-in the console sends the browser only to
// a path of its own; anything else goes to the dashboard. The sign-in
// page, which puts the target into its form, applies the same rule.
func TestSigninRedirect(t *testing.T) {
	e := newEnv(t)
	check := func(next, want string) {
		t.Helper()
		c := e.anonymous()
		r := c.post("/signin", url.Values{"token": {e.tokens[store.RoleAdmin]}, "next": {next}})
		if r.code != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("next=%q: %d to %q, want %q", next, r.code, r.header.Get("Location"), want)
		}
		page := c.get("/signin?next=" + url.QueryEscape(next))
		m := nextFieldRE.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("the sign-in page has no next field:\n%s", page.body)
		}
		if got := html.UnescapeString(m[1]); got != want {
			t.Errorf("sign-in page for next=%q carries %q, want %q", next, got, want)
		}
	}
	for _, next := range hostileNext {
		check(next, "/")
	}
	for _, next := range localNext {
		check(next, next)
	}
	// The exact request of the report, encoded by hand.
	req, _ := http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader("token="+url.QueryEscape(e.tokens[store.RoleAdmin])+"&next=/%09/evil.example"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("next=/%%09/evil.example: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestSigninRedirectFollowed follows the redirects after sign-in as a
// client does, and checks that every hop stays on the console's host.
func TestSigninRedirectFollowed(t *testing.T) {
	e := newEnv(t, func(o *web.Options) { o.Now = time.Now })
	host := strings.TrimPrefix(e.srv.URL, "http://")
	for _, next := range append(append([]string{}, hostileNext...), localNext...) {
		var hops []string
		hc := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			hops = append(hops, req.URL.Host)
			if len(via) > 5 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		form := url.Values{"token": {e.tokens[store.RoleAdmin]}, "next": {next}}
		req, _ := http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.srv.URL)
		resp, err := hc.Do(req)
		if err != nil {
			t.Errorf("next=%q: %v (hops %v)", next, err, hops)
			continue
		}
		resp.Body.Close()
		if final := resp.Request.URL.Host; final != host || len(hops) == 0 {
			t.Errorf("next=%q: ended at %s after hops %v, want %s", next, resp.Request.URL, hops, host)
		}
		for _, h := range hops {
			if h != host {
				t.Errorf("next=%q: a hop to %s", next, h)
			}
		}
	}
}

// TestSignoutRevokes: a cookie copied before sign-out is refused after
// it, by this console and by another one sharing its store and secret.
func TestSignoutRevokes(t *testing.T) {
	e := newEnv(t)
	other := httptest.NewServer(web.New(e.opts)) // a second `vigil serve`
	t.Cleanup(other.Close)

	c := e.signIn(store.RoleAdmin)
	copied := c.cookie
	there := &client{e: e, cookie: copied, base: other.URL}
	there.page("/") // the other process knows the session
	csrf := c.csrf()
	if r := c.post("/signout", url.Values{"csrf": {csrf}}); r.code != http.StatusSeeOther || r.header.Get("Location") != "/signin" || c.cookie != "" {
		t.Fatalf("sign out: %d to %q, cookie %q", r.code, r.header.Get("Location"), c.cookie)
	}
	for name, stale := range map[string]*client{"this console": {e: e, cookie: copied}, "another console": {e: e, cookie: copied, base: other.URL}} {
		r := stale.get("/findings")
		if r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin?next=") {
			t.Errorf("%s: the copied cookie after sign-out: %d to %q", name, r.code, r.header.Get("Location"))
		}
		if r := stale.post("/suppressions", url.Values{"csrf": {csrf}, "from": {"finding"}}); r.code != http.StatusUnauthorized {
			t.Errorf("%s: a POST with the copied cookie after sign-out: %d", name, r.code)
		}
	}

	// Signing out in the other process ends the session here too.
	c = e.signIn(store.RoleReadOnly)
	there = &client{e: e, cookie: c.cookie, base: other.URL}
	if r := there.post("/signout", url.Values{"csrf": {c.csrf()}}); r.code != http.StatusSeeOther {
		t.Fatalf("sign out over there: %d", r.code)
	}
	if r := c.get("/"); r.code != http.StatusSeeOther {
		t.Errorf("a session signed out elsewhere still works here: %d", r.code)
	}

	// Other sessions of the same token are not affected.
	a, b := e.signIn(store.RoleAdmin), e.signIn(store.RoleAdmin)
	a.post("/signout", url.Values{"csrf": {a.csrf()}})
	b.page("/")
}

// TestDeletedTokenEndsSessions: deleting (revoking) a token ends every
// console session signed in with it.
func TestDeletedTokenEndsSessions(t *testing.T) {
	e := newEnv(t)
	a, b := e.signIn(store.RolePipeline), e.signIn(store.RolePipeline)
	other := e.signIn(store.RoleReadOnly)
	if err := e.st.DeleteToken(context.Background(), "tok-"+store.RolePipeline); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if r := c.get("/"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin") {
			t.Errorf("a session of a deleted token: %d to %q", r.code, r.header.Get("Location"))
		}
	}
	other.page("/")
}

// clock is a settable clock for the console.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestSessionLifetime: using a session renews it while idle, but never
// past its lifetime after sign-in; an unused one ends after the idle
// time.
func TestSessionLifetime(t *testing.T) {
	cases := []struct {
		name           string
		idle, lifetime time.Duration // options; 0 for the default
		wantIdle, want time.Duration
	}{
		{"defaults", 0, 0, 2 * time.Hour, 12 * time.Hour},
		{"configured", 10 * time.Minute, time.Hour, 10 * time.Minute, time.Hour},
		{"idle longer than lifetime", 5 * time.Hour, 3 * time.Hour, 2 * time.Hour, 3 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: apitest.Now}
			e := newEnv(t, func(o *web.Options) { o.Now, o.SessionIdle, o.SessionLifetime = clk.now, tc.idle, tc.lifetime })
			start := apitest.Now
			c := e.signIn(store.RoleAdmin)

			// Used at 40% of the idle time, again and again: it lasts
			// until its lifetime, and not a second more.
			step := tc.wantIdle * 4 / 10
			renewed := false
			for at := start.Add(step); at.Before(start.Add(tc.want)); at = at.Add(step) {
				clk.set(at)
				before := c.cookie
				r := c.get("/")
				if r.code != http.StatusOK {
					t.Fatalf("at +%s: %d to %q", at.Sub(start), r.code, r.header.Get("Location"))
				}
				renewed = renewed || c.cookie != before
				for _, ck := range (&http.Response{Header: r.header}).Cookies() {
					if ck.Name == "vigil_session" && ck.Expires.After(start.Add(tc.want)) {
						t.Errorf("at +%s the cookie is renewed until %s, past the session's lifetime", at.Sub(start), ck.Expires)
					}
				}
			}
			if !renewed {
				t.Error("a session in use was never renewed")
			}
			clk.set(start.Add(tc.want).Add(-time.Second))
			if r := c.get("/"); r.code != http.StatusOK {
				t.Errorf("a second before its lifetime ends: %d", r.code)
			}
			clk.set(start.Add(tc.want))
			if r := c.get("/"); r.code != http.StatusSeeOther {
				t.Errorf("at the end of its lifetime: %d, want a redirect to sign-in", r.code)
			}

			// Unused, it ends after the idle time.
			clk.set(start)
			c = e.signIn(store.RoleAdmin)
			clk.set(start.Add(tc.wantIdle - time.Second))
			c2 := &client{e: e, cookie: c.cookie}
			if r := c2.get("/"); r.code != http.StatusOK {
				t.Errorf("just before the idle time: %d", r.code)
			}
			clk.set(start.Add(tc.wantIdle))
			if r := c.get("/"); r.code != http.StatusSeeOther {
				t.Errorf("unused for the idle time: %d, want a redirect to sign-in", r.code)
			}
		})
	}
}

// TestCookieAttributes: the session cookie is HttpOnly and SameSite, and
// Secure over TLS or when configured.
func TestCookieAttributes(t *testing.T) {
	signin := func(t *testing.T, srv *httptest.Server, hc *http.Client, token string) *http.Response {
		t.Helper()
		form := url.Values{"token": {token}, "next": {"/"}}
		req, _ := http.NewRequest("POST", srv.URL+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	session := func(t *testing.T, resp *http.Response) *http.Cookie {
		t.Helper()
		for _, ck := range resp.Cookies() {
			if ck.Name == "vigil_session" {
				return ck
			}
		}
		t.Fatalf("no session cookie: %d %v", resp.StatusCode, resp.Header)
		return nil
	}
	check := func(t *testing.T, ck *http.Cookie, raw []string, secure bool) {
		t.Helper()
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != secure {
			t.Errorf("cookie HttpOnly %v, SameSite %v, Path %q, Secure %v (want Secure %v): %q", ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure, secure, raw)
		}
	}

	t.Run("plain HTTP", func(t *testing.T) {
		e := newEnv(t)
		resp := signin(t, e.srv, &http.Client{}, e.tokens[store.RoleAdmin])
		check(t, session(t, resp), resp.Header.Values("Set-Cookie"), false)
		if raw := strings.Join(resp.Header.Values("Set-Cookie"), " "); !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") {
			t.Errorf("Set-Cookie %q", raw)
		}
		// Signing out clears it with the same attributes.
		c := &client{e: e, cookie: session(t, resp).Value}
		r := c.post("/signout", url.Values{"csrf": {c.csrf()}})
		out := session(t, &http.Response{Header: r.header})
		if out.MaxAge >= 0 || out.Value != "" {
			t.Errorf("sign-out cookie %+v", out)
		}
		check(t, out, r.header.Values("Set-Cookie"), false)
	})
	t.Run("configured", func(t *testing.T) {
		e := newEnv(t, func(o *web.Options) { o.SecureCookies = true })
		resp := signin(t, e.srv, &http.Client{}, e.tokens[store.RoleAdmin])
		check(t, session(t, resp), resp.Header.Values("Set-Cookie"), true)
	})
	t.Run("TLS", func(t *testing.T) {
		e := newEnv(t)
		srv := httptest.NewTLSServer(web.New(e.opts))
		t.Cleanup(srv.Close)
		resp := signin(t, srv, srv.Client(), e.tokens[store.RoleAdmin])
		check(t, session(t, resp), resp.Header.Values("Set-Cookie"), true)
	})
}

// TestSecurityHeaders: every kind of console response carries the
// security headers, and no page has inline script or style that the
// policy would block.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e)
	admin := e.signIn(store.RoleAdmin)
	anon := e.anonymous()
	responses := map[string]response{
		"sign-in page":          anon.get("/signin"),
		"redirect to sign-in":   anon.get("/findings"),
		"POST without session":  anon.post("/suppressions", url.Values{}),
		"failed sign-in":        anon.post("/signin", url.Values{"token": {"vgl_nope"}}),
		"sign-in":               anon.post("/signin", url.Values{"token": {e.tokens[store.RoleReadOnly]}}),
		"cross-site form":       admin.do("POST", "/suppressions", url.Values{}, http.Header{"Origin": {"https://evil.example"}}),
		"form without CSRF":     admin.post("/suppressions", url.Values{}),
		"asset":                 anon.get("/static/app.js"),
		"missing asset":         anon.get("/static/nope.js"),
		"favicon":               anon.get("/favicon.ico"),
		"page not found":        admin.get("/nope"),
		"dashboard":             admin.get("/"),
		"finding not found":     admin.get("/findings/nope"),
		"read-only tries write": e.signIn(store.RoleReadOnly).get("/suppressions/new"),
	}
	for _, pc := range pageCases(e, s) {
		responses[pc.path] = admin.get(pc.path)
	}
	scriptTag := regexp.MustCompile(`(?i)<script\b[^>]*>`)
	inline := regexp.MustCompile(`(?i)<style\b|\sstyle=|\son[a-z]+=|javascript:`)
	for name, r := range responses {
		h := r.header
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: Content-Security-Policy %q lacks %s", name, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("%s: Content-Security-Policy %q allows unsafe sources", name, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", name, k, got, want)
			}
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			if m := inline.FindString(r.body); m != "" {
				t.Errorf("%s: inline script or style the policy blocks: %q", name, m)
			}
			for _, loc := range scriptTag.FindAllStringIndex(r.body, -1) {
				if tag := r.body[loc[0]:loc[1]]; !strings.Contains(tag, " src=") || !strings.HasPrefix(r.body[loc[1]:], "</script>") {
					t.Errorf("%s: an inline script: %q", name, r.body[loc[0]:min(len(r.body), loc[1]+40)])
				}
			}
		}
	}
}
