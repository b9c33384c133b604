package api_test

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/api/apitest"
)

// finding is the part of an Inspector finding the tests read.
type finding struct {
	FindingArn string   `json:"findingArn"`
	Severity   string   `json:"severity"`
	Status     string   `json:"status"`
	Title      string   `json:"title"`
	Score      *float64 `json:"inspectorScore"`
	Details    struct {
		VulnerabilityID    string `json:"vulnerabilityId"`
		VulnerablePackages []struct {
			Name string `json:"name"`
		} `json:"vulnerablePackages"`
	} `json:"packageVulnerabilityDetails"`
	Resources []struct {
		Details struct {
			Image struct {
				RepositoryName string   `json:"repositoryName"`
				ImageHash      string   `json:"imageHash"`
				ImageTags      []string `json:"imageTags"`
			} `json:"awsEcrContainerImage"`
		} `json:"details"`
	} `json:"resources"`
}

func (f finding) id() string { return f.FindingArn[strings.LastIndex(f.FindingArn, "/")+1:] }

type findingPage struct {
	Findings  []finding `json:"findings"`
	NextToken string    `json:"nextToken"`
}

// ids selects the fixture's finding ids for which keep is true.
func ids(fx *apitest.Fixture, keep func(apitest.Finding) bool) []string {
	var out []string
	for id, f := range fx.Findings {
		if keep(f) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func pageIDs(p findingPage) []string {
	var out []string
	for _, f := range p.Findings {
		out = append(out, f.id())
	}
	sort.Strings(out)
	return out
}

func sf(cmp, v string) map[string]string { return map[string]string{"comparison": cmp, "value": v} }

func TestListFindingsFilters(t *testing.T) {
	h := newHarness(t)
	fx := h.Fixture
	all := func(apitest.Finding) bool { return true }
	cases := []struct {
		name   string
		filter map[string]any
		want   func(apitest.Finding) bool
	}{
		{"none", nil, all},
		{"severity", map[string]any{"severity": []any{sf("EQUALS", "CRITICAL")}},
			func(f apitest.Finding) bool { return f.Severity == "CRITICAL" }},
		{"severities OR", map[string]any{"severity": []any{sf("EQUALS", "HIGH"), sf("EQUALS", "MEDIUM")}},
			func(f apitest.Finding) bool { return f.Severity == "HIGH" || f.Severity == "MEDIUM" }},
		{"repository prefix", map[string]any{"ecrImageRepositoryName": []any{sf("PREFIX", "team/a")}},
			func(f apitest.Finding) bool { return f.Repository == "team/app" }},
		{"repository not equals", map[string]any{"ecrImageRepositoryName": []any{sf("NOT_EQUALS", "team/app")}},
			func(f apitest.Finding) bool { return f.Repository != "team/app" }},
		{"tag", map[string]any{"ecrImageTags": []any{sf("EQUALS", "latest")}},
			func(f apitest.Finding) bool { return f.Digest == fx.Images[1].Digest }},
		{"package", map[string]any{"vulnerablePackages": []any{map[string]any{"name": sf("EQUALS", "libssl3")}}},
			func(f apitest.Finding) bool { return f.Package == "libssl3" }},
		{"score range", map[string]any{"inspectorScore": []any{map[string]float64{"lowerInclusive": 7}}},
			func(f apitest.Finding) bool { return f.Score >= 7 }},
		{"fix and vulnerability", map[string]any{
			"fixAvailable":    []any{sf("EQUALS", "YES")},
			"vulnerabilityId": []any{sf("PREFIX", "CVE-")},
		}, func(f apitest.Finding) bool { return f.Fixed && strings.HasPrefix(f.VulnerabilityID, "CVE-") }},
		{"digest and status", map[string]any{
			"ecrImageHash":  []any{sf("EQUALS", fx.Images[2].Digest)},
			"findingStatus": []any{sf("EQUALS", "ACTIVE")},
		}, func(f apitest.Finding) bool { return f.Digest == fx.Images[2].Digest }},
		{"dates", map[string]any{"firstObservedAt": []any{map[string]string{"startInclusive": "2026-03-02T11:00:00Z", "endInclusive": "2026-03-02T11:01:00Z"}}},
			// team/app:1.0 was scanned at 11:00:30.
			func(f apitest.Finding) bool { return f.Digest == fx.Images[0].Digest }},
		{"nothing", map[string]any{"severity": []any{sf("EQUALS", "LOW")}}, func(apitest.Finding) bool { return false }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{}
			if c.filter != nil {
				body["filterCriteria"] = c.filter
			}
			var p findingPage
			h.call(readOnly, "POST", "/api/v1/findings/list", body).expect(t, http.StatusOK).decode(t, &p)
			want := ids(fx, c.want)
			if got := pageIDs(p); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("got %v, want %v", got, want)
			}
			if p.NextToken != "" {
				t.Errorf("nextToken %q on the only page", p.NextToken)
			}
		})
	}
	if n := len(fx.Findings); n != 7 {
		t.Fatalf("fixture has %d findings", n)
	}
}

