package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

var (
	severities   = []string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNTRIAGED"}
	statuses     = []string{store.Active, store.Suppressed, store.Closed}
	fixStates    = []string{"YES", "NO", "PARTIAL"}
	exploitable  = []string{"YES", "NO"}
	comparisons  = []string{"EQUALS", "PREFIX", "NOT_EQUALS"}
	sortFields   = []string{"SEVERITY", "INSPECTOR_SCORE", "EPSS_SCORE", "FIRST_OBSERVED_AT", "LAST_OBSERVED_AT", "FINDING_STATUS", "ECR_IMAGE_PUSHED_AT", "ECR_IMAGE_REPOSITORY_NAME", "VULNERABILITY_ID"}
	sortOrders   = []string{"ASC", "DESC"}
	aggregations = []string{store.AggRepository, store.AggImage, store.AggLayer, store.AggPackage, store.AggTitle, store.AggVulnerability, store.AggType}
)

// maxFilters bounds the filters of one field, as Inspector bounds them
// (its limits are lower; Vigil's only guard the work a request causes).
const maxFilters = 100

// checkFilter validates filter criteria, naming the first bad criterion
// by its JSON path ("filterCriteria.severity[0].comparison"), so that a
// mistake is reported rather than silently matching nothing.
func checkFilter(fc *store.FilterCriteria) error {
	strs := []struct {
		name    string
		filters []store.StringFilter
		values  []string // nil: any value
	}{
		{"findingArn", fc.FindingArn, nil},
		{"ecrImageRepositoryName", fc.EcrImageRepositoryName, nil},
		{"ecrImageTags", fc.EcrImageTags, nil},
		{"ecrImageHash", fc.EcrImageHash, nil},
		{"severity", fc.Severity, severities},
		{"findingStatus", fc.FindingStatus, statuses},
		{"fixAvailable", fc.FixAvailable, fixStates},
		{"exploitAvailable", fc.ExploitAvailable, exploitable},
		{"vulnerabilityId", fc.VulnerabilityID, nil},
		{"title", fc.Title, nil},
	}
	for _, s := range strs {
		if err := countFilters(s.name, len(s.filters)); err != nil {
			return err
		}
		for i, f := range s.filters {
			if err := checkString(fmt.Sprintf("filterCriteria.%s[%d]", s.name, i), f, s.values); err != nil {
				return err
			}
		}
	}
	if err := countFilters("vulnerablePackages", len(fc.VulnerablePackages)); err != nil {
		return err
	}
	for i, p := range fc.VulnerablePackages {
		path := fmt.Sprintf("filterCriteria.vulnerablePackages[%d]", i)
		parts := []struct {
			name string
			f    *store.StringFilter
		}{{"name", p.Name}, {"version", p.Version}, {"filePath", p.FilePath}, {"sourceLayerHash", p.SourceLayerHash}}
		set := 0
		for _, part := range parts {
			if part.f == nil {
				continue
			}
			set++
			if err := checkString(path+"."+part.name, *part.f, nil); err != nil {
				return err
			}
		}
		if set == 0 {
			return badRequest("%s: set at least one of name, version, filePath and sourceLayerHash", path)
		}
	}
	nums := []struct {
		name    string
		filters []store.NumberFilter
		max     float64
	}{{"epssScore", fc.EpssScore, 1}, {"inspectorScore", fc.InspectorScore, 10}}
	for _, n := range nums {
		if err := countFilters(n.name, len(n.filters)); err != nil {
			return err
		}
		for i, f := range n.filters {
			path := fmt.Sprintf("filterCriteria.%s[%d]", n.name, i)
			lo, hi := f.LowerInclusive, f.UpperInclusive
			switch {
			case lo == nil && hi == nil:
				return badRequest("%s: set lowerInclusive, upperInclusive or both", path)
			case lo != nil && (*lo < 0 || *lo > n.max), hi != nil && (*hi < 0 || *hi > n.max):
				return badRequest("%s: bounds must be from 0 to %g", path, n.max)
			case lo != nil && hi != nil && *lo > *hi:
				return badRequest("%s: lowerInclusive %g is above upperInclusive %g", path, *lo, *hi)
			}
		}
	}
	dates := []struct {
		name    string
		filters []store.DateFilter
	}{
		{"firstObservedAt", fc.FirstObservedAt}, {"lastObservedAt", fc.LastObservedAt},
		{"updatedAt", fc.UpdatedAt}, {"ecrImagePushedAt", fc.EcrImagePushedAt},
	}
	for _, d := range dates {
		if err := countFilters(d.name, len(d.filters)); err != nil {
			return err
		}
		for i, f := range d.filters {
			path := fmt.Sprintf("filterCriteria.%s[%d]", d.name, i)
			switch {
			case f.StartInclusive == nil && f.EndInclusive == nil:
				return badRequest("%s: set startInclusive, endInclusive or both", path)
			case f.StartInclusive != nil && f.EndInclusive != nil && f.StartInclusive.After(*f.EndInclusive):
				return badRequest("%s: startInclusive is after endInclusive", path)
			}
		}
	}
	return nil
}

