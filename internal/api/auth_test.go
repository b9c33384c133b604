package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store"
)

// routeCase is one request to each route, valid for a role allowed to
// make it.
type routeCase struct {
	route string // "METHOD /path" as the handler lists it
	// request returns the path (with query) and body, after preparing
	// the store if the request needs something to exist.
	request func(t *testing.T, h *harness) (string, any)
	want    int // the status of an allowed request
	// changes are the parts of the snapshot an allowed request by a role
	// other than admin may change (a pipeline's gate request); nothing
	// else may change before an admin asks.
	changes []string
}

func fixed(path string, body any) func(*testing.T, *harness) (string, any) {
	return func(*testing.T, *harness) (string, any) { return path, body }
}

func routeCases() []routeCase {
	appImage := func(h *harness) apitest.Image { return h.Fixture.Images[0] }
	return []routeCase{
		{"GET /whoami", fixed("/api/v1/whoami", nil), 200, nil},
		{"GET /openapi.yaml", fixed("/api/v1/openapi.yaml", nil), 200, nil},
		{"GET /repositories", fixed("/api/v1/repositories", nil), 200, nil},
		{"PUT /repositories/settings", fixed("/api/v1/repositories/settings", map[string]string{"repository": "team/app", "rescanDuration": "DAYS_30"}), 200, nil},
		{"GET /repositories/tag-mutability", fixed("/api/v1/repositories/tag-mutability?repositoryName=team/app", nil), 200, nil},
		{"PUT /repositories/tag-mutability", fixed("/api/v1/repositories/tag-mutability", map[string]string{"repositoryName": "team/app", "imageTagMutability": "IMMUTABLE"}), 200, nil},
		{"POST /repositories/lifecycle-policy/preview", fixed("/api/v1/repositories/lifecycle-policy/preview", map[string]string{"repositoryName": "team/app",
			"lifecyclePolicyText": `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`}), 200, nil},
		{"GET /images", fixed("/api/v1/images?repository=team/app", nil), 200, nil},
		{"GET /images/detail", fixed("/api/v1/images/detail?repository=team/app&tag=1.0", nil), 200, nil},
		{"GET /images/sbom", fixed("/api/v1/images/sbom?repository=team/app&tag=1.0", nil), 200, nil},
		{"GET /images/coverage", fixed("/api/v1/images/coverage?repository=team/app&tag=1.0", nil), 200, nil},
		{"GET /images/referrers", fixed("/api/v1/images/referrers?repository=team/app&tag=1.0", nil), 200, nil},
		{"POST /images/rescan", fixed("/api/v1/images/rescan", map[string]string{"repository": "team/db"}), 202, nil},
		{"GET /findings", fixed("/api/v1/findings?severity=CRITICAL", nil), 200, nil},
		{"POST /findings/list", fixed("/api/v1/findings/list", map[string]any{}), 200, nil},
		{"POST /findings/aggregate", fixed("/api/v1/findings/aggregate", map[string]string{"aggregationType": "REPOSITORY"}), 200, nil},
		{"GET /findings/{id}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/findings/" + appImage(h).Findings[0].ID, nil
		}, 200, nil},
		{"GET /suppressions", fixed("/api/v1/suppressions", nil), 200, nil},
		{"POST /suppressions", fixed("/api/v1/suppressions", suppressCVE("accepted", "CVE-2023-45853")), 201, nil},
		{"GET /suppressions/{id}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/suppressions/" + createRule(t, h, "r1"), nil
		}, 200, nil},
		{"DELETE /suppressions/{id}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/suppressions/" + createRule(t, h, "r2"), nil
		}, 204, nil},
		{"GET /events", fixed("/api/v1/events?maxResults=5", nil), 200, nil},

		{"GET /rules", func(t *testing.T, h *harness) (string, any) {
			storeEventRule(t, h, "listed")
			return "/api/v1/rules", nil
		}, 200, nil},
		{"POST /rules/test", fixed("/api/v1/rules/test", map[string]any{"EventPattern": ec2Pattern, "Event": ec2Event}), 200, nil},
		{"GET /rules/{name}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/rules/" + storeEventRule(t, h, "shown"), nil
		}, 200, nil},
		{"PUT /rules/{name}", fixed("/api/v1/rules/new-rule", map[string]any{
			"EventPattern": map[string]any{"source": []string{"aws.inspector2"}},
			"Targets":      []map[string]any{{"Id": "hook", "Type": "webhook", "Url": "https://hooks.example/vigil"}},
		}), 201, nil},
		{"DELETE /rules/{name}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/rules/" + storeEventRule(t, h, "doomed"), nil
		}, 204, nil},

		{"GET /deliveries", func(t *testing.T, h *harness) (string, any) {
			seedDeliveries(t, h, []seed{{rule: "r", dead: true}})
			return "/api/v1/deliveries?state=dead", nil
		}, 200, nil},
		{"GET /deliveries/{id}", func(t *testing.T, h *harness) (string, any) {
			ds := seedDeliveries(t, h, []seed{{rule: "r"}})
			return "/api/v1/deliveries/" + strconv.FormatInt(ds[0].ID, 10), nil
		}, 200, nil},
		{"POST /deliveries/redrive", func(t *testing.T, h *harness) (string, any) {
			seedDeliveries(t, h, []seed{{rule: "r", dead: true}})
			return "/api/v1/deliveries/redrive", map[string]any{"all": true}
		}, 200, nil},

		{"GET /gate/policies", func(t *testing.T, h *harness) (string, any) {
			storePolicy(t, h, "strict", "team/app")
			return "/api/v1/gate/policies", nil
		}, 200, nil},
		{"GET /gate/policies/{name}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/gate/policies/" + storePolicy(t, h, "strict", "team/app"), nil
		}, 200, nil},
		{"PUT /gate/policies/{name}", fixed("/api/v1/gate/policies/strict", map[string]any{"repository": "team/*", "maxCritical": 0}), 201, nil},
		{"DELETE /gate/policies/{name}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/gate/policies/" + storePolicy(t, h, "strict", "team/app"), nil
		}, 204, nil},
		{"POST /gate/requests", fixed("/api/v1/gate/requests", map[string]any{"image": "team/app:1.0", "pipeline": "deploy-app"}), 201,
			// The request, its decision (the image is scanned) and the
			// decision's event.
			[]string{"gateRequests", "gateDecisions", "events"}},
		{"GET /gate/requests", func(t *testing.T, h *harness) (string, any) {
			gateRequest(t, h, "team/web:dev")
			return "/api/v1/gate/requests?state=PENDING", nil
		}, 200, nil},
		{"GET /gate/requests/{id}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/gate/requests/" + gateRequest(t, h, "team/web:dev").ID, nil
		}, 200, nil},
		{"GET /gate/decisions", func(t *testing.T, h *harness) (string, any) {
			gateRequest(t, h, "team/db:16")
			return "/api/v1/gate/decisions?repository=team/db", nil
		}, 200, nil},
		{"GET /gate/decisions/{id}", func(t *testing.T, h *harness) (string, any) {
			r := gateRequest(t, h, "team/db:16")
			if r.DecisionID == "" {
				t.Fatalf("a request on a scanned image is not decided: %+v", r)
			}
			return "/api/v1/gate/decisions/" + r.DecisionID, nil
		}, 200, nil},
		{"GET /gate/check", fixed("/api/v1/gate/check?image=team/app:1.0", nil), 200, nil},

		// The scan routes need the server's vulnerability database,
		// which this harness has not: a request refused before it is
		// needed shows who may ask (client_test.go in package cli scans
		// with a real server).
		{"POST /scan/inventory", fixed("/api/v1/scan/inventory", map[string]any{"packages": []map[string]string{{"name": ""}}}), 400, nil},
		{"POST /scan/sbom", fixed("/api/v1/scan/sbom", map[string]any{"sbom": nil}), 400, nil},

		{"GET /tokens", fixed("/api/v1/tokens", nil), 200, nil},
		{"POST /tokens", fixed("/api/v1/tokens", map[string]string{"name": "ci", "role": "pipeline"}), 201, nil},
		{"DELETE /tokens/{id}", fixed("/api/v1/tokens/tok-pipeline", nil), 204, nil},
	}
}