// TestListFindingsContent checks the Inspector documents themselves.
func TestListFindingsContent(t *testing.T) {
	h := newHarness(t)
	var p findingPage
	h.call(readOnly, "POST", "/api/v1/findings/list", map[string]any{}).expect(t, http.StatusOK).decode(t, &p)
	if len(p.Findings) != 7 {
		t.Fatalf("%d findings", len(p.Findings))
	}
	// Default order: most severe first.
	for _, f := range p.Findings[:3] {
		if f.Severity != "CRITICAL" {
			t.Errorf("first findings are %s, want CRITICAL first", f.Severity)
		}
	}
	for _, f := range p.Findings {
		want, ok := h.Fixture.Findings[f.id()]
		if !ok {
			t.Fatalf("finding %s is not the fixture's", f.FindingArn)
		}
		if !strings.HasPrefix(f.FindingArn, "arn:aws:inspector2:"+apitest.Region+":"+apitest.Account+":finding/") {
			t.Errorf("ARN %s", f.FindingArn)
		}
		img := f.Resources[0].Details.Image
		if f.Severity != want.Severity || f.Status != "ACTIVE" || f.Details.VulnerabilityID != want.VulnerabilityID ||
			f.Details.VulnerablePackages[0].Name != want.Package || img.RepositoryName != want.Repository || img.ImageHash != want.Digest {
			t.Errorf("finding %s: %+v, want %+v", f.id(), f, want)
		}
	}
}

func TestListFindingsPaging(t *testing.T) {
	h := newHarness(t)
	for _, sort := range []map[string]string{nil, {"field": "INSPECTOR_SCORE", "sortOrder": "ASC"}, {"field": "VULNERABILITY_ID"}} {
		var got []string
		var scores []float64
		next := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			body := map[string]any{"maxResults": 2, "nextToken": next}
			if sort != nil {
				body["sortCriteria"] = sort
			}
			var p findingPage
			h.call(readOnly, "POST", "/api/v1/findings/list", body).expect(t, http.StatusOK).decode(t, &p)
			if len(p.Findings) > 2 {
				t.Fatalf("page of %d", len(p.Findings))
			}
			for _, f := range p.Findings {
				got = append(got, f.id())
				if f.Score != nil {
					scores = append(scores, *f.Score)
				}
			}
			if next = p.NextToken; next == "" {
				break
			}
		}
		if len(got) != 7 || len(uniq(got)) != 7 {
			t.Errorf("sort %v: paged through %d findings (%d distinct), want 7", sort, len(got), len(uniq(got)))
		}
		if sort != nil && sort["field"] == "INSPECTOR_SCORE" {
			for i := 1; i < len(scores); i++ {
				if scores[i] < scores[i-1] {
					t.Errorf("scores not ascending: %v", scores)
				}
			}
		}
	}
	// A token belongs to its query.
	var p findingPage
	h.call(readOnly, "POST", "/api/v1/findings/list", map[string]any{"maxResults": 2}).expect(t, http.StatusOK).decode(t, &p)
	r := h.call(readOnly, "POST", "/api/v1/findings/list", map[string]any{
		"maxResults": 2, "nextToken": p.NextToken,
		"filterCriteria": map[string]any{"severity": []any{sf("EQUALS", "HIGH")}},
	}).expect(t, http.StatusBadRequest)
	if _, msg := r.apiError(t); !strings.Contains(msg, "token") {
		t.Errorf("message %q does not mention the token", msg)
	}
	h.call(readOnly, "POST", "/api/v1/findings/list", map[string]any{"nextToken": "garbage!"}).expect(t, http.StatusBadRequest)
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

