package web

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/store"
)

// The values the findings filter accepts, as the API's.
var (
	filterStatuses = []string{store.Active, store.Suppressed, store.Closed}
	fixStates      = []string{"YES", "NO", "PARTIAL"}
	yesNo          = []string{"YES", "NO"}
	sortFields     = []string{"SEVERITY", "INSPECTOR_SCORE", "EPSS_SCORE", "FIRST_OBSERVED_AT", "LAST_OBSERVED_AT",
		"FINDING_STATUS", "ECR_IMAGE_PUSHED_AT", "ECR_IMAGE_REPOSITORY_NAME", "VULNERABILITY_ID"}
	digestRE = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)
)

// statusAll asks for findings of every status; without a status the
// console shows ACTIVE ones, as Inspector's does.
const statusAll = "ALL"

// findingFilter is the findings filter of a page's query string. Each
// text field is an EQUALS filter, or a PREFIX filter when it ends in "*".
type findingFilter struct {
	Severity   []string
	Status     string
	Fix        string
	Exploit    string
	Package    string
	Vuln       string
	Layer      string
	Repository string
	Tag        string
	Digest     string
	// Rule names a suppression rule whose criteria are used instead of
	// the fields above (with Status still applying).
	Rule        string
	rule        *store.Rule
	Sort, Order string
	Next        string
	// Errors are what is wrong with the query, in words.
	Errors []string
	// base is the page the filter's links point at; scoped fields are
	// fixed by that page (an image's repository and digest) and left out
	// of its links.
	base   string
	scoped map[string]bool
}

// filterParams are the query parameters of the filter, in the order of
// its links.
var filterParams = []string{"severity", "status", "fix", "exploit", "package", "vuln", "layer", "repository", "tag", "digest", "rule", "sort", "order"}

func parseFilter(q url.Values, base string) *findingFilter {
	f := &findingFilter{base: base, scoped: map[string]bool{}}
	one := func(k string) string {
		vs := q[k]
		if len(vs) > 1 {
			f.Errors = append(f.Errors, fmt.Sprintf("%s is given %d times; give it once", k, len(vs)))
		}
		if len(vs) == 0 {
			return ""
		}
		v := strings.TrimSpace(vs[0])
		if !utf8.ValidString(v) || len(v) > 256 {
			f.Errors = append(f.Errors, fmt.Sprintf("%s is not valid text of at most 256 bytes", k))
			return ""
		}
		return v
	}
	for _, s := range q["severity"] {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if !contains(severityOrder, s) {
			f.Errors = append(f.Errors, fmt.Sprintf("severity %q is not one of %s", s, strings.Join(severityOrder, ", ")))
			continue
		}
		if !contains(f.Severity, s) {
			f.Severity = append(f.Severity, s)
		}
	}
	enum := func(k string, allowed []string) string {
		v := strings.ToUpper(one(k))
		if v != "" && !contains(allowed, v) {
			f.Errors = append(f.Errors, fmt.Sprintf("%s %q is not one of %s", k, v, strings.Join(allowed, ", ")))
			return ""
		}
		return v
	}
	f.Status = enum("status", append([]string{statusAll}, filterStatuses...))
	f.Fix = enum("fix", fixStates)
	f.Exploit = enum("exploit", yesNo)
	f.Package = one("package")
	f.Vuln = one("vuln")
	f.Layer = one("layer")
	f.Repository = one("repository")
	f.Tag = one("tag")
	f.Digest = one("digest")
	f.Rule = one("rule")
	for _, t := range []struct{ name, v string }{{"package", f.Package}, {"vuln", f.Vuln}, {"layer", f.Layer}, {"repository", f.Repository}, {"tag", f.Tag}} {
		if t.v == "*" {
			f.Errors = append(f.Errors, fmt.Sprintf("%s: a pattern needs text before its *", t.name))
		}
	}
	if f.Digest != "" && !digestRE.MatchString(f.Digest) {
		f.Errors = append(f.Errors, fmt.Sprintf("digest %q is not a digest (sha256:…)", f.Digest))
	}
	f.Sort = enum("sort", sortFields)
	f.Order = enum("order", []string{"ASC", "DESC"})
	f.Next = one("next")
	return f
}

