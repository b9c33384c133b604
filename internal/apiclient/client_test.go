package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store"
)

func client(t *testing.T, s *apitest.Server, role string) *Client {
	t.Helper()
	c, err := New(s.URL+"/", s.Tokens[role], nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"", "localhost:5000", "ftp://host", "http://", "http://host?x=1", "::"} {
		if _, err := New(bad, "t", nil); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

func TestReading(t *testing.T) {
	s := apitest.New(t)
	c := client(t, s, store.RoleReadOnly)
	ctx := context.Background()
	fx := s.Fixture

	who, err := c.WhoAmI(ctx)
	if err != nil || who.Role != store.RoleReadOnly || who.Name != "read-only-token" {
		t.Fatalf("whoami %+v, %v", who, err)
	}
	repos, err := c.Repositories(ctx)
	if err != nil || len(repos) != 3 {
		t.Fatalf("repositories %+v, %v", repos, err)
	}

	// Images, a page at a time.
	var digests []string
	q := ImageQuery{MaxResults: 3}
	for i := 0; i < 5; i++ {
		p, err := c.Images(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range p.Images {
			digests = append(digests, im.Digest)
		}
		if q.NextToken = p.NextToken; q.NextToken == "" {
			break
		}
	}
	if len(digests) != 4 || digests[0] != fx.Images[3].Digest {
		t.Errorf("images %v", digests)
	}
	im, err := c.Image(ctx, "team/app", "", "1.0")
	if err != nil || im.Digest != fx.Images[0].Digest || im.Counts.Total != 3 {
		t.Fatalf("image %+v, %v", im, err)
	}
	byDigest, err := c.Image(ctx, "team/app", im.Digest, "")
	if err != nil || byDigest.Tags[0] != "1.0" {
		t.Errorf("image by digest %+v, %v", byDigest, err)
	}
	if _, err := c.Image(ctx, "team/app", "", "nope"); !IsNotFound(err) {
		t.Errorf("missing image: %v", err)
	}
	bom, err := c.SBOM(ctx, "team/app", "", "1.0", "spdx")
	if err != nil || !strings.Contains(string(bom), `"SPDX-2.3"`) || !strings.Contains(string(bom), "libssl3") {
		t.Errorf("SBOM: %v\n%.200s", err, bom)
	}

	// Findings: filtered, and paged.
	crit := &store.FilterCriteria{Severity: []store.StringFilter{{Comparison: "EQUALS", Value: "CRITICAL"}}}
	page, err := c.ListFindings(ctx, FindingsRequest{FilterCriteria: crit})
	if err != nil || len(page.Findings) != 3 {
		t.Fatalf("critical findings: %d, %v", len(page.Findings), err)
	}
	for _, f := range page.Findings {
		if f.Severity != "CRITICAL" || f.PackageVulnerabilityDetails.VulnerablePackages[0].Name != "zlib1g" {
			t.Errorf("finding %s %s", f.Severity, f.Title)
		}
	}
	seen := map[string]bool{}
	req := FindingsRequest{MaxResults: 2, SortCriteria: &SortCriteria{Field: "INSPECTOR_SCORE", SortOrder: "ASC"}}
	for i := 0; i < 10; i++ {
		p, err := c.ListFindings(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.Findings {
			seen[f.FindingARN] = true
		}
		if req.NextToken = p.NextToken; req.NextToken == "" {
			break
		}
	}
	if len(seen) != 7 {
		t.Errorf("paged through %d findings", len(seen))
	}
	one := page.Findings[0]
	id := one.FindingARN[strings.LastIndex(one.FindingARN, "/")+1:]
	for _, ref := range []string{id, one.FindingARN} {
		f, err := c.Finding(ctx, ref)
		if err != nil || f.FindingARN != one.FindingARN {
			t.Errorf("finding %s: %v", ref, err)
		}
	}

	// The typed finding holds everything the server sent.
	raw := rawGet(t, s, "/api/v1/findings/"+id)
	typed, _ := c.Finding(ctx, id)
	again, err := json.Marshal(typed)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, raw, again) {
		t.Errorf("the client loses part of a finding:\nserver %s\nclient %s", raw, again)
	}

	agg, err := c.AggregateFindings(ctx, AggregationRequest{AggregationType: "REPOSITORY"})
	if err != nil || agg.AggregationType != "REPOSITORY" || len(agg.Responses) != 2 {
		t.Fatalf("aggregation %+v, %v", agg, err)
	}
	for _, a := range agg.Responses {
		if want := map[string]int{"team/app": 5, "team/db": 2}[a.Repository]; a.Counts.Total != want {
			t.Errorf("%s: %d findings, want %d", a.Repository, a.Counts.Total, want)
		}
	}

	evts, err := c.Events(ctx, EventQuery{DetailType: "Inspector2 Scan"})
	if err != nil || len(evts.Events) != 3 || evts.Events[0].Source != "aws.inspector2" {
		t.Fatalf("events %+v, %v", evts, err)
	}
	// After the last scan, team/web was pushed: its push and coverage events.
	more, err := c.Events(ctx, EventQuery{After: evts.LastSeq})
	if err != nil || len(more.Events) != 2 || more.LastSeq <= evts.LastSeq {
		t.Errorf("events after the last scan: %d (lastSeq %d), %v", len(more.Events), more.LastSeq, err)
	}
	doc, err := c.OpenAPI(ctx)
	if err != nil || !strings.HasPrefix(string(doc), "openapi: 3.0") {
		t.Errorf("openapi: %v", err)
	}
}

func TestChanges(t *testing.T) {
	s := apitest.New(t)
	c := client(t, s, store.RoleAdmin)
	ctx := context.Background()

	repo, err := c.SetRescanDuration(ctx, "team/db", "DAYS_90", "")
	if err != nil || repo.RescanDuration != "DAYS_90" || repo.RescanBasis != "PUSH" {
		t.Fatalf("settings %+v, %v", repo, err)
	}
	queued, err := c.Rescan(ctx, "team/db", "")
	if err != nil || !queued {
		t.Fatalf("rescan %v, %v", queued, err)
	}

	expires := apitest.Now.Add(30 * 24 * time.Hour)
	rule, err := c.CreateSuppression(ctx, SuppressionRequest{
		Name: "untriaged go", Reason: "not reachable", ExpiresAt: expires,
		FilterCriteria: store.FilterCriteria{VulnerabilityID: []store.StringFilter{{Comparison: "PREFIX", Value: "GO-"}}},
	})
	if err != nil || rule.ID == "" || !rule.ExpiresAt.Equal(expires) || rule.CreatedBy != "admin-token" {
		t.Fatalf("rule %+v, %v", rule, err)
	}
	got, err := c.Suppression(ctx, rule.ID)
	if err != nil || got.Name != "untriaged go" || len(got.Filter.VulnerabilityID) != 1 {
		t.Errorf("rule %+v, %v", got, err)
	}
	sup, err := c.ListFindings(ctx, FindingsRequest{FilterCriteria: &store.FilterCriteria{FindingStatus: []store.StringFilter{{Comparison: "EQUALS", Value: "SUPPRESSED"}}}})
	if err != nil || len(sup.Findings) != 1 || sup.Findings[0].PackageVulnerabilityDetails.VulnerabilityID != "GO-2024-3106" {
		t.Errorf("suppressed findings %+v, %v", sup, err)
	}
	rules, err := c.Suppressions(ctx)
	if err != nil || len(rules) != 1 {
		t.Errorf("rules %+v, %v", rules, err)
	}
	if err := c.DeleteSuppression(ctx, rule.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSuppression(ctx, rule.ID); !IsNotFound(err) {
		t.Errorf("deleting twice: %v", err)
	}

	// A rule whose application fails is still created, and the error says so.
	s.Rules.FailRules(errors.New("disk full"))
	_, err = c.CreateSuppression(ctx, SuppressionRequest{Name: "x", Reason: "y",
		FilterCriteria: store.FilterCriteria{Severity: []store.StringFilter{{Comparison: "EQUALS", Value: "LOW"}}}})
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "RULES_NOT_APPLIED" || apiErr.StatusCode != 500 {
		t.Errorf("failed application: %v", err)
	}
	s.Rules.FailRules(nil)

	tok, err := c.CreateToken(ctx, "deploy", store.RolePipeline)
	if err != nil || !strings.HasPrefix(tok.Secret, "vgl_") || tok.Token.Role != store.RolePipeline {
		t.Fatalf("token %+v, %v", tok, err)
	}
	if stored, err := s.Store.TokenByHash(ctx, auth.Hash(tok.Secret)); err != nil || stored.ID != tok.Token.ID {
		t.Errorf("stored token %+v, %v", stored, err)
	}
	pc, _ := New(s.URL, tok.Secret, nil)
	if who, err := pc.WhoAmI(ctx); err != nil || who.Name != "deploy" {
		t.Errorf("new token: %+v, %v", who, err)
	}
	tokens, err := c.Tokens(ctx)
	if err != nil || len(tokens) != 4 {
		t.Errorf("tokens %d, %v", len(tokens), err)
	}
	if err := c.DeleteToken(ctx, tok.Token.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WhoAmI(ctx); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("deleted token: %v", err)
	}
}

func TestErrors(t *testing.T) {
	s := apitest.New(t)
	ctx := context.Background()
	ro := client(t, s, store.RoleReadOnly)
	var e *Error
	_, err := ro.CreateToken(ctx, "x", "admin")
	if !errors.As(err, &e) || e.StatusCode != 403 || e.Code != "FORBIDDEN" || e.Message == "" {
		t.Errorf("read-only creating a token: %v", err)
	}
	bad, _ := New(s.URL, "vgl_not-a-token", nil)
	_, err = bad.Repositories(ctx)
	if !errors.As(err, &e) || e.StatusCode != 401 || strings.Contains(err.Error(), "vgl_not-a-token") {
		t.Errorf("bad token: %v", err)
	}
	_, err = ro.ListFindings(ctx, FindingsRequest{FilterCriteria: &store.FilterCriteria{Severity: []store.StringFilter{{Comparison: "LIKE", Value: "HIGH"}}}})
	if !errors.As(err, &e) || e.StatusCode != 400 || !strings.Contains(e.Message, "severity[0].comparison") {
		t.Errorf("bad filter: %v", err)
	}

	// Something that is not the API answers.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	pc, _ := New(proxy.URL, "t", nil)
	_, err = pc.WhoAmI(ctx)
	if !errors.As(err, &e) || e.StatusCode != 502 || !strings.Contains(e.Message, "bad gateway") {
		t.Errorf("proxy error: %v", err)
	}
	// A server that is not there.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	gc, _ := New(gone.URL, "t", nil)
	if _, err := gc.WhoAmI(ctx); err == nil || errors.As(err, &e) {
		t.Errorf("no server: %v", err)
	}
}

func rawGet(t *testing.T, s *apitest.Server, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.Tokens[store.RoleReadOnly])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
	}
	return b
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(va, vb)
}