func countFilters(name string, n int) error {
	if n > maxFilters {
		return badRequest("filterCriteria.%s: %d filters; at most %d are allowed", name, n, maxFilters)
	}
	return nil
}

func checkString(path string, f store.StringFilter, values []string) error {
	if !oneOf(f.Comparison, comparisons) {
		return badRequest("%s.comparison: %q is not one of %v", path, f.Comparison, comparisons)
	}
	if f.Value == "" {
		return badRequest("%s.value: must not be empty", path)
	}
	if values != nil && f.Comparison != "PREFIX" && !oneOf(f.Value, values) {
		return badRequest("%s.value: %q is not one of %v", path, f.Value, values)
	}
	return nil
}

// emptyFilter reports whether the criteria select every finding.
func emptyFilter(fc *store.FilterCriteria) bool {
	b, _ := json.Marshal(fc) // plain data: cannot fail
	return string(b) == "{}"
}

type sortCriteria struct {
	Field     string `json:"field"`
	SortOrder string `json:"sortOrder"`
}

// listRequest is Inspector's ListFindings request.
type listRequest struct {
	FilterCriteria *store.FilterCriteria `json:"filterCriteria"`
	SortCriteria   *sortCriteria         `json:"sortCriteria"`
	MaxResults     int                   `json:"maxResults"`
	NextToken      string                `json:"nextToken"`
}

// findingPage is Inspector's ListFindings response: the findings are the
// stored Inspector finding documents, as they are.
type findingPage struct {
	Findings  []json.RawMessage `json:"findings"`
	NextToken string            `json:"nextToken,omitempty"`
}

func (h *handler) listFindings(w http.ResponseWriter, r *http.Request) error {
	var req listRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	q := store.FindingQuery{Limit: req.MaxResults, Next: req.NextToken}
	if req.FilterCriteria != nil {
		q.Filter = *req.FilterCriteria
	}
	if req.SortCriteria != nil {
		q.SortField, q.SortOrder = req.SortCriteria.Field, req.SortCriteria.SortOrder
		if q.SortField != "" && !oneOf(q.SortField, sortFields) {
			return badRequest("sortCriteria.field: %q is not one of %v", q.SortField, sortFields)
		}
		if q.SortOrder != "" && !oneOf(q.SortOrder, sortOrders) {
			return badRequest("sortCriteria.sortOrder: %q is not ASC or DESC", q.SortOrder)
		}
	}
	if err := checkMaxResults(req.MaxResults); err != nil {
		return err
	}
	return h.findings(w, r, q)
}

func checkMaxResults(n int) error {
	if n < 0 || n > 1000 {
		return badRequest("maxResults: %d is not from 1 to 1000", n)
	}
	return nil
}

func (h *handler) findings(w http.ResponseWriter, r *http.Request, q store.FindingQuery) error {
	if err := checkFilter(&q.Filter); err != nil {
		return err
	}
	found, next, err := h.opts.Store.ListFindings(r.Context(), q)
	if err != nil {
		return err
	}
	page := findingPage{Findings: make([]json.RawMessage, len(found)), NextToken: next}
	for i, f := range found {
		page.Findings[i] = findingJSON(f)
	}
	return writeJSON(w, http.StatusOK, page)
}

