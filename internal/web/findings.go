package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/store"
)

// pageSize is how many findings, images or deliveries a page shows.
const pageSize = 50

// findingRow is one finding of a list, with what its document adds.
type findingRow struct {
	store.Finding
	FixedIn string
	Tags    []string
}

func rowOf(f store.Finding) findingRow {
	row := findingRow{Finding: f}
	var doc report.InspectorFinding
	if json.Unmarshal(f.Data, &doc) == nil {
		if ps := doc.PackageVulnerabilityDetails.VulnerablePackages; len(ps) > 0 && ps[0].FixedInVersion != "NotAvailable" {
			row.FixedIn = ps[0].FixedInVersion
		}
		if len(doc.Resources) > 0 {
			row.Tags = doc.Resources[0].Details.AWSECRContainerImage.ImageTags
		}
	}
	return row
}

// findingList is a page of findings under a filter.
type findingList struct {
	Filter *findingFilter
	Rows   []findingRow
	Next   string
	// Counts are the counts of every finding the filter selects, by
	// severity.
	Counts store.Counts
	// ShowImage is false on an image's page, where every row is of it.
	ShowImage bool
}

// listFindings reads one page of findings for a filter. Problems with
// the filter (including those the store finds, such as a stale page
// token) are added to the filter's Errors, not returned.
func (c *console) listFindings(ctx context.Context, f *findingFilter) (*findingList, error) {
	l := &findingList{Filter: f, ShowImage: !f.scoped["digest"]}
	if f.Rule != "" {
		rule, err := c.opts.Store.Rule(ctx, f.Rule)
		switch {
		case errors.Is(err, store.ErrNotFound):
			f.Errors = append(f.Errors, fmt.Sprintf("suppression rule %q not found", f.Rule))
		case err != nil:
			return nil, err
		default:
			f.rule = rule
		}
	}
	if len(f.Errors) > 0 {
		return l, nil
	}
	q := store.FindingQuery{Filter: f.criteria(true), SortField: f.Sort, SortOrder: f.Order, Limit: pageSize, Next: f.Next}
	found, next, err := c.opts.Store.ListFindings(ctx, q)
	if errors.Is(err, store.ErrInvalid) {
		f.Errors = append(f.Errors, invalidMessage(err))
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	l.Next = next
	for _, fd := range found {
		l.Rows = append(l.Rows, rowOf(fd))
	}
	if l.Counts, err = c.count(ctx, q.Filter); err != nil {
		return nil, err
	}
	return l, nil
}

// count counts the findings criteria select by severity. Aggregations
// count only ACTIVE findings unless told a status: with none in the
// criteria every status is asked for.
func (c *console) count(ctx context.Context, fc store.FilterCriteria) (store.Counts, error) {
	if len(fc.FindingStatus) == 0 {
		for _, s := range filterStatuses {
			fc.FindingStatus = append(fc.FindingStatus, store.StringFilter{Comparison: "EQUALS", Value: s})
		}
	}
	aggs, _, err := c.opts.Store.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggType, Filter: fc, Limit: 1})
	if err != nil || len(aggs) == 0 {
		return store.Counts{}, err
	}
	return aggs[0].Counts, nil
}

func (c *console) findings(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f := parseFilter(r.URL.Query(), "/findings")
	l, err := c.listFindings(r.Context(), f)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if len(f.Errors) > 0 {
		status = http.StatusBadRequest
	}
	c.render(w, r, rc, status, "findings", "Findings", "findings", l)
	return nil
}

var findingID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// findingView is a finding's page.
type findingView struct {
	F     *store.Finding
	Doc   report.InspectorFinding
	Pkg   report.VulnerablePackage
	Image *store.Image
	// Tab is the tab shown first: details, score or json.
	Tab  string
	Rule *store.Rule
	// Base is the CVSS entry the score started from, and its metrics.
	Base    *report.InspectorCVSS
	Metrics []cvssMetric
	// KEV says CISA lists it as exploited.
	KEV bool
	// Others are the same vulnerability's active findings in other
	// images.
	Others []findingRow
	Form   suppressForm
	ARN    string
}

// suppressForm is the form that suppresses a finding, as filled in.
type suppressForm struct {
	Scope, Name, Reason, Description, Expires string
	Error                                     string
}

