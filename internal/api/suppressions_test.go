package api_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/api/apitest"
)

type rule struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Action         string         `json:"action"`
	Reason         string         `json:"reason"`
	ExpiresAt      string         `json:"expiresAt"`
	CreatedBy      string         `json:"createdBy"`
	FilterCriteria map[string]any `json:"filterCriteria"`
}

type imageJSON struct {
	Repository string         `json:"repository"`
	Digest     string         `json:"digest"`
	Tags       []string       `json:"tags"`
	ScanStatus string         `json:"scanStatus"`
	Counts     map[string]int `json:"counts"`
}

// TestSuppressionLifecycle suppresses the critical zlib finding of
// team/db and takes the suppression back, watching the finding, the
// image's counts and the events.
func TestSuppressionLifecycle(t *testing.T) {
	h := newHarness(t)
	db := h.Fixture.Images[2]
	var target apitest.Finding
	for _, f := range db.Findings {
		if f.VulnerabilityID == "CVE-2023-45853" {
			target = f
		}
	}
	var last struct {
		LastSeq int64 `json:"lastSeq"`
	}
	h.call(readOnly, "GET", "/api/v1/events?maxResults=1000", nil).expect(t, http.StatusOK).decode(t, &last)

	body := map[string]any{
		"name": "zlib in db", "reason": "minizip is not built", "description": "CVE-2023-45853 is in minizip only",
		"expiresAt": "2026-09-01T00:00:00Z",
		"filterCriteria": map[string]any{
			"vulnerabilityId":        []any{sf("EQUALS", "CVE-2023-45853")},
			"ecrImageRepositoryName": []any{sf("EQUALS", "team/db")},
		},
	}
	r := h.call(admin, "POST", "/api/v1/suppressions", body).expect(t, http.StatusCreated)
	var created rule
	r.decode(t, &created)
	if created.ID == "" || created.Action != "SUPPRESS" || created.CreatedBy != "admin-token" || created.ExpiresAt != "2026-09-01T00:00:00Z" {
		t.Errorf("created %+v", created)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/suppressions/"+created.ID {
		t.Errorf("Location %q", loc)
	}
	var got rule
	h.call(readOnly, "GET", "/api/v1/suppressions/"+created.ID, nil).expect(t, http.StatusOK).decode(t, &got)
	if got.Name != "zlib in db" || got.Reason != "minizip is not built" || len(got.FilterCriteria) != 2 {
		t.Errorf("stored %+v", got)
	}
	var list struct{ Suppressions []rule }
	h.call(readOnly, "GET", "/api/v1/suppressions", nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Suppressions) != 1 || list.Suppressions[0].ID != created.ID {
		t.Errorf("list %+v", list)
	}

	status := func() string {
		var f finding
		h.call(readOnly, "GET", "/api/v1/findings/"+target.ID, nil).expect(t, http.StatusOK).decode(t, &f)
		return f.Status
	}
	counts := func() map[string]int {
		var im imageJSON
		h.call(readOnly, "GET", "/api/v1/images/detail?repository=team/db&digest="+db.Digest, nil).expect(t, http.StatusOK).decode(t, &im)
		return im.Counts
	}
	if s := status(); s != "SUPPRESSED" {
		t.Fatalf("after the rule the finding is %s", s)
	}
	if c := counts(); c["CRITICAL"] != 0 || c["TOTAL"] != 1 {
		t.Errorf("counts with the finding suppressed: %v", c)
	}
	// Only that finding changed.
	var p findingPage
	h.call(readOnly, "GET", "/api/v1/findings?status=SUPPRESSED", nil).expect(t, http.StatusOK).decode(t, &p)
	if len(p.Findings) != 1 || p.Findings[0].id() != target.ID {
		t.Errorf("suppressed: %v", pageIDs(p))
	}
	// The change was announced.
	var evts struct {
		Events []struct {
			DetailType string `json:"detail-type"`
			Detail     struct {
				FindingArn string `json:"findingArn"`
				Status     string `json:"status"`
			} `json:"detail"`
		} `json:"events"`
	}
	h.call(readOnly, "GET", "/api/v1/events?detailType=Inspector2+Finding&after="+strconv.FormatInt(last.LastSeq, 10), nil).expect(t, http.StatusOK).decode(t, &evts)
	if len(evts.Events) != 1 || !strings.HasSuffix(evts.Events[0].Detail.FindingArn, target.ID) || evts.Events[0].Detail.Status != "SUPPRESSED" {
		t.Errorf("events after the rule: %+v", evts)
	}

	h.call(admin, "POST", "/api/v1/suppressions", body).expect(t, http.StatusConflict)
	h.call(admin, "DELETE", "/api/v1/suppressions/"+created.ID, nil).expect(t, http.StatusNoContent)
	if s := status(); s != "ACTIVE" {
		t.Errorf("after deleting the rule the finding is %s", s)
	}
	if c := counts(); c["CRITICAL"] != 1 || c["TOTAL"] != 2 {
		t.Errorf("counts after deleting the rule: %v", c)
	}
	h.call(admin, "DELETE", "/api/v1/suppressions/"+created.ID, nil).expect(t, http.StatusNotFound)
	h.call(readOnly, "GET", "/api/v1/suppressions/"+created.ID, nil).expect(t, http.StatusNotFound)
	if n := h.Rules.RuleApplications(); n != 2 {
		t.Errorf("rules applied %d times, want 2 (create, delete)", n)
	}
}

