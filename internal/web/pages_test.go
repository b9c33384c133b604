package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/web"
)

// pageCase is a page and words it must show.
type pageCase struct {
	path string
	want []string
}

func pageCases(e *env, s seeded) []pageCase {
	app := e.imageOf("team/app", "1.0")
	return []pageCase{
		{"/", []string{"Dashboard", "Images most at risk", "Top vulnerabilities", "Top packages", "Recent gate decisions", "1 CRITICAL finding (at most 0 allowed)", `<svg class="chart"`}},
		{"/repositories", []string{"team/app", "team/db", "team/web"}},
		{"/repositories/team/app", []string{"team/app", "1.0", "latest", "COMPLETE"}},
		{"/images/team/app@" + app.Digest, []string{"team/app", app.Digest, "Layers with findings", "zlib1g", "Debian 12", "Rejected"}},
		{"/findings", []string{"CVE-2023-45853", "libssl3", "Apply filters"}},
		{"/findings/" + s.zlib.ID, []string{"CVE-2023-45853", "zlib1g", "1:1.2.13.dfsg-1", "Score breakdown", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "nvd.nist.gov"}},
		{"/findings/" + s.zlib.ID + "?tab=score", []string{"Adjustments", "Attack vector", "Network"}},
		{"/suppressions", []string{"Suppression rules"}},
		{"/rules", []string{"notify-security", "https://hooks.example.com/vigil", "signed (HMAC-SHA256)", "from-config"}},
		{"/deliveries", []string{"notify-security", "502 Bad Gateway", "delivered"}},
		{"/deliveries?state=dead", []string{"Dead-letter deliveries", "502 Bad Gateway"}},
		{"/deliveries/" + int64s(s.dead), []string{"Delivery #" + int64s(s.dead), "502 Bad Gateway", "detail-type"}},
		{"/gate", []string{"team-strict", "team/*", "deploy-web", "1 CRITICAL finding (at most 0 allowed)", "counting only findings new since the last image approved for the stage"}},
		{"/gate/decisions/" + s.decision, []string{"Rejected", "maxCritical", "CVE-2023-45853", "deploy-app", "20261204T183257Z-3f2a9c1b7e4d", "Compared with"}},
	}
}

// TestPagesForEachRole renders every page for every role: each answers
// 200 with what it is about, and only a role allowed to write sees a
// control that changes anything.
func TestPagesForEachRole(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e)
	// A rule, so that the list and a rule's page have something to show
	// (and a delete button for admins).
	admin := e.signIn(store.RoleAdmin)
	f := e.findingOf("team/db", "16", "libssl3")
	if r := admin.post("/suppressions", url.Values{"csrf": {admin.csrf()}, "from": {"finding"}, "finding": {f.ID}, "scope": {"finding"},
		"name": {"libssl3 in db"}, "reason": {"not reachable"}}); r.code != http.StatusSeeOther {
		t.Fatalf("create rule: %d\n%s", r.code, r.body)
	}
	rule := e.rules()[0]
	cases := append(pageCases(e, s), pageCase{"/suppressions/" + rule.ID, []string{"libssl3 in db", "not reachable", "Finding ARN is"}},
		pageCase{"/findings/" + f.ID, []string{"SUPPRESSED", "libssl3 in db"}})
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			c := e.signIn(role)
			for _, pc := range cases {
				body := c.page(pc.path)
				for _, w := range pc.want {
					if !strings.Contains(body, w) {
						t.Errorf("%s: %q missing", pc.path, w)
					}
				}
				if strings.Contains(body, webhookSecret) || strings.Contains(body, "gate-token-secret") {
					t.Errorf("%s shows a secret", pc.path)
				}
				forms := postForms(body)
				if role == store.RoleAdmin {
					continue
				}
				for _, action := range forms {
					if action != "/signout" {
						t.Errorf("%s: a %s user sees a form that changes something: %s", pc.path, role, action)
					}
				}
				for _, ctl := range []string{`data-action="create-suppression"`, `data-action="delete-rule"`, `data-action="suppress-filter"`,
					`data-action="redrive`, `data-action="disable-rule"`, `data-action="delete-event-rule"`, `data-action="delete-policy"`, `data-action="new-suppression"`} {
					if strings.Contains(body, ctl) {
						t.Errorf("%s: a %s user sees %s", pc.path, role, ctl)
					}
				}
				if !strings.Contains(body, "change nothing") {
					t.Errorf("%s: no read-only notice for %s", pc.path, role)
				}
			}
		})
	}
	// What admins see that others do not.
	for path, want := range map[string]string{
		"/findings/" + s.zlib.ID:   `action="/suppressions"`,
		"/findings?package=zlib1g": `data-action="suppress-filter"`,
		"/suppressions":            `action="/suppressions/` + rule.ID + `/delete"`,
		"/rules":                   `action="/rules/notify-security/state"`,
		"/deliveries?state=dead":   `action="/deliveries/redrive"`,
		"/gate":                    `action="/gate/policies/team-strict/delete"`,
	} {
		if body := admin.page(path); !strings.Contains(body, want) {
			t.Errorf("admin: %s has no %s", path, want)
		}
	}
	// Rules from the configuration file are changed there.
	if body := admin.page("/rules"); strings.Contains(body, `action="/rules/from-config/`) {
		t.Error("a configuration-file rule has controls")
	}
	if body := admin.page("/suppressions/new?package=zlib1g"); !strings.Contains(body, "Would suppress now") || !strings.Contains(body, `name="package" value="zlib1g"`) {
		t.Errorf("new rule from a filter:\n%s", body)
	}
}