func (c *console) finding(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	v, err := c.findingView(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	switch tab := r.URL.Query().Get("tab"); tab {
	case "score", "json":
		v.Tab = tab
	}
	c.render(w, r, rc, http.StatusOK, "finding", v.F.VulnerabilityID+" in "+v.F.PackageName, "findings", v)
	return nil
}

func (c *console) findingView(ctx context.Context, id string) (*findingView, error) {
	if !findingID.MatchString(id) {
		return nil, notFound(fmt.Sprintf("%q is not a finding id (32 hex digits).", id))
	}
	f, err := c.opts.Store.Finding(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Finding " + id + " does not exist (or its image was deleted long ago).")
	}
	if err != nil {
		return nil, err
	}
	v := &findingView{F: f, Tab: "details", ARN: c.findingARN(f.ID)}
	if err := json.Unmarshal(f.Data, &v.Doc); err != nil {
		return nil, fmt.Errorf("web: finding %s: %w", id, err)
	}
	if ps := v.Doc.PackageVulnerabilityDetails.VulnerablePackages; len(ps) > 0 {
		v.Pkg = ps[0]
	}
	if im, err := c.opts.Store.Image(ctx, f.Repository, f.ImageDigest); err == nil {
		v.Image = im
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if f.SuppressedBy != "" {
		if rule, err := c.opts.Store.Rule(ctx, f.SuppressedBy); err == nil {
			v.Rule = rule
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if d := v.Doc.InspectorScoreDetails; d != nil {
		for i, cv := range v.Doc.PackageVulnerabilityDetails.CVSS {
			if cv.ScoringVector == d.AdjustedCVSS.ScoringVector {
				v.Base = &v.Doc.PackageVulnerabilityDetails.CVSS[i]
				break
			}
		}
		v.Metrics = parseVector(d.AdjustedCVSS.ScoringVector)
		for _, a := range d.AdjustedCVSS.Adjustments {
			v.KEV = v.KEV || a.Metric == score.MetricKEV
		}
	}
	v.KEV = v.KEV || f.ExploitAvailable == "YES"
	others, _, err := c.opts.Store.ListFindings(ctx, store.FindingQuery{
		Filter: store.FilterCriteria{
			VulnerabilityID: []store.StringFilter{{Comparison: "EQUALS", Value: f.VulnerabilityID}},
			EcrImageHash:    []store.StringFilter{{Comparison: "NOT_EQUALS", Value: f.ImageDigest}},
			FindingStatus:   []store.StringFilter{{Comparison: "EQUALS", Value: store.Active}},
		},
		SortField: "ECR_IMAGE_PUSHED_AT", Limit: 10,
	})
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		v.Others = append(v.Others, rowOf(o))
	}
	v.Form = suppressForm{Scope: "finding", Name: defaultRuleName(f)}
	return v, nil
}

func (c *console) findingARN(id string) string {
	return "arn:aws:inspector2:" + c.opts.Region + ":" + c.opts.Account + ":finding/" + id
}

func defaultRuleName(f *store.Finding) string {
	name := "Suppress " + f.VulnerabilityID + " in " + f.PackageName + " (" + f.Repository + ")"
	if len(name) > 128 {
		name = name[:128]
	}
	return name
}

// cvssMetric is one metric of a CVSS vector, in words.
type cvssMetric struct {
	Key, Name, Value, Raw string
}

// The metrics of CVSS v3 and v4 base vectors, and of v2, in words.
var (
	cvssNames = map[string]string{
		"AV": "Attack vector", "AC": "Attack complexity", "AT": "Attack requirements", "PR": "Privileges required",
		"UI": "User interaction", "S": "Scope", "C": "Confidentiality", "I": "Integrity", "A": "Availability",
		"VC": "Confidentiality (vulnerable system)", "VI": "Integrity (vulnerable system)", "VA": "Availability (vulnerable system)",
		"SC": "Confidentiality (subsequent systems)", "SI": "Integrity (subsequent systems)", "SA": "Availability (subsequent systems)",
		"Au": "Authentication", "E": "Exploit maturity", "RL": "Remediation level", "RC": "Report confidence",
	}
	cvssValues = map[string]map[string]string{
		"AV": {"N": "Network", "A": "Adjacent", "L": "Local", "P": "Physical"},
		"AC": {"L": "Low", "H": "High", "M": "Medium"},
		"AT": {"N": "None", "P": "Present"},
		"PR": {"N": "None", "L": "Low", "H": "High"},
		"UI": {"N": "None", "R": "Required", "P": "Passive", "A": "Active"},
		"S":  {"U": "Unchanged", "C": "Changed"},
		"Au": {"N": "None", "S": "Single", "M": "Multiple"},
	}
	impact = map[string]string{"N": "None", "L": "Low", "H": "High", "P": "Partial", "C": "Complete"}
)

// parseVector splits a CVSS vector into its metrics, in words where
// they are known.
func parseVector(v string) []cvssMetric {
	var out []cvssMetric
	for _, part := range strings.Split(v, "/") {
		k, val, ok := strings.Cut(part, ":")
		if !ok || k == "CVSS" {
			continue
		}
		m := cvssMetric{Key: k, Name: cvssNames[k], Value: val, Raw: part}
		if m.Name == "" {
			m.Name = k
		}
		if words, ok := cvssValues[k]; ok && words[val] != "" {
			m.Value = words[val]
		} else if w := impact[val]; w != "" && strings.ContainsAny(k[:1], "CIAVS") {
			m.Value = w
		}
		out = append(out, m)
	}
	return out
}