// TestSuppressionApplyFails: the rule is kept and the answer says so.
func TestSuppressionApplyFails(t *testing.T) {
	h := newHarness(t)
	h.Rules.FailRules(errors.New("database is locked (SQLITE_BUSY) at /secret/path"))
	r := h.call(admin, "POST", "/api/v1/suppressions", suppressCVE("zlib", "CVE-2023-45853")).expect(t, http.StatusInternalServerError)
	code, msg := r.apiError(t)
	if code != api.CodeRulesNotApplied || !strings.Contains(msg, "was created") || strings.Contains(msg, "SQLITE") || strings.Contains(msg, "/secret") {
		t.Errorf("%s: %s", code, msg)
	}
	var list struct{ Suppressions []rule }
	h.call(readOnly, "GET", "/api/v1/suppressions", nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Suppressions) != 1 || !strings.Contains(msg, list.Suppressions[0].ID) {
		t.Fatalf("rules after the failure: %+v (message %q)", list.Suppressions, msg)
	}
	r = h.call(admin, "DELETE", "/api/v1/suppressions/"+list.Suppressions[0].ID, nil).expect(t, http.StatusInternalServerError)
	if code, msg := r.apiError(t); code != api.CodeRulesNotApplied || !strings.Contains(msg, "was deleted") {
		t.Errorf("%s: %s", code, msg)
	}
	h.call(readOnly, "GET", "/api/v1/suppressions/"+list.Suppressions[0].ID, nil).expect(t, http.StatusNotFound)
}

// TestSuppressionInvalid: each mistake is refused with 400 naming it, and
// nothing is stored.
func TestSuppressionInvalid(t *testing.T) {
	h := newHarness(t)
	good := func() map[string]any { return suppressCVE("n", "CVE-2023-45853") }
	with := func(k string, v any) map[string]any {
		b := good()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	cases := []struct {
		body any
		want string
	}{
		{with("name", nil), "name"},
		{with("reason", nil), "reason"},
		{with("reason", strings.Repeat("x", 513)), "reason"},
		{with("filterCriteria", nil), "filterCriteria"},
		{with("filterCriteria", map[string]any{}), "filterCriteria"},
		{with("filterCriteria", map[string]any{"severity": []any{}}), "filterCriteria"},
		{with("action", "NONE"), "action"},
		{with("expiresAt", "2020-01-01T00:00:00Z"), "expiresAt"},
		{with("expiresAt", "next week"), "expiresAt"},
		{with("filterCriteria", map[string]any{"severity": []any{sf("EQ", "HIGH")}}), "filterCriteria.severity[0].comparison"},
		{with("filterCriteria", map[string]any{"severity": []any{sf("EQUALS", "high")}}), "filterCriteria.severity[0].value"},
		{with("filterCriteria", map[string]any{"title": []any{sf("EQUALS", "")}}), "filterCriteria.title[0].value"},
		{with("filterCriteria", map[string]any{"vulnerablePackages": []any{map[string]any{}}}), "filterCriteria.vulnerablePackages[0]"},
		{with("filterCriteria", map[string]any{"inspectorScore": []any{map[string]float64{"lowerInclusive": 8, "upperInclusive": 7}}}), "filterCriteria.inspectorScore[0]"},
		{with("filterCriteria", map[string]any{"epssScore": []any{map[string]float64{"upperInclusive": 2}}}), "filterCriteria.epssScore[0]"},
		{with("filterCriteria", map[string]any{"firstObservedAt": []any{map[string]any{}}}), "filterCriteria.firstObservedAt[0]"},
		{with("filterCriteria", map[string]any{"severty": []any{sf("EQUALS", "HIGH")}}), `"severty"`},
	}
	for _, c := range cases {
		r := h.call(admin, "POST", "/api/v1/suppressions", c.body).expect(t, http.StatusBadRequest)
		if code, msg := r.apiError(t); code != api.CodeBadRequest || !strings.Contains(msg, c.want) {
			t.Errorf("%v: %s %q does not name %s", c.body, code, msg, c.want)
		}
	}
	var list struct{ Suppressions []rule }
	h.call(readOnly, "GET", "/api/v1/suppressions", nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Suppressions) != 0 || h.Rules.RuleApplications() != 0 {
		t.Errorf("invalid requests stored %d rules, applied rules %d times", len(list.Suppressions), h.Rules.RuleApplications())
	}
}
