package web_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/web"
)

// env is the console over the API fixture's store, on a test server.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	opts   web.Options
	st     store.Store
	fx     *apitest.Fixture
	tokens map[string]string

	mu       sync.Mutex
	rulesErr error
	applied  int
}

var roles = []string{store.RoleAdmin, store.RolePipeline, store.RoleReadOnly}

func newEnv(t *testing.T, opts ...func(*web.Options)) *env {
	t.Helper()
	a := apitest.New(t)
	e := &env{t: t, st: a.Store, fx: a.Fixture, tokens: a.Tokens}
	o := web.Options{
		Store: a.Store, Auth: &auth.Authenticator{Tokens: a.Store},
		ApplyRules: func(ctx context.Context) error {
			e.mu.Lock()
			err := e.rulesErr
			e.applied++
			e.mu.Unlock()
			if err != nil {
				return err
			}
			return apitest.ApplyRules(ctx, a.Store, apitest.Now)
		},
		Secret: "console-test-secret-0123456789abcdef", Account: apitest.Account, Region: apitest.Region,
		Now: func() time.Time { return apitest.Now },
	}
	for _, opt := range opts {
		opt(&o)
	}
	e.opts = o
	e.srv = httptest.NewServer(web.New(o))
	t.Cleanup(e.srv.Close)
	return e
}

// client is a browser: a session cookie, kept by hand (the fixture's
// clock is in the past, so a cookie jar would drop the cookies as
// expired), and no redirects followed.
type client struct {
	e      *env
	cookie string
	// base is the server the client talks to: e.srv unless set.
	base string
}

func (e *env) anonymous() *client { return &client{e: e} }

// signIn signs in with a role's token.
func (e *env) signIn(role string) *client {
	e.t.Helper()
	c := &client{e: e}
	resp := c.do("POST", "/signin", url.Values{"token": {e.tokens[role]}, "next": {"/"}}, nil)
	if resp.code != http.StatusSeeOther || c.cookie == "" {
		e.t.Fatalf("sign in as %s: %d, cookie %q\n%s", role, resp.code, c.cookie, resp.body)
	}
	return c
}

type response struct {
	code   int
	body   string
	header http.Header
}

func (c *client) do(method, path string, form url.Values, hdr http.Header) response {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	base := c.base
	if base == "" {
		base = c.e.srv.URL
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "vigil_session", Value: c.cookie})
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == "vigil_session" {
			if ck.MaxAge < 0 {
				c.cookie = ""
			} else {
				c.cookie = ck.Value
			}
		}
	}
	return response{code: resp.StatusCode, body: string(b), header: resp.Header}
}

func (c *client) get(path string) response {
	c.e.t.Helper()
	return c.do("GET", path, nil, nil)
}

// page gets a page that must answer 200.
func (c *client) page(path string) string {
	c.e.t.Helper()
	r := c.get(path)
	if r.code != http.StatusOK {
		c.e.t.Fatalf("GET %s: %d\n%s", path, r.code, r.body)
	}
	return r.body
}

func (c *client) post(path string, form url.Values) response {
	c.e.t.Helper()
	return c.do("POST", path, form, nil)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the form token of the client's session, read from a page.
func (c *client) csrf() string {
	c.e.t.Helper()
	m := csrfRE.FindStringSubmatch(c.page("/"))
	if m == nil {
		c.e.t.Fatal("no CSRF token on the dashboard")
	}
	return m[1]
}

var postFormRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// postForms lists the actions of a page's POST forms.
func postForms(body string) []string {
	var out []string
	for _, m := range postFormRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// imageOf is a fixture image by repository and tag.
func (e *env) imageOf(repo, tag string) apitest.Image {
	e.t.Helper()
	for _, im := range e.fx.Images {
		if im.Repository == repo && im.Tag == tag {
			return im
		}
	}
	e.t.Fatalf("no fixture image %s:%s", repo, tag)
	return apitest.Image{}
}

// findingOf is a fixture finding by repository, tag and package.
func (e *env) findingOf(repo, tag, pkg string) apitest.Finding {
	e.t.Helper()
	for _, f := range e.imageOf(repo, tag).Findings {
		if f.Package == pkg {
			return f
		}
	}
	e.t.Fatalf("no fixture finding %s in %s:%s", pkg, repo, tag)
	return apitest.Finding{}
}

func (e *env) rules() []store.Rule {
	e.t.Helper()
	rs, err := e.st.Rules(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// failing is a store whose bus and gate methods fail, as a store
// without them (or with a broken connection) does.
type failing struct {
	store.Store
}

var errBroken = errors.New("store: not implemented yet")

func (failing) EventRules(context.Context) ([]store.EventRule, error) { return nil, errBroken }
func (failing) Deliveries(context.Context, store.DeliveryQuery) ([]store.Delivery, error) {
	return nil, errBroken
}
func (failing) GatePolicies(context.Context) ([]store.GatePolicy, error) { return nil, errBroken }
func (failing) GateRequests(context.Context, store.GateRequestQuery) ([]store.GateRequest, string, error) {
	return nil, "", errBroken
}
func (failing) GateDecisions(context.Context, store.GateDecisionQuery) ([]store.GateDecision, string, error) {
	return nil, "", errBroken
}

func eq(s string) []store.StringFilter { return []store.StringFilter{{Comparison: "EQUALS", Value: s}} }