// findingsQuery is GET /findings: each parameter an EQUALS filter.
func (h *handler) findingsQuery(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"maxResults", "nextToken"}, "repository", "digest", "tag", "severity", "status", "vulnerabilityId")
	fq := store.FindingQuery{Limit: int(q.int("maxResults", 0, 1, 1000))}
	if q.err != nil {
		return q.err
	}
	fq.Next = q.get("nextToken")
	equals := func(k string) []store.StringFilter {
		var out []store.StringFilter
		for _, v := range q.v[k] {
			out = append(out, store.StringFilter{Comparison: "EQUALS", Value: v})
		}
		return out
	}
	fq.Filter = store.FilterCriteria{
		EcrImageRepositoryName: equals("repository"),
		EcrImageHash:           equals("digest"),
		EcrImageTags:           equals("tag"),
		Severity:               equals("severity"),
		FindingStatus:          equals("status"),
		VulnerabilityID:        equals("vulnerabilityId"),
	}
	return h.findings(w, r, fq)
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// getFinding answers for a finding id or its full ARN; an ARN of another
// account or region names no finding here.
func (h *handler) getFinding(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if strings.HasPrefix(id, "arn:") {
		prefix := "arn:aws:inspector2:" + h.opts.Region + ":" + h.opts.Account + ":finding/"
		rest, ok := strings.CutPrefix(id, prefix)
		if !ok || !hexID.MatchString(rest) {
			return errorf(http.StatusNotFound, "finding %s not found (finding ARNs here start with %s)", id, prefix)
		}
		id = rest
	} else if !hexID.MatchString(id) {
		return badRequest("%q is not a finding id (32 hex digits) or finding ARN", id)
	}
	f, err := h.opts.Store.Finding(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "finding %s not found", id)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(append(findingJSON(*f), '\n'))
	return err
}

// findingJSON is a stored finding's Inspector JSON, with notReachable
// added from the store when the JSON was written before it carried it, so
// that every answer says why a finding's code is not reachable, scored or
// not.
func findingJSON(f store.Finding) json.RawMessage {
	if f.NotReachable == "" {
		return f.Data
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(f.Data, &keys); err != nil {
		return f.Data
	}
	if _, ok := keys["notReachable"]; ok {
		return f.Data
	}
	why, _ := json.Marshal(f.NotReachable)
	rest := bytes.TrimSpace(f.Data)[1:] // after '{'
	out := append([]byte(`{"notReachable":`), why...)
	if len(bytes.TrimSpace(rest)) > 1 { // not just '}'
		out = append(out, ',')
	}
	return append(out, rest...)
}

type aggregateRequest struct {
	AggregationType string                `json:"aggregationType"`
	FilterCriteria  *store.FilterCriteria `json:"filterCriteria"`
	SortBy          string                `json:"sortBy"`
	MaxResults      int                   `json:"maxResults"`
	NextToken       string                `json:"nextToken"`
}

type aggregatePage struct {
	AggregationType string            `json:"aggregationType"`
	Responses       []store.Aggregate `json:"responses"`
	NextToken       string            `json:"nextToken,omitempty"`
}

func (h *handler) aggregateFindings(w http.ResponseWriter, r *http.Request) error {
	var req aggregateRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if !oneOf(req.AggregationType, aggregations) {
		return badRequest("aggregationType: %q is not one of %v", req.AggregationType, aggregations)
	}
	if err := checkMaxResults(req.MaxResults); err != nil {
		return err
	}
	q := store.AggregationQuery{Type: req.AggregationType, SortBy: req.SortBy, Limit: req.MaxResults, Next: req.NextToken}
	if req.FilterCriteria != nil {
		q.Filter = *req.FilterCriteria
	}
	if err := checkFilter(&q.Filter); err != nil {
		return err
	}
	aggs, next, err := h.opts.Store.AggregateFindings(r.Context(), q)
	if err != nil {
		return err
	}
	if aggs == nil {
		aggs = []store.Aggregate{}
	}
	return writeJSON(w, http.StatusOK, aggregatePage{AggregationType: q.Type, Responses: aggs, NextToken: next})
}
