package api_test

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
)

// storePolicy stores a gate policy directly, for the routes that need
// one.
func storePolicy(t *testing.T, h *harness, name, repository string) string {
	t.Helper()
	zero := 0
	err := h.Store.PutGatePolicy(context.Background(), store.GatePolicy{
		Name: name, Repository: repository, MaxCritical: &zero,
		OnScanFailure: gate.Reject, OnUnsupported: gate.Reject, OnTimeout: gate.Reject,
		CreatedAt: apitest.Now, UpdatedAt: apitest.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// gateRequest registers a request through the fixture's gate, as the
// route does.
func gateRequest(t *testing.T, h *harness, image string) *store.GateRequest {
	t.Helper()
	r, err := h.Gate.Request(context.Background(), gate.RequestInput{Image: image, Pipeline: "deploy", CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The answers of the gate routes.
type (
	gateRequestJSON struct {
		ID         string `json:"id"`
		Token      string `json:"token"`
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		Tag        string `json:"tag"`
		Pipeline   string `json:"pipeline"`
		Stage      string `json:"stage"`
		State      string `json:"state"`
		Decision   string `json:"decision"`
		DecisionID string `json:"decisionId"`
		Deadline   string `json:"deadline"`
		CreatedBy  string `json:"createdBy"`
	}
	gateFindingJSON struct {
		FindingArn      string `json:"findingArn"`
		VulnerabilityID string `json:"vulnerabilityId"`
		Severity        string `json:"severity"`
		Rule            string `json:"rule"`
	}
	gateDecisionJSON struct {
		ID         string            `json:"id"`
		RequestID  string            `json:"requestId"`
		Repository string            `json:"repository"`
		Digest     string            `json:"digest"`
		Decision   string            `json:"decision"`
		Policy     string            `json:"policy"`
		Reason     string            `json:"reason"`
		Trigger    string            `json:"trigger"`
		Findings   []gateFindingJSON `json:"findings"`
		Counts     map[string]int    `json:"counts"`
	}
	gateAnswer struct {
		Request  gateRequestJSON   `json:"request"`
		Decision *gateDecisionJSON `json:"decision"`
	}
	checkJSON struct {
		Repository string            `json:"repository"`
		Digest     string            `json:"digest"`
		Ready      bool              `json:"ready"`
		Decision   string            `json:"decision"`
		Policy     string            `json:"policy"`
		Reason     string            `json:"reason"`
		ScanStatus string            `json:"scanStatus"`
		Findings   []gateFindingJSON `json:"findings"`
		Counts     map[string]int    `json:"counts"`
	}
)

// verdict is what a policy should say of an image, worked out here from
// the fixture's findings.
type verdict struct {
	decision string
	counts   map[string]int
	// rejecting maps each finding that causes a rejection (by id) to the
	// rule it breaks.
	rejecting map[string]string
}

// limits is a policy's Max* as the test writes them (absent: no limit).
type limits map[string]int

// defaultLimits are DefaultPolicy's, as its comment states them: no
// critical, no high, at most 9 medium and 14 low findings.
var defaultLimits = limits{"CRITICAL": 0, "HIGH": 0, "MEDIUM": 9, "LOW": 14}

// expectVerdict applies limits to an image's findings the way
// DefaultPolicy's comment and the policy's fields describe: findings
// suppressed do not count (nor would closed ones; the fixture has none),
// a severity over its limit rejects and names every counted finding of
// that severity, with the rule max<Severity>. Severities without a limit
// (untriaged, informational) never reject.
func expectVerdict(im apitest.Image, suppressed map[string]bool, lim limits) verdict {
	v := verdict{decision: store.Approved, rejecting: map[string]string{},
		counts: map[string]int{"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "INFORMATIONAL": 0, "UNTRIAGED": 0, "TOTAL": 0}}
	bySev := map[string][]string{}
	for _, f := range im.Findings {
		if suppressed[f.ID] {
			continue
		}
		v.counts[f.Severity]++
		v.counts["TOTAL"]++
		bySev[f.Severity] = append(bySev[f.Severity], f.ID)
	}
	rule := map[string]string{"CRITICAL": "maxCritical", "HIGH": "maxHigh", "MEDIUM": "maxMedium", "LOW": "maxLow"}
	for sev, max := range lim {
		if len(bySev[sev]) > max {
			v.decision = store.Rejected
			for _, id := range bySev[sev] {
				v.rejecting[id] = rule[sev]
			}
		}
	}
	return v
}

// check holds a decision's (or a check's) verdict to the expected one.
func (v verdict) check(t *testing.T, decision, reason, policy string, counts map[string]int, findings []gateFindingJSON) {
	t.Helper()
	if decision != v.decision {
		t.Errorf("decision %s, want %s (%s)", decision, v.decision, reason)
	}
	if !strings.HasPrefix(reason, v.decision+" by policy "+policy) {
		t.Errorf("reason %q does not say %s by policy %s", reason, v.decision, policy)
	}
	if !maps.Equal(counts, v.counts) {
		t.Errorf("counts %v, want %v", counts, v.counts)
	}
	got := map[string]string{}
	for _, f := range findings {
		id := f.FindingArn[strings.LastIndex(f.FindingArn, "/")+1:]
		if _, dup := got[id]; dup {
			t.Errorf("finding %s named twice", id)
		}
		got[id] = f.Rule
	}
	if !maps.Equal(got, v.rejecting) {
		t.Errorf("rejecting findings %v, want %v", got, v.rejecting)
	}
}

// TestGateRequestDecidedAtOnce asks for decisions on images the fixture
// has scanned: each is decided in the answer, by the default policy, as
// the fixture's findings say it should be.
func TestGateRequestDecidedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		image func(fx *apitest.Fixture) (ref string, im apitest.Image)
		// suppress, when set, suppresses that vulnerability on the
		// image before the request.
		suppress string
		role     string
	}{
		{"tag, by a pipeline", func(fx *apitest.Fixture) (string, apitest.Image) { return "team/app:1.0", fx.Images[0] }, "", pipeline},
		{"digest", func(fx *apitest.Fixture) (string, apitest.Image) {
			return "team/db@" + fx.Images[2].Digest, fx.Images[2]
		}, "", pipeline},
		{"registry host and tag, by an admin", func(fx *apitest.Fixture) (string, apitest.Image) {
			return "vigil.test:5000/team/db:16", fx.Images[2]
		}, "", admin},
		{"critical suppressed", func(fx *apitest.Fixture) (string, apitest.Image) { return "team/app:latest", fx.Images[1] }, "CVE-2023-45853", pipeline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ref, im := tc.image(h.Fixture)
			suppressed := map[string]bool{}
			if tc.suppress != "" {
				h.call(admin, "POST", "/api/v1/suppressions", map[string]any{
					"name": "accepted", "reason": "not reachable",
					"filterCriteria": map[string]any{
						"vulnerabilityId": []any{sf("EQUALS", tc.suppress)},
						"ecrImageHash":    []any{sf("EQUALS", im.Digest)},
					},
				}).expect(t, http.StatusCreated)
				for _, f := range im.Findings {
					if f.VulnerabilityID == tc.suppress {
						suppressed[f.ID] = true
						var got finding
						h.call(readOnly, "GET", "/api/v1/findings/"+f.ID, nil).expect(t, http.StatusOK).decode(t, &got)
						if got.Status != "SUPPRESSED" {
							t.Fatalf("finding %s is %s after the suppression", f.ID, got.Status)
						}
					}
				}
				if len(suppressed) == 0 {
					t.Fatalf("the image has no %s", tc.suppress)
				}
			}
			want := expectVerdict(im, suppressed, defaultLimits)

			r := h.call(tc.role, "POST", "/api/v1/gate/requests", map[string]any{"image": ref, "pipeline": "deploy-app", "stage": "prod"}).expect(t, http.StatusCreated)
			var created gateAnswer
			r.decode(t, &created)
			req := created.Request
			if loc := r.header.Get("Location"); loc != "/api/v1/gate/requests/"+req.ID {
				t.Errorf("Location %q", loc)
			}
			if req.State != store.GateDecided || req.Repository != im.Repository || req.Digest != im.Digest || req.Pipeline != "deploy-app" ||
				req.Stage != "prod" || req.CreatedBy != tc.role+"-token" {
				t.Errorf("request %+v", req)
			}
			stored, err := h.Store.GateRequest(context.Background(), req.ID)
			if err != nil {
				t.Fatal(err)
			}
			if req.Token == "" || req.Token != stored.Token {
				t.Fatalf("answered token %q, stored %q", req.Token, stored.Token)
			}
			d := created.Decision
			if d == nil {
				t.Fatalf("no decision for a scanned image:\n%s", r.body)
			}
			if d.RequestID != req.ID || req.DecisionID != d.ID || req.Decision != d.Decision || d.Policy != "default" ||
				d.Trigger != "request" || d.Repository != im.Repository || d.Digest != im.Digest {
				t.Errorf("decision %+v of request %+v", d, req)
			}
			want.check(t, d.Decision, d.Reason, "default", d.Counts, d.Findings)

			// The token is not shown again.
			for _, path := range []string{"/api/v1/gate/requests/" + req.ID, "/api/v1/gate/requests", "/api/v1/gate/requests?repository=" + im.Repository,
				"/api/v1/gate/decisions/" + d.ID, "/api/v1/gate/decisions?requestId=" + req.ID} {
				r := h.call(readOnly, "GET", path, nil).expect(t, http.StatusOK)
				if strings.Contains(string(r.body), req.Token) {
					t.Errorf("GET %s shows the token:\n%s", path, r.body)
				}
			}
			var got gateAnswer
			h.call(readOnly, "GET", "/api/v1/gate/requests/"+req.ID, nil).expect(t, http.StatusOK).decode(t, &got)
			if got.Request.ID != req.ID || got.Request.Token != "" || got.Decision == nil || got.Decision.ID != d.ID || got.Request.State != store.GateDecided {
				t.Errorf("GET answered %+v", got)
			}
			var list struct {
				Requests  []gateRequestJSON `json:"requests"`
				NextToken *string           `json:"nextToken"`
			}
			h.call(readOnly, "GET", "/api/v1/gate/requests?state=DECIDED&digest="+im.Digest, nil).expect(t, http.StatusOK).decode(t, &list)
			if len(list.Requests) != 1 || list.Requests[0].ID != req.ID || list.Requests[0].Token != "" || list.NextToken == nil || *list.NextToken != "" {
				t.Errorf("list %+v", list)
			}
			h.call(readOnly, "GET", "/api/v1/gate/requests?state=PENDING", nil).expect(t, http.StatusOK).decode(t, &list)
			if len(list.Requests) != 0 {
				t.Errorf("pending: %+v", list.Requests)
			}
			var decisions struct {
				Decisions []gateDecisionJSON `json:"decisions"`
			}
			h.call(readOnly, "GET", "/api/v1/gate/decisions?requestId="+req.ID, nil).expect(t, http.StatusOK).decode(t, &decisions)
			if len(decisions.Decisions) != 1 || decisions.Decisions[0].ID != d.ID {
				t.Errorf("decisions %+v", decisions)
			}
			var one gateDecisionJSON
			h.call(readOnly, "GET", "/api/v1/gate/decisions/"+d.ID, nil).expect(t, http.StatusOK).decode(t, &one)
			want.check(t, one.Decision, one.Reason, "default", one.Counts, one.Findings)

			// The decision was announced.
			var evts struct {
				Events []struct {
					Detail struct {
						DecisionID string `json:"decision-id"`
						Decision   string `json:"decision"`
						RequestID  string `json:"request-id"`
					} `json:"detail"`
				} `json:"events"`
			}
			h.call(readOnly, "GET", "/api/v1/events?maxResults=1000&detailType="+url.QueryEscape(gate.DecisionType), nil).expect(t, http.StatusOK).decode(t, &evts)
			if len(evts.Events) != 1 || evts.Events[0].Detail.DecisionID != d.ID || evts.Events[0].Detail.Decision != want.decision || evts.Events[0].Detail.RequestID != req.ID {
				t.Errorf("decision events %+v", evts.Events)
			}
		})
	}
}

// TestGateRequestPending asks for images not ready to be judged: a tag
// not pushed yet and an image not scanned yet. The requests wait, and a
// long poll answers them still pending after its wait.
func TestGateRequestPending(t *testing.T) {
	h := newHarness(t)
	web := h.Fixture.Images[3]
	for _, tc := range []struct {
		image, repository, tag, digest string
	}{
		{"team/app:2.0", "team/app", "2.0", ""},
		{"team/web:dev", "team/web", "dev", web.Digest},
		{"team/new", "team/new", "latest", ""},
	} {
		t.Run(tc.image, func(t *testing.T) {
			r := h.call(pipeline, "POST", "/api/v1/gate/requests", map[string]any{"image": tc.image, "pipeline": "deploy", "timeoutSeconds": 600}).expect(t, http.StatusCreated)
			var created gateAnswer
			r.decode(t, &created)
			req := created.Request
			if created.Decision != nil || req.State != store.GatePending || req.Decision != "" || req.DecisionID != "" {
				t.Errorf("a request on an image not ready is decided:\n%s", r.body)
			}
			if req.Repository != tc.repository || req.Tag != tc.tag || req.Digest != tc.digest {
				t.Errorf("request %+v, want repository %s tag %s digest %q", req, tc.repository, tc.tag, tc.digest)
			}
			if tc.digest == "" && strings.Contains(string(r.body), `"digest"`) {
				t.Errorf("an unresolved request answers a digest:\n%s", r.body)
			}
			if req.Token == "" {
				t.Fatal("no token in the answer to the creation")
			}
			if dl, err := time.Parse(time.RFC3339Nano, req.Deadline); err != nil || time.Until(dl) < 9*time.Minute || time.Until(dl) > 11*time.Minute {
				t.Errorf("deadline %s (%v), want in 10 minutes", req.Deadline, err)
			}

			start := time.Now()
			var got gateAnswer
			r = h.call(readOnly, "GET", "/api/v1/gate/requests/"+req.ID+"?wait=1", nil).expect(t, http.StatusOK)
			elapsed := time.Since(start)
			r.decode(t, &got)
			if elapsed < 900*time.Millisecond || elapsed > 5*time.Second {
				t.Errorf("wait=1 answered after %v", elapsed)
			}
			if got.Request.ID != req.ID || got.Request.State != store.GatePending || got.Decision != nil || got.Request.Token != "" {
				t.Errorf("after the wait %s", r.body)
			}
			if strings.Contains(string(r.body), req.Token) {
				t.Errorf("the long poll shows the token:\n%s", r.body)
			}
		})
	}

	// A decided request is answered at once, whatever the wait.
	decided := gateRequest(t, h, "team/app:1.0")
	start := time.Now()
	var got gateAnswer
	h.call(readOnly, "GET", "/api/v1/gate/requests/"+decided.ID+"?wait=30", nil).expect(t, http.StatusOK).decode(t, &got)
	if time.Since(start) > 5*time.Second || got.Decision == nil || got.Decision.ID != decided.DecisionID {
		t.Errorf("a decided request waited %v: %+v", time.Since(start), got)
	}
	for _, q := range []string{"?wait=61", "?wait=-1", "?wait=x", "?timeout=1", "?wait=1&wait=2"} {
		h.call(readOnly, "GET", "/api/v1/gate/requests/"+decided.ID+q, nil).expect(t, http.StatusBadRequest)
	}
	h.call(readOnly, "GET", "/api/v1/gate/requests/nope", nil).expect(t, http.StatusNotFound)
	h.call(readOnly, "GET", "/api/v1/gate/requests/nope?wait=1", nil).expect(t, http.StatusNotFound)
	h.call(readOnly, "GET", "/api/v1/gate/decisions/nope", nil).expect(t, http.StatusNotFound)
	for _, q := range []string{"?state=decided", "?state=WAITING", "?maxResults=0", "?tag=1.0"} {
		h.call(readOnly, "GET", "/api/v1/gate/requests"+q, nil).expect(t, http.StatusBadRequest)
	}
	for _, q := range []string{"?maxResults=1001", "?state=PENDING", "?nextToken=garbage!"} {
		h.call(readOnly, "GET", "/api/v1/gate/decisions"+q, nil).expect(t, http.StatusBadRequest)
	}

	// Paging the requests: four in all, one a page.
	seen := map[string]bool{}
	next := ""
	for page := 0; page < 10; page++ {
		var p struct {
			Requests  []gateRequestJSON `json:"requests"`
			NextToken string            `json:"nextToken"`
		}
		h.call(readOnly, "GET", "/api/v1/gate/requests?maxResults=1&nextToken="+url.QueryEscape(next), nil).expect(t, http.StatusOK).decode(t, &p)
		for _, r := range p.Requests {
			if seen[r.ID] {
				t.Errorf("request %s on two pages", r.ID)
			}
			seen[r.ID] = true
		}
		if next = p.NextToken; next == "" {
			break
		}
	}
	if len(seen) != 4 {
		t.Errorf("paging saw %d requests, want 4", len(seen))
	}
}

// TestGateRequestRefused sends requests the gate must refuse, and checks
// that none is stored.
func TestGateRequestRefused(t *testing.T) {
	h := newHarness(t)
	digest := h.Fixture.Images[0].Digest
	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"no image", map[string]any{"pipeline": "p"}, "image reference is required"},
		{"empty tag", map[string]any{"image": "team/app:", "pipeline": "p"}, "empty tag"},
		{"upper case", map[string]any{"image": "Team/App:1.0", "pipeline": "p"}, "not a valid name"},
		{"double slash", map[string]any{"image": "team//app:1.0", "pipeline": "p"}, "not a valid name"},
		{"leading slash", map[string]any{"image": "/team/app:1.0", "pipeline": "p"}, "not a valid name"},
		{"short digest", map[string]any{"image": "team/app@sha256:1234", "pipeline": "p"}, "sha256:<64 hex>"},
		{"other digest", map[string]any{"image": "team/app@md5:" + strings.Repeat("a", 32), "pipeline": "p"}, "sha256:<64 hex>"},
		{"no pipeline", map[string]any{"image": "team/app:1.0"}, "pipeline"},
		{"pipeline too long", map[string]any{"image": "team/app:1.0", "pipeline": strings.Repeat("p", 129)}, "pipeline"},
		{"stage too long", map[string]any{"image": "team/app:1.0", "pipeline": "p", "stage": strings.Repeat("s", 129)}, "stage"},
		{"callback not http", map[string]any{"image": "team/app:1.0", "pipeline": "p", "callbackUrl": "ftp://ci.example/cb"}, "callbackUrl"},
		{"newPush with a digest", map[string]any{"image": "team/app@" + digest, "pipeline": "p", "newPush": true}, "newPush"},
		{"negative timeout", map[string]any{"image": "team/app:1.0", "pipeline": "p", "timeoutSeconds": -1}, "timeoutSeconds"},
		{"timeout over a day", map[string]any{"image": "team/app:1.0", "pipeline": "p", "timeoutSeconds": 86401}, "timeoutSeconds"},
		{"unknown field", map[string]any{"image": "team/app:1.0", "pipeline": "p", "token": "mine"}, `"token"`},
		{"createdBy is the server's", map[string]any{"image": "team/app:1.0", "pipeline": "p", "createdBy": "someone"}, `"createdBy"`},
		{"not JSON", "image=team/app", "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(pipeline, "POST", "/api/v1/gate/requests", tc.body).expect(t, http.StatusBadRequest)
			if _, msg := r.apiError(t); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not say %q", msg, tc.msg)
			}
		})
	}
	ok := map[string]any{"image": "team/app:1.0", "pipeline": "p"}
	h.call(readOnly, "POST", "/api/v1/gate/requests", ok).expect(t, http.StatusForbidden)
	if rs, _, err := h.Store.GateRequests(context.Background(), store.GateRequestQuery{Limit: 100}); err != nil || len(rs) != 0 {
		t.Errorf("refused requests were stored: %+v, %v", rs, err)
	}
	h.call(pipeline, "POST", "/api/v1/gate/requests", ok).expect(t, http.StatusCreated)
}

// TestGateCheck judges images at once, by the default policy and by a
// stored one.
func TestGateCheck(t *testing.T) {
	h := newHarness(t)
	fx := h.Fixture
	check := func(image string) checkJSON {
		t.Helper()
		var c checkJSON
		h.call(readOnly, "GET", "/api/v1/gate/check?image="+url.QueryEscape(image), nil).expect(t, http.StatusOK).decode(t, &c)
		return c
	}
	for _, tc := range []struct {
		image string
		im    apitest.Image
	}{
		{"team/app:1.0", fx.Images[0]},
		{"team/app@" + fx.Images[1].Digest, fx.Images[1]},
		{"localhost:5000/team/db:16", fx.Images[2]},
	} {
		t.Run(tc.image, func(t *testing.T) {
			c := check(tc.image)
			if !c.Ready || c.Repository != tc.im.Repository || c.Digest != tc.im.Digest || c.Policy != "default" || c.ScanStatus != store.ScanComplete {
				t.Errorf("check %+v", c)
			}
			expectVerdict(tc.im, nil, defaultLimits).check(t, c.Decision, c.Reason, "default", c.Counts, c.Findings)
		})
	}

	// Not scanned yet: not ready, and rejected.
	web := check("team/web:dev")
	if web.Ready || web.Decision != store.Rejected || web.ScanStatus != store.ScanPending || web.Digest != fx.Images[3].Digest ||
		len(web.Findings) != 0 || web.Counts["TOTAL"] != 0 || !strings.Contains(web.Reason, "not scanned yet") {
		t.Errorf("check of an image not scanned: %+v", web)
	}

	// A policy of the repository's own decides instead.
	lenient := limits{"CRITICAL": 1, "HIGH": 1}
	h.call(admin, "PUT", "/api/v1/gate/policies/lenient", map[string]any{"repository": "team/app", "maxCritical": 1, "maxHigh": 1}).expect(t, http.StatusCreated)
	c := check("team/app:1.0")
	if c.Policy != "lenient" {
		t.Errorf("policy %q, want lenient", c.Policy)
	}
	expectVerdict(fx.Images[0], nil, lenient).check(t, c.Decision, c.Reason, "lenient", c.Counts, c.Findings)
	if c := check("team/db:16"); c.Policy != "default" {
		t.Errorf("team/db judged by %q", c.Policy)
	}

	// Nothing was stored.
	if rs, _, err := h.Store.GateRequests(context.Background(), store.GateRequestQuery{Limit: 100}); err != nil || len(rs) != 0 {
		t.Errorf("a check stored requests: %+v, %v", rs, err)
	}

	for _, image := range []string{"team/app:9.9", "team/nope:1.0", "team/nope", "team/app@sha256:" + strings.Repeat("0", 64)} {
		h.call(readOnly, "GET", "/api/v1/gate/check?image="+url.QueryEscape(image), nil).expect(t, http.StatusNotFound)
	}
	for _, q := range []string{"", "?image=", "?image=Team/App", "?image=team/app@sha256:12", "?image=a&image=b", "?image=team/app:1.0&policy=x"} {
		h.call(readOnly, "GET", "/api/v1/gate/check"+q, nil).expect(t, http.StatusBadRequest)
	}
}

// TestNoGate: a server without a gate answers 404 where the gate is
// needed.
func TestNoGate(t *testing.T) {
	h := &harness{Server: apitest.New(t, apitest.WithoutGate()), t: t}
	r := h.call(pipeline, "POST", "/api/v1/gate/requests", map[string]any{"image": "team/app:1.0", "pipeline": "p"}).expect(t, http.StatusNotFound)
	if _, msg := r.apiError(t); !strings.Contains(msg, "no deployment gate") {
		t.Errorf("message %q", msg)
	}
	h.call(readOnly, "GET", "/api/v1/gate/check?image=team/app:1.0", nil).expect(t, http.StatusNotFound)
}

// gatePolicyJSON is a policy as answered.
type gatePolicyJSON struct {
	Name          string   `json:"name"`
	Repository    string   `json:"repository"`
	MaxCritical   *int     `json:"maxCritical"`
	MaxHigh       *int     `json:"maxHigh"`
	MaxMedium     *int     `json:"maxMedium"`
	MaxLow        *int     `json:"maxLow"`
	MaxUntriaged  *int     `json:"maxUntriaged"`
	MaxScore      *float64 `json:"maxScore"`
	FixableOnly   bool     `json:"fixableOnly"`
	OnScanFailure string   `json:"onScanFailure"`
	OnUnsupported string   `json:"onUnsupported"`
	OnTimeout     string   `json:"onTimeout"`
	Timeout       int      `json:"timeoutSeconds"`
}

func intIs(p *int, n int) bool { return p != nil && *p == n }

// TestGatePolicies creates, replaces, lists and deletes policies.
func TestGatePolicies(t *testing.T) {
	h := newHarness(t)
	var list struct {
		Policies       []gatePolicyJSON `json:"policies"`
		BuiltinDefault *gatePolicyJSON  `json:"builtinDefault"`
	}
	h.call(readOnly, "GET", "/api/v1/gate/policies", nil).expect(t, http.StatusOK).decode(t, &list)
	if d := list.BuiltinDefault; len(list.Policies) != 0 || d == nil || d.Name != "default" || d.Repository != "" ||
		!intIs(d.MaxCritical, 0) || !intIs(d.MaxHigh, 0) || !intIs(d.MaxMedium, 9) || !intIs(d.MaxLow, 14) || d.MaxUntriaged != nil || d.OnTimeout != "REJECT" {
		t.Errorf("with no policy stored: %+v, default %+v", list.Policies, list.BuiltinDefault)
	}

	body := map[string]any{"repository": "team/*", "maxCritical": 0, "maxHigh": 2, "fixableOnly": true, "maxScore": 8.5,
		"onTimeout": "approve", "timeoutSeconds": 300}
	var p gatePolicyJSON
	h.call(admin, "PUT", "/api/v1/gate/policies/teams", body).expect(t, http.StatusCreated).decode(t, &p)
	if p.Name != "teams" || p.Repository != "team/*" || !intIs(p.MaxCritical, 0) || !intIs(p.MaxHigh, 2) || p.MaxMedium != nil ||
		!p.FixableOnly || p.MaxScore == nil || *p.MaxScore != 8.5 || p.OnTimeout != "APPROVE" || p.OnScanFailure != "REJECT" || p.OnUnsupported != "REJECT" || p.Timeout != 300 {
		t.Errorf("created %+v", p)
	}
	body["maxHigh"] = 0
	delete(body, "maxScore")
	p = gatePolicyJSON{}
	h.call(admin, "PUT", "/api/v1/gate/policies/teams", body).expect(t, http.StatusOK).decode(t, &p)
	if !intIs(p.MaxHigh, 0) || p.MaxScore != nil {
		t.Errorf("replaced %+v", p)
	}
	stored, err := h.Store.GatePolicy(context.Background(), "teams")
	if err != nil || !intIs(stored.MaxHigh, 0) || stored.MaxScore != nil || stored.OnTimeout != gate.Approve {
		t.Errorf("stored %+v, %v", stored, err)
	}
	p = gatePolicyJSON{}
	h.call(readOnly, "GET", "/api/v1/gate/policies/teams", nil).expect(t, http.StatusOK).decode(t, &p)
	if p.Name != "teams" || !intIs(p.MaxHigh, 0) {
		t.Errorf("GET %+v", p)
	}

	// The same repository twice is a conflict; the policy itself may be
	// put again.
	r := h.call(admin, "PUT", "/api/v1/gate/policies/other", map[string]any{"repository": "team/*"}).expect(t, http.StatusConflict)
	if _, msg := r.apiError(t); !strings.Contains(msg, "team/*") {
		t.Errorf("conflict message %q", msg)
	}
	h.call(readOnly, "GET", "/api/v1/gate/policies/other", nil).expect(t, http.StatusNotFound)
	h.call(admin, "PUT", "/api/v1/gate/policies/teams", body).expect(t, http.StatusOK)

	// A stored default replaces the built-in one.
	h.call(admin, "PUT", "/api/v1/gate/policies/base", map[string]any{"maxCritical": 0}).expect(t, http.StatusCreated)
	list.BuiltinDefault = nil
	h.call(readOnly, "GET", "/api/v1/gate/policies", nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Policies) != 2 || list.BuiltinDefault != nil {
		t.Errorf("policies %+v, builtin default %+v", list.Policies, list.BuiltinDefault)
	}
	h.call(admin, "PUT", "/api/v1/gate/policies/base2", map[string]any{"repository": ""}).expect(t, http.StatusConflict)

	h.call(admin, "DELETE", "/api/v1/gate/policies/base", nil).expect(t, http.StatusNoContent)
	h.call(admin, "DELETE", "/api/v1/gate/policies/base", nil).expect(t, http.StatusNotFound)
	h.call(readOnly, "GET", "/api/v1/gate/policies/base", nil).expect(t, http.StatusNotFound)
	list.BuiltinDefault = nil
	h.call(readOnly, "GET", "/api/v1/gate/policies", nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Policies) != 1 || list.BuiltinDefault == nil {
		t.Errorf("after deleting the default: %+v, builtin %+v", list.Policies, list.BuiltinDefault)
	}
	h.call(pipeline, "PUT", "/api/v1/gate/policies/mine", map[string]any{"repository": "mine"}).expect(t, http.StatusForbidden)
}

// TestGatePolicyRefused sends policies PUT must refuse.
func TestGatePolicyRefused(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, path string
		body       any
		msg        []string
	}{
		{"negative maxHigh", "strict", map[string]any{"maxHigh": -1}, []string{"maxHigh", "-1", "negative"}},
		{"negative maxUntriaged", "strict", map[string]any{"maxUntriaged": -3}, []string{"maxUntriaged"}},
		{"maxScore over 10", "strict", map[string]any{"maxScore": 10.5}, []string{"maxScore"}},
		{"bad onTimeout", "strict", map[string]any{"onTimeout": "LATER"}, []string{"onTimeout", "LATER"}},
		{"bad onScanFailure", "strict", map[string]any{"onScanFailure": "ignore"}, []string{"onScanFailure"}},
		{"negative timeout", "strict", map[string]any{"timeoutSeconds": -5}, []string{"timeoutSeconds"}},
		{"inner star", "strict", map[string]any{"repository": "team/*/app"}, []string{"repository", "*"}},
		{"name mismatch", "strict", map[string]any{"name": "lenient"}, []string{`"lenient"`, `"strict"`}},
		{"bad name", "no%20spaces", map[string]any{}, []string{"no spaces"}},
		{"max not a number", "strict", map[string]any{"maxCritical": "0"}, []string{"maxCritical"}},
		{"unknown field", "strict", map[string]any{"maxCrit": 0}, []string{"maxCrit"}},
		{"no body", "strict", "", []string{"empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(admin, "PUT", "/api/v1/gate/policies/"+tc.path, tc.body).expect(t, http.StatusBadRequest)
			_, msg := r.apiError(t)
			for _, m := range tc.msg {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q does not name %q", msg, m)
				}
			}
		})
	}
	if ps, err := h.Store.GatePolicies(context.Background()); err != nil || len(ps) != 0 {
		t.Errorf("refused policies were stored: %+v, %v", ps, err)
	}
}