// scope fixes fields for a page (the image page's repository and digest).
func (f *findingFilter) scope(repository, digest string) {
	f.Repository, f.Digest = repository, digest
	f.scoped["repository"], f.scoped["digest"] = true, true
}

func textFilter(v string) []store.StringFilter {
	if v == "" {
		return nil
	}
	if p, ok := strings.CutSuffix(v, "*"); ok && p != "" {
		return []store.StringFilter{{Comparison: "PREFIX", Value: p}}
	}
	return []store.StringFilter{{Comparison: "EQUALS", Value: v}}
}

func textPtr(v string) *store.StringFilter {
	if fs := textFilter(v); fs != nil {
		return &fs[0]
	}
	return nil
}

// criteria is the filter as Inspector's FilterCriteria. withStatus adds
// the status filter (ACTIVE unless another status or ALL is asked for);
// a suppression rule made from a filter leaves it out, since the rule
// itself changes findings' status.
func (f *findingFilter) criteria(withStatus bool) store.FilterCriteria {
	var fc store.FilterCriteria
	if f.rule != nil {
		fc = f.rule.Filter
		fc.FindingStatus = nil
	} else {
		for _, s := range f.Severity {
			fc.Severity = append(fc.Severity, store.StringFilter{Comparison: "EQUALS", Value: s})
		}
		if f.Fix != "" {
			fc.FixAvailable = []store.StringFilter{{Comparison: "EQUALS", Value: f.Fix}}
		}
		if f.Exploit != "" {
			fc.ExploitAvailable = []store.StringFilter{{Comparison: "EQUALS", Value: f.Exploit}}
		}
		fc.VulnerabilityID = textFilter(f.Vuln)
		fc.EcrImageRepositoryName = textFilter(f.Repository)
		fc.EcrImageTags = textFilter(f.Tag)
		if f.Digest != "" {
			fc.EcrImageHash = []store.StringFilter{{Comparison: "EQUALS", Value: f.Digest}}
		}
		if f.Package != "" || f.Layer != "" {
			fc.VulnerablePackages = []store.PackageFilter{{Name: textPtr(f.Package), SourceLayerHash: textPtr(f.Layer)}}
		}
	}
	if withStatus {
		switch f.Status {
		case statusAll:
		case "":
			fc.FindingStatus = []store.StringFilter{{Comparison: "EQUALS", Value: store.Active}}
		default:
			fc.FindingStatus = []store.StringFilter{{Comparison: "EQUALS", Value: f.Status}}
		}
	}
	return fc
}

// empty reports whether the filter selects findings by nothing but their
// status.
func (f *findingFilter) empty() bool {
	return f.rule == nil && len(f.Severity) == 0 && f.Fix == "" && f.Exploit == "" && f.Package == "" && f.Vuln == "" &&
		f.Layer == "" && f.Repository == "" && f.Tag == "" && f.Digest == ""
}

// values is the filter's query, without the page token and scoped fields.
func (f *findingFilter) values() url.Values {
	v := url.Values{}
	for _, s := range f.Severity {
		v.Add("severity", s)
	}
	set := func(k, val string) {
		if val != "" && !f.scoped[k] {
			v.Set(k, val)
		}
	}
	set("status", f.Status)
	set("fix", f.Fix)
	set("exploit", f.Exploit)
	set("package", f.Package)
	set("vuln", f.Vuln)
	set("layer", f.Layer)
	set("repository", f.Repository)
	set("tag", f.Tag)
	set("digest", f.Digest)
	set("rule", f.Rule)
	set("sort", f.Sort)
	set("order", f.Order)
	return v
}

func (f *findingFilter) link(v url.Values) string {
	if len(v) == 0 {
		return f.base
	}
	return f.base + "?" + encodeOrdered(v)
}

