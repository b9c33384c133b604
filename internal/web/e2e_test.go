package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// requireChromium fails the test when CI requires everything and the
// browser is missing, and skips it otherwise.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := "Debian's chromium is not installed (" + chromiumPath + "): apt-get install chromium"
		if os.Getenv("VIGIL_REQUIRE_TESTDATA") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// liveServer is a real `vigil serve` on a loopback port.
type liveServer struct {
	url, host, admin string
	srv              *server.Server
}

func startLive(t *testing.T, feeds ...string) *liveServer {
	t.Helper()
	ctx := context.Background()
	dbDir := t.TempDir()
	d, err := vulndb.NewDir(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range feeds {
		if !filepath.IsAbs(f) {
			f = testenv.Shared(t, f)
		}
		paths = append(paths, f)
	}
	if _, err := d.Import(ctx, paths, time.Now()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Config{
		Addr: ln.Addr().String(), DataDir: t.TempDir(), Workers: 2, DBDir: dbDir,
		DBCheck: 200 * time.Millisecond, Lease: 5 * time.Second, TempDir: t.TempDir(), EgressAllow: []string{"127.0.0.1/32"},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	file, err := srv.Bootstrap(ctx)
	if err != nil || file == "" {
		t.Fatalf("bootstrap: %q, %v", file, err)
	}
	tok, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		srv.Close()
	})
	return &liveServer{url: "http://" + ln.Addr().String(), host: ln.Addr().String(), admin: strings.TrimSpace(string(tok)), srv: srv}
}

// push copies a test image into the server, as docker push would.
func (ls *liveServer) push(t *testing.T, image, repoTag string) string {
	t.Helper()
	return testenv.Push(t, ls.host, repoTag, ls.admin, image)
}

func (ls *liveServer) waitScan(t *testing.T, repo, digest string) *store.Image {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		im, err := ls.srv.Store().Image(context.Background(), repo, digest)
		if err == nil && im.ScanStatus != store.ScanPending && im.ScanStatus != store.ScanInProgress {
			if im.ScanStatus != store.ScanComplete {
				t.Fatalf("%s@%s: scan %s %s: %s", repo, digest, im.ScanStatus, im.ScanReason, im.ScanMessage)
			}
			return im
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s@%s: the scan did not finish", repo, digest)
	return nil
}

// api calls the JSON API with the admin token.
func (ls *liveServer) api(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ls.url+path, r)
	req.Header.Set("Authorization", "Bearer "+ls.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// browser drives one headless Chromium tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	n    int
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	requireChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })

	dir := os.Getenv("VIGIL_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, ctx: ctx, base: base, dir: dir}
	b.do(chromedp.EmulateViewport(1280, 900))
	// Answer the confirm dialogs of destructive forms with OK.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// follow clicks something that loads another page and waits for it.
func (b *browser) follow(sel string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func evalAs[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *browser) location() string {
	b.t.Helper()
	l, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(l, b.base)
}

// shot saves a full-page screenshot.
func (b *browser) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.n++
	file := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) signIn(token string) {
	b.t.Helper()
	b.open("/")
	if l := b.location(); !strings.HasPrefix(l, "/signin") {
		b.t.Fatalf("without a session / is %s, not the sign-in page", l)
	}
	b.do(chromedp.WaitVisible(chromedp.ID("token")), chromedp.SendKeys(chromedp.ID("token"), token))
	b.follow(`#signin-form button[type="submit"]`)
	if l := b.location(); l != "/" {
		b.t.Fatalf("after sign-in: %s", l)
	}
}

// findingIDs are the finding rows the page shows, in order.
func (b *browser) findingIDs() []string {
	b.t.Helper()
	return evalAs[[]string](b, `[...document.querySelectorAll("tr.finding")].map(r => r.dataset.id)`)
}

func (b *browser) noOverflow(what string) {
	b.t.Helper()
	if ok := evalAs[bool](b, `document.documentElement.scrollWidth <= window.innerWidth`); !ok {
		w := evalAs[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`)
		b.t.Errorf("%s overflows a phone's width: %v", what, w)
	}
}

// TestConsoleEndToEnd drives the console of a real `vigil serve` holding
// real scanned images in headless Chromium: repository → image → finding
// → score breakdown, a filter, a suppression made and deleted, a phone's
// screen, and a read-only user who can change nothing.
func TestConsoleEndToEnd(t *testing.T) {
	// The browser first: without it the test stops before the slow part.
	ls := startLiveForE2E(t)
	b := newBrowser(t, ls.url)
	ctx := context.Background()
	st := ls.srv.Store()
	t.Logf("screenshots in %s", b.dir)

	// A webhook that always fails, with no retry: its deliveries go
	// straight to the dead-letter list.
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(hook.Close)
	zero := 0
	if code, body := ls.api(t, "PUT", "/api/v1/rules/notify-security", store.EventRule{
		Description:  "New and changed findings to the security team's webhook",
		EventPattern: json.RawMessage(`{"source":["aws.inspector2"],"detail-type":["Inspector2 Finding"]}`),
		Targets:      []store.Target{{ID: "security-hook", Type: store.TargetWebhook, URL: hook.URL, RetryPolicy: &store.RetryPolicy{MaximumRetryAttempts: &zero}}},
	}); code != 200 && code != 201 {
		t.Fatalf("put rule: %d %s", code, body)
	}
	if code, body := ls.api(t, "PUT", "/api/v1/gate/policies/team-apps", map[string]any{
		"repository": "team/*", "maxCritical": 0, "maxHigh": 0, "rejectKnownExploited": true,
	}); code != 200 && code != 201 {
		t.Fatalf("put policy: %d %s", code, body)
	}

	alpine := ls.push(t, "alpine-3.7.3", "team/alpine:3.7")
	app := ls.push(t, "debian-bullseye-app", "team/app:1.0")
	ls.waitScan(t, "team/alpine", alpine)
	appImage := ls.waitScan(t, "team/app", app)
	for _, im := range []string{"team/alpine:3.7", "team/app:1.0"} {
		if code, body := ls.api(t, "POST", "/api/v1/gate/requests", map[string]any{"image": im, "pipeline": "deploy", "stage": "production"}); code >= 300 {
			t.Fatalf("gate request %s: %d %s", im, code, body)
		}
	}

	// The finding with the most score adjustments, to check its breakdown.
	all, _, err := st.ListFindings(ctx, store.FindingQuery{Limit: 1000})
	if err != nil || len(all) == 0 {
		t.Fatalf("findings: %d, %v", len(all), err)
	}
	var target store.Finding
	var targetAdj []string
	for _, f := range all {
		var doc report.InspectorFinding
		if err := json.Unmarshal(f.Data, &doc); err != nil {
			t.Fatal(err)
		}
		var adj []string
		if d := doc.InspectorScoreDetails; d != nil {
			for _, a := range d.AdjustedCVSS.Adjustments {
				adj = append(adj, a.Metric+" "+a.Reason)
			}
		}
		if target.ID == "" || len(adj) > len(targetAdj) {
			target, targetAdj = f, adj
		}
	}
	t.Logf("%d findings; checking %s %s in %s with %d adjustments", len(all), target.VulnerabilityID, target.PackageName, target.Repository, len(targetAdj))

	// Sign in as the admin.
	b.open("/")
	b.shot("signin")
	b.signIn(ls.admin)
	b.do(chromedp.WaitVisible(chromedp.CSS(".sev-cards")))
	b.shot("dashboard")
	if n := evalAs[int](b, `document.querySelectorAll("li.at-risk").length`); n != 2 {
		t.Errorf("dashboard: %d images at risk, want 2", n)
	}
	// Top vulnerabilities: one row per vulnerability, however many
	// packages it is found in (musl and musl-utils share CVE-2019-14697).
	if top := evalAs[[]string](b, `[...document.querySelectorAll('.rank-list a[href^="/findings?vuln="]')].map(a => a.textContent.trim())`); len(top) == 0 || len(slices.Compact(slices.Sorted(slices.Values(top)))) != len(top) {
		t.Errorf("dashboard: top vulnerabilities %v", top)
	}

	// Repository → image → finding → score breakdown.
	b.follow(`.nav a[href="/repositories"]`)
	b.follow(`a.repo-link[href="/repositories/` + target.Repository + `"]`)
	b.shot("repository")
	b.follow(`tr.image[data-digest="` + target.ImageDigest + `"] a.image-link`)
	if l := b.location(); l != "/images/"+target.Repository+"@"+target.ImageDigest {
		t.Fatalf("image page at %s", l)
	}
	b.shot("image")
	imageRows := b.findingIDs()
	want := ls.ids(t, store.FindingQuery{Filter: store.FilterCriteria{
		EcrImageRepositoryName: eq(target.Repository), EcrImageHash: eq(target.ImageDigest), FindingStatus: eq(store.Active)}})
	if !slices.Equal(imageRows, want) {
		t.Errorf("image page rows %v, store %v", imageRows, want)
	}
	b.follow(`tr.finding[data-id="` + target.ID + `"] a.finding-link`)
	if got := b.text("h1 .vid"); got != target.VulnerabilityID {
		t.Errorf("finding page title %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#tab-score"), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.ID("panel-score")))
	shown := evalAs[[]string](b, `[...document.querySelectorAll("#panel-score li.adjustment")].map(li => li.querySelector(".metric").textContent.trim() + " " + li.querySelector(".reason").textContent.trim())`)
	if !slices.Equal(shown, targetAdj) {
		t.Errorf("score breakdown shows %q\nstored adjustments %q", shown, targetAdj)
	}
	if len(targetAdj) == 0 && !strings.Contains(b.text("#panel-score"), "No adjustments") {
		t.Error("a score without adjustments does not say so")
	}
	if got, want := b.text("#final-score"), fmtScore(target.Score); got != want {
		t.Errorf("score %s, want %s", got, want)
	}
	b.shot("finding-score")
	unreachable := slices.ContainsFunc(targetAdj, func(a string) bool { return strings.HasPrefix(a, "reachable ") })
	if unreachable != (target.NotReachable != "") {
		t.Errorf("stored adjustments say not reachable %v, the finding %q", unreachable, target.NotReachable)
	}
	if shown := evalAs[bool](b, `document.getElementById("not-reachable") !== null`); shown != unreachable {
		t.Errorf("'code not in image' shown %v; the stored adjustments say %v", shown, unreachable)
	}

	// Filter the findings by severity and by package.
	b.follow(`.nav a[href="/findings"]`)
	sev := target.Severity
	b.do(chromedp.Click(chromedp.CSS(`.sevpick input[value="`+sev+`"]`), chromedp.NodeVisible))
	b.follow(`.filters button[type="submit"]`)
	if got, want := b.findingIDs(), ls.ids(t, store.FindingQuery{Filter: store.FilterCriteria{Severity: eq(sev), FindingStatus: eq(store.Active)}}); !slices.Equal(got, want) {
		t.Errorf("severity %s: rows %v, store %v", sev, got, want)
	}
	b.do(chromedp.SendKeys(chromedp.CSS(`.filters input[name="package"]`), target.PackageName))
	b.follow(`.filters button[type="submit"]`)
	pkgFilter := store.FilterCriteria{Severity: eq(sev), FindingStatus: eq(store.Active),
		VulnerablePackages: []store.PackageFilter{{Name: &store.StringFilter{Comparison: "EQUALS", Value: target.PackageName}}}}
	got, wantIDs := b.findingIDs(), ls.ids(t, store.FindingQuery{Filter: pkgFilter})
	if !slices.Equal(got, wantIDs) || !slices.Contains(got, target.ID) {
		t.Errorf("severity %s, package %s: rows %v, store %v", sev, target.PackageName, got, wantIDs)
	}
	b.shot("findings-filtered")

	// Every finding whose code is not in its image says so in the list,
	// scored or not, and no other does.
	b.open("/images/team/app@" + appImage.Digest)
	marked := evalAs[[]string](b, `[...document.querySelectorAll("tr.finding")].filter(r => r.querySelector(".unreachable")).map(r => r.dataset.id)`)
	var unreach []string
	untriaged := false
	for _, f := range all {
		if f.Repository == "team/app" && f.NotReachable != "" {
			unreach = append(unreach, f.ID)
			untriaged = untriaged || f.Severity == "UNTRIAGED"
		}
	}
	slices.Sort(marked)
	slices.Sort(unreach)
	if len(unreach) == 0 || !untriaged || !slices.Equal(marked, unreach) {
		t.Errorf("marked not reachable %v; stored %v (an untriaged one among them: %v)", marked, unreach, untriaged)
	}

	// Sort every finding by score, descending, then ascending.
	b.open("/findings")
	for _, order := range []string{"DESC", "ASC"} {
		b.follow(`th a[href*="sort=INSPECTOR_SCORE"]`)
		q := store.FindingQuery{Filter: store.FilterCriteria{FindingStatus: eq(store.Active)}, SortField: "INSPECTOR_SCORE", SortOrder: order}
		if got, want := b.findingIDs(), ls.ids(t, q); len(got) < 2 || !slices.Equal(got, want) {
			t.Errorf("sorted by score %s: rows %v, store %v", order, got, want)
		}
	}

	// Suppress the finding from its page: it becomes SUPPRESSED, and the
	// findings list says so.
	b.open("/findings/" + target.ID)
	b.do(chromedp.Click(chromedp.CSS(`#suppress-form input[name="scope"][value="finding"]`), chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS(`#suppress-form input[name="reason"]`), "Not reachable: the service never parses untrusted input"))
	b.follow(`#suppress-form button[type="submit"]`)
	if got := b.text("#finding-status"); got != store.Suppressed {
		t.Fatalf("after suppressing, the finding's status is %q", got)
	}
	if f, _ := st.Finding(ctx, target.ID); f.Status != store.Suppressed {
		t.Fatalf("stored status %s", f.Status)
	}
	b.open("/findings?status=ALL&package=" + url.QueryEscape(target.PackageName))
	if got := evalAs[string](b, `document.querySelector('tr.finding[data-id="`+target.ID+`"]').dataset.status`); got != store.Suppressed {
		t.Errorf("findings list shows %s", got)
	}
	b.open("/findings?package=" + url.QueryEscape(target.PackageName))
	if slices.Contains(b.findingIDs(), target.ID) {
		t.Error("the suppressed finding is still among the active ones")
	}
	b.open("/suppressions")
	b.do(chromedp.WaitVisible(chromedp.CSS("tr.suppression")))
	b.shot("suppressions")

	// Delete the rule from the finding's page: ACTIVE again.
	b.open("/findings/" + target.ID)
	b.follow(`button[data-action="delete-rule"]`)
	if got := b.text("#finding-status"); got != store.Active {
		t.Errorf("after deleting the rule the status is %q", got)
	}
	if rules, _ := st.Rules(ctx); len(rules) != 0 {
		t.Errorf("rules left: %v", rules)
	}

	// Event rules, deliveries and the gate.
	waitUntil(t, func() bool {
		dead, err := st.Deliveries(ctx, store.DeliveryQuery{State: store.DeliveryDead, Limit: 1})
		return err == nil && len(dead) > 0
	})
	b.open("/rules")
	b.do(chromedp.WaitVisible(chromedp.CSS(`article.rule-card[data-name="notify-security"]`)))
	b.shot("rules")
	b.open("/deliveries?state=dead")
	b.do(chromedp.WaitVisible(chromedp.CSS("tr.delivery")))
	b.shot("deliveries")
	dead := evalAs[int](b, `document.querySelectorAll("tr.delivery").length`)
	before := hits.Load()
	b.follow(`button[data-action="redrive-all"]`)
	waitUntil(t, func() bool { return hits.Load() > before })
	t.Logf("%d dead deliveries redriven; the webhook was called again", dead)
	waitUntil(t, func() bool {
		ds, _, err := st.GateDecisions(ctx, store.GateDecisionQuery{Limit: 10})
		return err == nil && len(ds) >= 2
	})
	b.open("/gate")
	b.do(chromedp.WaitVisible(chromedp.CSS("tr.decision")))
	b.shot("gate")
	if n := evalAs[int](b, `document.querySelectorAll("tr.decision").length`); n < 2 {
		t.Errorf("gate page: %d decisions", n)
	}
	b.follow(`tr.decision a`)
	b.shot("gate-decision")

	// A phone's screen: nothing wider than it.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	for _, p := range []struct{ path, name string }{
		{"/", "phone-dashboard"},
		{"/findings", "phone-findings"},
		{"/findings/" + target.ID, "phone-finding"},
		{"/images/team/app@" + appImage.Digest, "phone-image"},
	} {
		b.open(p.path)
		b.noOverflow(p.path)
		b.shot(p.name)
	}
	b.do(chromedp.EmulateViewport(1280, 900))

	// A read-only user sees no control that changes anything, and the
	// server refuses a forged form.
	secret, hash := auth.NewToken()
	if err := st.CreateToken(ctx, store.Token{ID: "auditor", Name: "auditor", Role: store.RoleReadOnly, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	b.follow(`form.signout button`)
	b.signIn(secret)
	for _, path := range []string{"/", "/findings/" + target.ID, "/images/team/app@" + appImage.Digest, "/findings?severity=" + sev, "/suppressions", "/rules", "/deliveries?state=dead", "/gate"} {
		b.open(path)
		forms := evalAs[[]string](b, `[...document.querySelectorAll('form[method="post"]')].map(f => f.getAttribute("action"))`)
		if slices.ContainsFunc(forms, func(a string) bool { return a != "/signout" }) {
			t.Errorf("read-only %s: POST forms %v", path, forms)
		}
		if n := evalAs[int](b, `document.querySelectorAll("[data-action]").length`); n != 0 {
			t.Errorf("read-only %s: %d controls", path, n)
		}
	}
	b.open("/findings/" + target.ID)
	b.shot("readonly-finding")
	status := evalAs[int](b, `fetch("/suppressions", {method: "POST", body: new URLSearchParams({
		csrf: document.querySelector('input[name="csrf"]').value, from: "finding", finding: "`+target.ID+`",
		scope: "finding", name: "forged", reason: "forged"})}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("a read-only user's forged POST: %d", status)
	}
	if rules, _ := st.Rules(ctx); len(rules) != 0 {
		t.Errorf("a forged POST made rules: %v", rules)
	}
	if f, _ := st.Finding(ctx, target.ID); f.Status != store.Active {
		t.Errorf("a forged POST changed the finding: %s", f.Status)
	}
}

// startLiveForE2E starts the server with the feeds the test images need,
// after checking that a browser is there to drive it.
func startLiveForE2E(t *testing.T) *liveServer {
	t.Helper()
	requireChromium(t)
	testenv.Image(t, "alpine-3.7.3")
	testenv.Image(t, "debian-bullseye-app")
	return startLive(t, nvdFeed(t), "vulndb/alpine-secdb", "vulndb/osv/Go", "vulndb/epss", "vulndb/kev")
}

// nvdVectors are NVD's published primary CVSS v3.1 assessments of
// vulnerabilities in the test images. The shared data has no NVD feed, so
// without them every finding would be UNTRIAGED and no score would have a
// breakdown to show; nvdFeed writes them as a page of the NVD CVE API 2.0.
var nvdVectors = []struct {
	id, vector, severity string
	score                float64
}{
	{"CVE-2019-14697", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CRITICAL", 9.8}, // musl
	{"CVE-2020-14040", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "HIGH", 7.5},     // golang.org/x/text
	{"CVE-2021-38561", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "HIGH", 7.5},     // golang.org/x/text
	{"CVE-2022-32149", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "HIGH", 7.5},     // golang.org/x/text
	{"CVE-2022-29526", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", "MEDIUM", 5.3},   // golang.org/x/sys
}

func nvdFeed(t *testing.T) string {
	t.Helper()
	type metric struct {
		Source   string `json:"source"`
		Type     string `json:"type"`
		CVSSData struct {
			Version      string  `json:"version"`
			VectorString string  `json:"vectorString"`
			BaseScore    float64 `json:"baseScore"`
			BaseSeverity string  `json:"baseSeverity"`
		} `json:"cvssData"`
	}
	var vulns []map[string]any
	for _, v := range nvdVectors {
		m := metric{Source: "nvd@nist.gov", Type: "Primary"}
		m.CVSSData.Version, m.CVSSData.VectorString, m.CVSSData.BaseScore, m.CVSSData.BaseSeverity = "3.1", v.vector, v.score, v.severity
		vulns = append(vulns, map[string]any{"cve": map[string]any{
			"id": v.id, "sourceIdentifier": "cve@mitre.org", "published": "2020-01-01T00:00:00.000", "lastModified": "2024-11-21T00:00:00.000",
			"vulnStatus": "Modified", "descriptions": []map[string]string{}, "metrics": map[string]any{"cvssMetricV31": []metric{m}},
		}})
	}
	b, err := json.Marshal(map[string]any{"resultsPerPage": len(vulns), "startIndex": 0, "totalResults": len(vulns),
		"format": "NVD_CVE", "version": "2.0", "timestamp": "2026-08-21T00:00:00.000", "vulnerabilities": vulns})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "nvd-test-images.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func (ls *liveServer) ids(t *testing.T, q store.FindingQuery) []string {
	t.Helper()
	q.Limit = 50
	found, _, err := ls.srv.Store().ListFindings(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, f := range found {
		out = append(out, f.ID)
	}
	return out
}

func fmtScore(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f", *p)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("condition not met within 60 s")
}
