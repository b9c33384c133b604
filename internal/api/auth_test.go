package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
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
}

func fixed(path string, body any) func(*testing.T, *harness) (string, any) {
	return func(*testing.T, *harness) (string, any) { return path, body }
}

func routeCases() []routeCase {
	appImage := func(h *harness) apitest.Image { return h.Fixture.Images[0] }
	return []routeCase{
		{"GET /whoami", fixed("/api/v1/whoami", nil), 200},
		{"GET /openapi.yaml", fixed("/api/v1/openapi.yaml", nil), 200},
		{"GET /repositories", fixed("/api/v1/repositories", nil), 200},
		{"PUT /repositories/settings", fixed("/api/v1/repositories/settings", map[string]string{"repository": "team/app", "rescanDuration": "DAYS_30"}), 200},
		{"GET /images", fixed("/api/v1/images?repository=team/app", nil), 200},
		{"GET /images/detail", fixed("/api/v1/images/detail?repository=team/app&tag=1.0", nil), 200},
		{"GET /images/sbom", fixed("/api/v1/images/sbom?repository=team/app&tag=1.0", nil), 200},
		{"POST /images/rescan", fixed("/api/v1/images/rescan", map[string]string{"repository": "team/db"}), 202},
		{"GET /findings", fixed("/api/v1/findings?severity=CRITICAL", nil), 200},
		{"POST /findings/list", fixed("/api/v1/findings/list", map[string]any{}), 200},
		{"POST /findings/aggregate", fixed("/api/v1/findings/aggregate", map[string]string{"aggregationType": "REPOSITORY"}), 200},
		{"GET /findings/{id}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/findings/" + appImage(h).Findings[0].ID, nil
		}, 200},
		{"GET /suppressions", fixed("/api/v1/suppressions", nil), 200},
		{"POST /suppressions", fixed("/api/v1/suppressions", suppressCVE("accepted", "CVE-2023-45853")), 201},
		{"GET /suppressions/{id}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/suppressions/" + createRule(t, h, "r1"), nil
		}, 200},
		{"DELETE /suppressions/{id}", func(t *testing.T, h *harness) (string, any) {
			return "/api/v1/suppressions/" + createRule(t, h, "r2"), nil
		}, 204},
		{"GET /events", fixed("/api/v1/events?maxResults=5", nil), 200},
		{"GET /tokens", fixed("/api/v1/tokens", nil), 200},
		{"POST /tokens", fixed("/api/v1/tokens", map[string]string{"name": "ci", "role": "pipeline"}), 201},
		{"DELETE /tokens/{id}", fixed("/api/v1/tokens/tok-pipeline", nil), 204},
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
	for _, c := range cases {
		t.Run(c.route, func(t *testing.T) {
			h := newHarness(t)
			method, _, _ := strings.Cut(c.route, " ")
			path, body := c.request(t, h)
			before := snapshot(t, h.Store)
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
				if role == pipeline {
					// Nobody but an admin has had a go: nothing may
					// have changed.
					if after := snapshot(t, h.Store); !reflect.DeepEqual(before, after) {
						t.Errorf("the store changed before an admin asked:\nbefore %s\nafter  %s", before, after)
					}
				}
			}
		})
	}
}

// allowedFor is the permission rule written out: read for every role,
// everything else for admins only (a pipeline's push is the registry's).
func allowedFor(role, need string) bool {
	if need == auth.Read {
		return true
	}
	return role == admin
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
	return out
}