func TestFindingsQuery(t *testing.T) {
	h := newHarness(t)
	fx := h.Fixture
	cases := []struct {
		query string
		want  func(apitest.Finding) bool
	}{
		{"", func(apitest.Finding) bool { return true }},
		{"severity=HIGH&repository=team/db", func(f apitest.Finding) bool { return f.Severity == "HIGH" && f.Repository == "team/db" }},
		{"severity=HIGH&severity=CRITICAL", func(f apitest.Finding) bool { return f.Severity == "HIGH" || f.Severity == "CRITICAL" }},
		{"vulnerabilityId=GO-2024-3106&status=ACTIVE", func(f apitest.Finding) bool { return f.VulnerabilityID == "GO-2024-3106" }},
		{"digest=" + url.QueryEscape(fx.Images[0].Digest), func(f apitest.Finding) bool { return f.Digest == fx.Images[0].Digest }},
		{"tag=16", func(f apitest.Finding) bool { return f.Repository == "team/db" }},
	}
	for _, c := range cases {
		var p findingPage
		h.call(readOnly, "GET", "/api/v1/findings?"+c.query, nil).expect(t, http.StatusOK).decode(t, &p)
		if got, want := pageIDs(p), ids(fx, c.want); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: got %v, want %v", c.query, got, want)
		}
	}
	var p findingPage
	h.call(readOnly, "GET", "/api/v1/findings?maxResults=3", nil).expect(t, http.StatusOK).decode(t, &p)
	if len(p.Findings) != 3 || p.NextToken == "" {
		t.Errorf("maxResults=3: %d findings, nextToken %q", len(p.Findings), p.NextToken)
	}
	var p2 findingPage
	h.call(readOnly, "GET", "/api/v1/findings?maxResults=3&nextToken="+url.QueryEscape(p.NextToken), nil).expect(t, http.StatusOK).decode(t, &p2)
	if len(p2.Findings) != 3 || len(uniq(append(pageIDs(p), pageIDs(p2)...))) != 6 {
		t.Errorf("second page: %v after %v", pageIDs(p2), pageIDs(p))
	}
	h.call(readOnly, "GET", "/api/v1/findings?severity=critical", nil).expect(t, http.StatusBadRequest)
	h.call(readOnly, "GET", "/api/v1/findings?severty=HIGH", nil).expect(t, http.StatusBadRequest)
}

func TestGetFinding(t *testing.T) {
	h := newHarness(t)
	want := h.Fixture.Images[0].Findings[0]
	arn := "arn:aws:inspector2:" + apitest.Region + ":" + apitest.Account + ":finding/" + want.ID
	for _, path := range []string{want.ID, url.PathEscape(arn)} {
		var f finding
		h.call(readOnly, "GET", "/api/v1/findings/"+path, nil).expect(t, http.StatusOK).decode(t, &f)
		if f.FindingArn != arn || f.Details.VulnerabilityID != want.VulnerabilityID {
			t.Errorf("%s: got %s %s", path, f.FindingArn, f.Details.VulnerabilityID)
		}
	}
	otherAccount := "arn:aws:inspector2:" + apitest.Region + ":000000000000:finding/" + want.ID
	h.call(readOnly, "GET", "/api/v1/findings/"+url.PathEscape(otherAccount), nil).expect(t, http.StatusNotFound)
	h.call(readOnly, "GET", "/api/v1/findings/"+strings.Repeat("0", 32), nil).expect(t, http.StatusNotFound)
	r := h.call(readOnly, "GET", "/api/v1/findings/not-an-id", nil).expect(t, http.StatusBadRequest)
	if _, msg := r.apiError(t); !strings.Contains(msg, "not-an-id") {
		t.Errorf("message %q", msg)
	}
}

type aggregate struct {
	Repository      string         `json:"repository"`
	ImageDigest     string         `json:"imageDigest"`
	Tags            []string       `json:"tags"`
	LayerDiffID     string         `json:"layerDiffId"`
	PackageName     string         `json:"packageName"`
	Title           string         `json:"title"`
	VulnerabilityID string         `json:"vulnerabilityId"`
	FindingType     string         `json:"findingType"`
	Images          int            `json:"images"`
	Counts          map[string]int `json:"counts"`
}

type aggregatePage struct {
	AggregationType string      `json:"aggregationType"`
	Responses       []aggregate `json:"responses"`
	NextToken       string      `json:"nextToken"`
}