func int64s(n int64) string { return strconv.FormatInt(n, 10) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestNotFound gives unknown ids and paths a 404 page.
func TestNotFound(t *testing.T) {
	e := newEnv(t)
	c := e.signIn(store.RoleReadOnly)
	app := e.imageOf("team/app", "1.0")
	for _, path := range []string{
		"/findings/0123456789abcdef0123456789abcdef",
		"/findings/not-a-finding",
		"/images/team/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
		"/images/team/nope@" + app.Digest,
		"/images/team/app",
		"/repositories/team/nope",
		"/suppressions/nope",
		"/deliveries/999999",
		"/deliveries/abc",
		"/gate/decisions/nope",
		"/no/such/page",
	} {
		r := c.get(path)
		if r.code != http.StatusNotFound || !strings.Contains(r.body, "Not found") {
			t.Errorf("GET %s: %d\n%s", path, r.code, r.body)
		}
	}
	admin := e.signIn(store.RoleAdmin)
	for _, path := range []string{"/suppressions/nope/delete", "/rules/nope/delete", "/gate/policies/nope/delete"} {
		if r := admin.post(path, url.Values{"csrf": {admin.csrf()}}); r.code != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, r.code)
		}
	}
}

// TestSectionsFailGracefully renders the pages over a store whose bus
// and gate methods fail: each page still renders, with a note where the
// section would be.
func TestSectionsFailGracefully(t *testing.T) {
	e := newEnv(t, func(o *web.Options) { o.Store = failing{o.Store} })
	c := e.signIn(store.RoleAdmin)
	app := e.imageOf("team/app", "1.0")
	for _, path := range []string{"/", "/rules", "/deliveries", "/gate", "/images/team/app@" + app.Digest} {
		body := c.page(path)
		if !strings.Contains(body, "could not be loaded") {
			t.Errorf("%s: no note", path)
		}
		if strings.Contains(body, "not implemented") {
			t.Errorf("%s shows the store's words", path)
		}
	}
}

// TestAssets serves the embedded assets without a session, cached for
// good when asked for by their version.
func TestAssets(t *testing.T) {
	e := newEnv(t)
	c := e.anonymous()
	body := e.signIn(store.RoleAdmin).page("/")
	for _, name := range []string{"app.css", "app.js", "icon.svg"} {
		i := strings.Index(body, "/static/"+name+"?v=")
		if i < 0 {
			t.Fatalf("the page does not link %s", name)
		}
		link := body[i:]
		link = link[:strings.IndexByte(link, '"')]
		r := c.get(link)
		if r.code != 200 || !strings.Contains(r.header.Get("Cache-Control"), "immutable") || r.header.Get("ETag") == "" {
			t.Errorf("%s: %d %v", link, r.code, r.header)
		}
		if r := c.get("/static/" + name); r.code != 200 || strings.Contains(r.header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s without a version: %d %v", name, r.code, r.header)
		}
	}
	if ct := c.get("/static/app.css").header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("app.css: %s", ct)
	}
	if r := c.get("/static/nope.css"); r.code != 404 {
		t.Errorf("missing asset: %d", r.code)
	}
	if r := c.get("/"); r.header.Get("Content-Security-Policy") == "" || r.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: %v", r.header)
	}
}

// TestDashboardCounts checks the dashboard's numbers against the store.
func TestDashboardCounts(t *testing.T) {
	e := newEnv(t)
	c := e.signIn(store.RoleReadOnly)
	body := c.page("/")
	aggs, _, err := e.st.AggregateFindings(context.Background(), store.AggregationQuery{Type: store.AggType})
	if err != nil || len(aggs) != 1 {
		t.Fatal(aggs, err)
	}
	for sev, n := range map[string]int{"CRITICAL": aggs[0].Counts.Critical, "HIGH": aggs[0].Counts.High, "MEDIUM": aggs[0].Counts.Medium, "UNTRIAGED": aggs[0].Counts.Untriaged} {
		want := `data-severity="` + sev + `">` + "\n    <span class=\"label\">"
		i := strings.Index(body, want)
		if i < 0 {
			t.Fatalf("no %s card", sev)
		}
		card := body[i : i+200]
		if !strings.Contains(card, `<span class="n">`+itoa(int64(n))+`</span>`) {
			t.Errorf("%s card, want %d: %s", sev, n, card)
		}
	}
	// The chart's last day holds every active finding.
	if !strings.Contains(body, itoa(int64(aggs[0].Counts.Total))+" active (") {
		t.Errorf("the chart's last day does not count %d active findings", aggs[0].Counts.Total)
	}
}

// TestDashboardFailedScans: the count of images whose scan failed is
// exact up to a page and says "100+" beyond it, never a silent 100.
func TestDashboardFailedScans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fail := func(from, to int) {
		for i := from; i < to; i++ {
			d := fmt.Sprintf("sha256:%064x", 0xfa11_0000+i)
			if err := e.st.RecordPush(ctx, store.Push{Repository: "team/broken", Digest: d, At: time.Now().UTC(),
				MediaType: "application/vnd.oci.image.manifest.v1+json"}); err != nil {
				t.Fatal(err)
			}
			if err := e.st.UpdateImage(ctx, store.ImageUpdate{Repository: "team/broken", Digest: d, ScanStatus: store.ScanFailed, ScanReason: "INTERNAL_ERROR"}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := e.signIn(store.RoleReadOnly)
	fail(0, 3)
	if body := c.page("/"); !strings.Contains(body, ">3 failed to scan<") {
		t.Errorf("3 failed scans not shown")
	}
	fail(3, 150)
	if body := html.UnescapeString(c.page("/")); !strings.Contains(body, ">100+ failed to scan<") {
		t.Errorf("150 failed scans not shown as 100+")
	}
}
