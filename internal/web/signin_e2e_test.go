package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/web"
)

// TestSigninRedirectInBrowser sends headless Chromium to sign-in targets
// that point at another site (a second local server) and checks where it
// ends up: on the console every time. Chromium reads "/\t/host" as
// "//host", so the report's target is among them. With authentication
// disabled /signin redirects at once, so nothing but the target rule
// stands in the way; with it, the browser signs in through the form.
func TestSigninRedirectInBrowser(t *testing.T) {
	requireChromium(t)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<!doctype html><title>elsewhere</title>elsewhere"))
	}))
	t.Cleanup(evil.Close)
	other := strings.TrimPrefix(evil.URL, "http://")
	targets := []string{
		"/\t/" + other + "/", "/\n/" + other + "/", "/\r\n/" + other + "/", "//" + other + "/", "/\\" + other + "/",
		"/\\/" + other + "/", "\\\\" + other + "/", "/%09/" + other + "/", "/%2F/" + other + "/", "/%5C" + other + "/",
		"%2F%2F" + other + "/", evil.URL + "/", " //" + other + "/",
	}

	// start opens a console and a browser that records policy violations.
	start := func(t *testing.T, opts func(*web.Options)) (*env, *browser) {
		e := newEnv(t, func(o *web.Options) {
			o.Now = time.Now // the browser drops cookies that expired by its clock
			opts(o)
		})
		b := newBrowser(t, e.srv.URL)
		if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
		}); err != nil {
			t.Fatal(err)
		}
		return e, b
	}
	// where checks that the browser is on the console's page want.
	where := func(t *testing.T, e *env, b *browser, what, next, want string) {
		t.Helper()
		var l string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var err error
			if l, err = chromedp.Run(b.ctx, chromedp.Location()); err == nil && !strings.Contains(l, "/signin") {
				if ready, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.readyState`)); err == nil && ready == "complete" {
					break
				}
			}
		}
		if l != e.srv.URL+want {
			csp, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
			t.Errorf("%s with next=%q: the browser is at %s, want %s%s (policy violations %v)", what, next, l, e.srv.URL, want, csp)
		}
	}

	t.Run("no authentication", func(t *testing.T) {
		e, b := start(t, func(o *web.Options) { o.Auth.Disabled = true })
		for _, next := range targets {
			b.open("/signin?next=" + url.QueryEscape(next))
			where(t, e, b, "a link to the sign-in page", next, "/")
		}
		b.open("/signin?next=" + url.QueryEscape("/findings?severity=CRITICAL"))
		where(t, e, b, "a link to the sign-in page", "/findings?severity=CRITICAL", "/findings?severity=CRITICAL")
	})

	t.Run("sign-in form", func(t *testing.T) {
		e, b := start(t, func(*web.Options) {})
		submit := func() {
			t.Helper()
			b.do(chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), e.tokens[store.RoleAdmin]),
				chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`), chromedp.NodeVisible))
		}
		for _, next := range targets {
			// Through the sign-in page's link, as a phishing mail would
			// send a user.
			b.open("/signin?next=" + url.QueryEscape(next))
			submit()
			where(t, e, b, "the sign-in page", next, "/")

			// Straight to the form handler, whatever the page carries.
			b.open("/signin")
			js, _ := json.Marshal(next)
			evalAs[bool](b, `(document.querySelector('#signin-form input[name="next"]').value = `+string(js)+`, true)`)
			submit()
			where(t, e, b, "a forged sign-in form", next, "/")
		}
		b.open("/signin?next=" + url.QueryEscape("/findings?severity=CRITICAL"))
		submit()
		where(t, e, b, "the sign-in page", "/findings?severity=CRITICAL", "/findings?severity=CRITICAL")
	})
}

// TestConsoleScriptUnderPolicy: with the console's Content-Security-Policy
// Chromium reports no violation on its pages, and the console's script
// runs (a tab switches without loading the page).
func TestConsoleScriptUnderPolicy(t *testing.T) {
	requireChromium(t)
	e := newEnv(t, func(o *web.Options) { o.Now = time.Now })
	s := seed(t, e)
	b := newBrowser(t, e.srv.URL)
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	b.signIn(e.tokens[store.RoleAdmin])
	f := e.findingOf("team/db", "16", "libssl3")
	paths := []string{"/", "/findings/" + f.ID}
	for _, pc := range pageCases(e, s) {
		paths = append(paths, pc.path)
	}
	for _, p := range paths {
		b.open(p)
		if v := evalAs[[]string](b, `window.__csp`); len(v) != 0 {
			t.Errorf("%s: policy violations %v", p, v)
		}
	}
	b.open("/findings/" + f.ID)
	evalAs[bool](b, `(window.__same = true)`)
	b.do(chromedp.Click(chromedp.CSS("#tab-score"), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.ID("panel-score")))
	if same := evalAs[bool](b, `window.__same === true && document.getElementById("panel-details").hidden`); !same {
		t.Error("the score tab loaded a page instead of switching: the console's script did not run")
	}
	if v := evalAs[[]string](b, `window.__csp`); len(v) != 0 {
		t.Errorf("policy violations %v", v)
	}
}