// TestAggregateFindings checks the counts of each grouping against the
// fixture counted by hand.
func TestAggregateFindings(t *testing.T) {
	h := newHarness(t)
	fx := h.Fixture
	count := func(keep func(apitest.Finding) bool) map[string]int {
		c := map[string]int{}
		for _, f := range fx.Findings {
			if keep(f) {
				c[f.Severity]++
				c["TOTAL"]++
			}
		}
		return c
	}
	type group struct {
		key    func(aggregate) string
		expect map[string]map[string]int
	}
	groups := map[string]group{
		"REPOSITORY": {func(a aggregate) string { return a.Repository }, map[string]map[string]int{
			"team/app": {"CRITICAL": 2, "HIGH": 1, "MEDIUM": 1, "UNTRIAGED": 1, "TOTAL": 5},
			"team/db":  {"CRITICAL": 1, "HIGH": 1, "TOTAL": 2},
		}},
		"AWS_ECR_CONTAINER": {func(a aggregate) string { return a.Repository + "@" + a.ImageDigest }, map[string]map[string]int{}},
		"PACKAGE": {func(a aggregate) string { return a.PackageName }, map[string]map[string]int{
			"zlib1g": {"CRITICAL": 3, "TOTAL": 3}, "libssl3": {"HIGH": 2, "TOTAL": 2},
			"libc6": {"MEDIUM": 1, "TOTAL": 1}, "stdlib": {"UNTRIAGED": 1, "TOTAL": 1},
		}},
		"TITLE": {func(a aggregate) string { return a.VulnerabilityID }, map[string]map[string]int{
			"CVE-2023-45853": {"CRITICAL": 3, "TOTAL": 3}, "CVE-2024-6119": {"HIGH": 2, "TOTAL": 2},
			"CVE-2023-4806": {"MEDIUM": 1, "TOTAL": 1}, "GO-2024-3106": {"UNTRIAGED": 1, "TOTAL": 1},
		}},
		"FINDING_TYPE": {func(a aggregate) string { return a.FindingType }, map[string]map[string]int{
			"PACKAGE_VULNERABILITY": {"CRITICAL": 3, "HIGH": 2, "MEDIUM": 1, "UNTRIAGED": 1, "TOTAL": 7},
		}},
	}
	for _, im := range fx.Images[:3] {
		im := im
		groups["AWS_ECR_CONTAINER"].expect[im.Repository+"@"+im.Digest] = count(func(f apitest.Finding) bool { return f.Digest == im.Digest })
	}
	for typ, g := range groups {
		t.Run(typ, func(t *testing.T) {
			var p aggregatePage
			h.call(readOnly, "POST", "/api/v1/findings/aggregate", map[string]any{"aggregationType": typ}).expect(t, http.StatusOK).decode(t, &p)
			if p.AggregationType != typ {
				t.Errorf("aggregationType %q", p.AggregationType)
			}
			got := map[string]map[string]int{}
			for _, a := range p.Responses {
				c := map[string]int{}
				for k, v := range a.Counts {
					if v != 0 {
						c[k] = v
					}
				}
				got[g.key(a)] = c
			}
			if !equalCounts(got, g.expect) {
				t.Errorf("got %v\nwant %v", got, g.expect)
			}
		})
	}
	// Image groups carry the tags; repository groups count images.
	var p aggregatePage
	h.call(readOnly, "POST", "/api/v1/findings/aggregate", map[string]any{"aggregationType": "AWS_ECR_CONTAINER"}).decode(t, &p)
	for _, a := range p.Responses {
		if a.ImageDigest == fx.Images[1].Digest && (len(a.Tags) != 1 || a.Tags[0] != "latest") {
			t.Errorf("tags of team/app:latest: %v", a.Tags)
		}
	}
	p = aggregatePage{}
	h.call(readOnly, "POST", "/api/v1/findings/aggregate", map[string]any{"aggregationType": "REPOSITORY"}).decode(t, &p)
	for _, a := range p.Responses {
		if want := map[string]int{"team/app": 2, "team/db": 1}[a.Repository]; a.Images != want {
			t.Errorf("%s: %d images, want %d", a.Repository, a.Images, want)
		}
	}
	// Filtered, and paged.
	p = aggregatePage{}
	h.call(readOnly, "POST", "/api/v1/findings/aggregate", map[string]any{
		"aggregationType": "PACKAGE", "filterCriteria": map[string]any{"ecrImageRepositoryName": []any{sf("EQUALS", "team/db")}},
	}).decode(t, &p)
	if len(p.Responses) != 2 {
		t.Errorf("team/db has %d packages with findings, want 2", len(p.Responses))
	}
	var seen []string
	next := ""
	for i := 0; i < 10; i++ {
		p = aggregatePage{}
		h.call(readOnly, "POST", "/api/v1/findings/aggregate", map[string]any{"aggregationType": "TITLE", "maxResults": 3, "nextToken": next}).
			expect(t, http.StatusOK).decode(t, &p)
		for _, a := range p.Responses {
			seen = append(seen, a.VulnerabilityID)
		}
		if next = p.NextToken; next == "" {
			break
		}
	}
	if len(seen) != 4 || len(uniq(seen)) != 4 {
		t.Errorf("paged titles: %v", seen)
	}
	r := h.call(readOnly, "POST", "/api/v1/findings/aggregate", map[string]any{"aggregationType": "CVE"}).expect(t, http.StatusBadRequest)
	if _, msg := r.apiError(t); !strings.Contains(msg, "aggregationType") {
		t.Errorf("message %q", msg)
	}
}

func equalCounts(a, b map[string]map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, ca := range a {
		cb, ok := b[k]
		if !ok || len(ca) != len(cb) {
			return false
		}
		for s, n := range ca {
			if cb[s] != n {
				return false
			}
		}
	}
	return true
}