func suppressCVE(name, cve string) map[string]any {
	return map[string]any{
		"name": name, "reason": "accepted risk: not reachable",
		"filterCriteria": map[string]any{"vulnerabilityId": []map[string]string{{"comparison": "EQUALS", "value": cve}}},
	}
}

// createRule stores a rule directly, for the routes that need one.
func createRule(t *testing.T, h *harness, id string) string {
	t.Helper()
	err := h.Store.CreateRule(context.Background(), store.Rule{
		ID: id, Name: "rule " + id, Action: "SUPPRESS", Reason: "test", CreatedAt: apitest.Now,
		Filter: store.FilterCriteria{Severity: []store.StringFilter{{Comparison: "EQUALS", Value: "LOW"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPermissions sends every route's request without credentials and
// with each role's token: 401 without, 403 where the role is not allowed,
// success where it is. Only after the roles that may not change anything
// have tried does the admin's request go, and the store must be exactly
// as it was before they tried.
func TestPermissions(t *testing.T) {
	cases := routeCases()
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
	}
	for r := range api.RouteList() {
		if !covered[r] {
			t.Errorf("route %s has no permission case", r)
		}
	}
	need := api.RouteList()
	for r, n := range need {
		if want := wantNeed(r); n != want {
			t.Errorf("route %s needs %q, want %q", r, n, want)
		}
	}
	for _, c := range cases {
		t.Run(c.route, func(t *testing.T) {
			h := newHarness(t)
			method, _, _ := strings.Cut(c.route, " ")
			path, body := c.request(t, h)
			before := snapshot(t, h.Store)
			mayChange := map[string]bool{}
			for _, k := range c.changes {
				if _, ok := before[k]; !ok {
					t.Fatalf("the case names %q, which the snapshot does not have", k)
				}
				mayChange[k] = true
			}
			order := []string{anonymous, readOnly, pipeline, admin}
			for _, role := range order {
				r := h.call(role, method, path, body)
				allowed := role != anonymous && allowedFor(role, need[c.route])
				switch {
				case role == anonymous:
					r.expect(t, http.StatusUnauthorized)
					if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="vigil"` {
						t.Errorf("WWW-Authenticate %q", got)
					}
				case !allowed:
					r.expect(t, http.StatusForbidden)
					if code, _ := r.apiError(t); code != api.CodeForbidden {
						t.Errorf("code %q", code)
					}
				default:
					r.expect(t, c.want)
				}
				if role == admin {
					continue
				}
				// Nobody but an admin has had a go: nothing may have
				// changed, except what an allowed request of this
				// role is there to change.
				after := snapshot(t, h.Store)
				changed := false
				for k := range before {
					if before[k] == after[k] {
						continue
					}
					changed = true
					if !allowed || !mayChange[k] {
						t.Errorf("%s changed after the %s token's request (status %d), before an admin asked:\nbefore %s\nafter  %s",
							k, roleName(role), r.status, before[k], after[k])
					}
				}
				if allowed && len(c.changes) > 0 && !changed {
					t.Errorf("the %s token's request was answered %d but changed none of %v", roleName(role), r.status, c.changes)
				}
				before = after
			}
		})
	}
}

// wantNeed is the permission each route should need, written out: GETs
// and the POSTs that only read (list, aggregate, test a pattern) need
// read; a gate request and a scan on request need push (a pipeline's);
// tokens are an admin's;
// every other change needs write.
func wantNeed(route string) string {
	method, path, _ := strings.Cut(route, " ")
	switch {
	case strings.HasPrefix(path, "/tokens"):
		return "admin"
	case method == "GET", route == "POST /findings/list", route == "POST /findings/aggregate", route == "POST /rules/test",
		route == "POST /repositories/lifecycle-policy/preview":
		return auth.Read
	case route == "POST /gate/requests", strings.HasPrefix(path, "/scan/"):
		return auth.Push
	}
	return auth.Write
}

// allowedFor is the permission rule written out: read for every role;
// push (images to the registry, requests to the deployment gate) for
// pipelines and admins; everything else for admins only.
func allowedFor(role, need string) bool {
	switch need {
	case auth.Read:
		return true
	case auth.Push:
		return role == pipeline || role == admin
	}
	return role == admin
}

func roleName(role string) string {
	if role == anonymous {
		return "anonymous"
	}
	return role
}

// snapshot is everything the API could change, as JSON (token use times
// left out: authenticating records them).
func snapshot(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	put := func(k string, v any, err error) {
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(b)
	}
	repos, err := s.ListRepositories(ctx)
	put("repositories", repos, err)
	images, _, err := s.ListImages(ctx, store.ImageQuery{Limit: 1000})
	put("images", images, err)
	findings, _, err := s.ListFindings(ctx, store.FindingQuery{Limit: 1000})
	put("findings", findings, err)
	rules, err := s.Rules(ctx)
	put("rules", rules, err)
	tokens, err := s.Tokens(ctx)
	for i := range tokens {
		tokens[i].LastUsedAt = time.Time{}
	}
	sort.Slice(tokens, func(i, j int) bool { return tokens[i].ID < tokens[j].ID })
	put("tokens", tokens, err)
	evts, err := s.Events(ctx, store.EventQuery{Limit: 1000})
	put("events", evts, err)
	jobs, err := s.Jobs(ctx, "queued", 1000)
	put("jobs", jobs, err)
	eventRules, err := s.EventRules(ctx)
	sort.Slice(eventRules, func(i, j int) bool { return eventRules[i].Name < eventRules[j].Name })
	put("eventRules", eventRules, err)
	deliveries, err := s.Deliveries(ctx, store.DeliveryQuery{Limit: 1000})
	put("deliveries", deliveries, err)
	policies, err := s.GatePolicies(ctx)
	sort.Slice(policies, func(i, j int) bool { return policies[i].Name < policies[j].Name })
	put("gatePolicies", policies, err)
	requests, _, err := s.GateRequests(ctx, store.GateRequestQuery{Limit: 1000})
	sort.Slice(requests, func(i, j int) bool { return requests[i].ID < requests[j].ID })
	put("gateRequests", requests, err)
	decisions, _, err := s.GateDecisions(ctx, store.GateDecisionQuery{Limit: 1000})
	sort.Slice(decisions, func(i, j int) bool { return decisions[i].ID < decisions[j].ID })
	put("gateDecisions", decisions, err)
	mutability, err := s.TagMutability(ctx, "team/app")
	put("tagMutability", mutability, err)
	return out
}