// encodeOrdered encodes a query in filterParams order, so that links are
// stable and readable.
func encodeOrdered(v url.Values) string {
	var parts []string
	seen := map[string]bool{}
	keys := append([]string(nil), filterParams...)
	var rest []string
	for k := range v {
		if !contains(filterParams, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(keys, rest...) {
		if seen[k] {
			continue
		}
		seen[k] = true
		for _, val := range v[k] {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(val))
		}
	}
	return strings.Join(parts, "&")
}

// URL is the filter's own page (its first page).
func (f *findingFilter) URL() string { return f.link(f.values()) }

// With is the filter's page with one parameter changed ("" removes it).
func (f *findingFilter) With(k, val string) string {
	v := f.values()
	v.Del(k)
	if val != "" {
		v.Set(k, val)
	}
	return f.link(v)
}

// NextURL is the page after this one.
func (f *findingFilter) NextURL(next string) string {
	v := f.values()
	v.Set("next", next)
	return f.link(v)
}

// SortURL sorts by a field: descending first, ascending when already
// sorted descending by it.
func (f *findingFilter) SortURL(field string) string {
	v := f.values()
	order := "DESC"
	if f.sortField() == field && f.sortOrder() == "DESC" {
		order = "ASC"
	}
	v.Set("sort", field)
	v.Set("order", order)
	return f.link(v)
}

// SortMark is the arrow of the column the findings are sorted by.
func (f *findingFilter) SortMark(field string) string {
	if f.sortField() != field {
		return ""
	}
	if f.sortOrder() == "ASC" {
		return "▲"
	}
	return "▼"
}

// AriaSort is the column's aria-sort value.
func (f *findingFilter) AriaSort(field string) string {
	if f.sortField() != field {
		return "none"
	}
	if f.sortOrder() == "ASC" {
		return "ascending"
	}
	return "descending"
}

func (f *findingFilter) sortField() string {
	if f.Sort == "" {
		return "SEVERITY"
	}
	return f.Sort
}

func (f *findingFilter) sortOrder() string {
	if f.Order == "" {
		return "DESC"
	}
	return f.Order
}

// SuppressURL is the page that makes a suppression rule of the filter,
// with the scoped fields in it.
func (f *findingFilter) SuppressURL() string {
	v := f.values()
	for k := range f.scoped {
		switch k {
		case "repository":
			v.Set(k, f.Repository)
		case "digest":
			v.Set(k, f.Digest)
		}
	}
	v.Del("status")
	v.Del("sort")
	v.Del("order")
	return "/suppressions/new?" + encodeOrdered(v)
}

// Base is the page the filter is on (the form's action).
func (f *findingFilter) Base() string { return f.base }

// Clear is the page without filters.
func (f *findingFilter) Clear() string { return f.base }

// Scoped says whether the page fixes a field (the form leaves it out).
func (f *findingFilter) Scoped(k string) bool { return f.scoped[k] }

// Empty says whether the filter selects by status only.
func (f *findingFilter) Empty() bool { return f.empty() }

// HasSeverity is for the form's checkboxes.
func (f *findingFilter) HasSeverity(s string) bool { return contains(f.Severity, s) }

// StatusValue is the status the form shows selected.
func (f *findingFilter) StatusValue() string {
	if f.Status == "" {
		return store.Active
	}
	return f.Status
}

// Active says whether the filter narrows findings beyond the page's
// default (for the "clear filters" link).
func (f *findingFilter) Active() bool {
	g := *f
	if f.scoped["repository"] {
		g.Repository = ""
	}
	if f.scoped["digest"] {
		g.Digest = ""
	}
	return !g.empty() || f.Status != "" || f.Sort != ""
}

// RuleName is the name of the rule the filter uses, if any.
func (f *findingFilter) RuleName() string {
	if f.rule == nil {
		return ""
	}
	return f.rule.Name
}

// Describe says in words what the filter selects, one criterion a line.
func (f *findingFilter) Describe() []string {
	return describeCriteria(f.criteria(false))
}

// describeCriteria says in words what filter criteria select.
func describeCriteria(fc store.FilterCriteria) []string {
	var out []string
	strs := []struct {
		name string
		fs   []store.StringFilter
	}{
		{"Finding ARN", fc.FindingArn}, {"Repository", fc.EcrImageRepositoryName}, {"Image tag", fc.EcrImageTags},
		{"Image digest", fc.EcrImageHash}, {"Severity", fc.Severity}, {"Status", fc.FindingStatus},
		{"Fix available", fc.FixAvailable}, {"Known exploited", fc.ExploitAvailable},
		{"Vulnerability", fc.VulnerabilityID}, {"Title", fc.Title},
	}
	for _, s := range strs {
		if len(s.fs) > 0 {
			out = append(out, s.name+" "+describeStrings(s.fs))
		}
	}
	for _, p := range fc.VulnerablePackages {
		var parts []string
		for _, part := range []struct {
			name string
			f    *store.StringFilter
		}{{"name", p.Name}, {"version", p.Version}, {"file", p.FilePath}, {"layer", p.SourceLayerHash}} {
			if part.f != nil {
				parts = append(parts, part.name+" "+describeStrings([]store.StringFilter{*part.f}))
			}
		}
		out = append(out, "Package "+strings.Join(parts, " and "))
	}
	nums := []struct {
		name string
		fs   []store.NumberFilter
	}{{"EPSS", fc.EpssScore}, {"Score", fc.InspectorScore}}
	for _, n := range nums {
		var parts []string
		for _, r := range n.fs {
			switch {
			case r.LowerInclusive != nil && r.UpperInclusive != nil:
				parts = append(parts, fmt.Sprintf("from %g to %g", *r.LowerInclusive, *r.UpperInclusive))
			case r.LowerInclusive != nil:
				parts = append(parts, fmt.Sprintf("at least %g", *r.LowerInclusive))
			case r.UpperInclusive != nil:
				parts = append(parts, fmt.Sprintf("at most %g", *r.UpperInclusive))
			}
		}
		if len(parts) > 0 {
			out = append(out, n.name+" "+strings.Join(parts, " or "))
		}
	}
	dates := []struct {
		name string
		fs   []store.DateFilter
	}{{"First observed", fc.FirstObservedAt}, {"Last observed", fc.LastObservedAt}, {"Updated", fc.UpdatedAt}, {"Image pushed", fc.EcrImagePushedAt}}
	for _, d := range dates {
		var parts []string
		for _, r := range d.fs {
			switch {
			case r.StartInclusive != nil && r.EndInclusive != nil:
				parts = append(parts, "from "+when(*r.StartInclusive)+" to "+when(*r.EndInclusive))
			case r.StartInclusive != nil:
				parts = append(parts, "since "+when(*r.StartInclusive))
			case r.EndInclusive != nil:
				parts = append(parts, "until "+when(*r.EndInclusive))
			}
		}
		if len(parts) > 0 {
			out = append(out, d.name+" "+strings.Join(parts, " or "))
		}
	}
	return out
}

func describeStrings(fs []store.StringFilter) string {
	var pos, neg []string
	for _, f := range fs {
		// A finding ARN is long and says one thing: which finding.
		if i := strings.Index(f.Value, ":finding/"); i >= 0 && strings.HasPrefix(f.Value, "arn:") && f.Comparison != "PREFIX" {
			f.Value = "…" + f.Value[i:]
		}
		switch f.Comparison {
		case "PREFIX":
			pos = append(pos, "starts with “"+f.Value+"”")
		case "NOT_EQUALS":
			neg = append(neg, "is not “"+f.Value+"”")
		default:
			pos = append(pos, "is “"+f.Value+"”")
		}
	}
	s := strings.Join(pos, " or ")
	if len(neg) > 0 {
		if s != "" {
			s += ", and "
		}
		s += strings.Join(neg, " and ")
	}
	return s
}
