package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/store"
)

// Inspector's bounds on a filter's texts, as the API applies them.
const (
	maxName        = 128
	maxReason      = 512
	maxDescription = 512
)

// ruleRow is a suppression rule in the list.
type ruleRow struct {
	store.Rule
	Criteria []string
	Expired  bool
}

type suppressionsView struct {
	Rules []ruleRow
}

func (c *console) suppressions(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rules, err := c.opts.Store.Rules(r.Context())
	if err != nil {
		return err
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].CreatedAt.After(rules[j].CreatedAt) })
	v := suppressionsView{}
	now := c.now()
	for _, rule := range rules {
		v.Rules = append(v.Rules, ruleRow{Rule: rule, Criteria: describeCriteria(rule.Filter),
			Expired: !rule.ExpiresAt.IsZero() && !rule.ExpiresAt.After(now)})
	}
	c.render(w, r, rc, http.StatusOK, "suppressions", "Suppression rules", "suppressions", v)
	return nil
}

type suppressionView struct {
	Rule     ruleRow
	JSON     string
	Counts   store.Counts
	Findings string // the link to the findings it suppresses
}

func (c *console) suppression(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	id := r.PathValue("id")
	rule, err := c.opts.Store.Rule(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("Suppression rule %q does not exist; it may have been deleted.", id))
	}
	if err != nil {
		return err
	}
	fc := rule.Filter
	fc.FindingStatus = []store.StringFilter{{Comparison: "EQUALS", Value: store.Suppressed}}
	counts, err := c.count(ctx, fc)
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rule.Filter, "", "  ") // plain data: cannot fail
	v := suppressionView{
		Rule: ruleRow{Rule: *rule, Criteria: describeCriteria(rule.Filter),
			Expired: !rule.ExpiresAt.IsZero() && !rule.ExpiresAt.After(c.now())},
		JSON: string(b), Counts: counts,
		Findings: "/findings?status=SUPPRESSED&rule=" + url.QueryEscape(rule.ID),
	}
	c.render(w, r, rc, http.StatusOK, "suppression", rule.Name, "suppressions", v)
	return nil
}

// newSuppressionView is the form that makes a rule of a filter.
type newSuppressionView struct {
	Filter   *findingFilter
	Criteria []string
	// Hidden are the filter's fields, carried by the form.
	Hidden url.Values
	// Matches is a sample of the findings the rule would suppress now;
	// Counts counts them all.
	Matches []findingRow
	Counts  store.Counts
	Form    suppressForm
}

func (c *console) newSuppression(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f := parseFilter(r.URL.Query(), "/findings")
	v, err := c.newSuppressionView(r.Context(), f, suppressForm{})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if len(f.Errors) > 0 {
		status = http.StatusBadRequest
	}
	c.render(w, r, rc, status, "suppression_new", "New suppression rule", "suppressions", v)
	return nil
}

func (c *console) newSuppressionView(ctx context.Context, f *findingFilter, form suppressForm) (*newSuppressionView, error) {
	v := &newSuppressionView{Filter: f, Form: form, Hidden: url.Values{}}
	if f.Rule != "" {
		rule, err := c.opts.Store.Rule(ctx, f.Rule)
		if errors.Is(err, store.ErrNotFound) {
			f.Errors = append(f.Errors, fmt.Sprintf("suppression rule %q not found", f.Rule))
		} else if err != nil {
			return nil, err
		} else {
			f.rule = rule
		}
	}
	if f.empty() && len(f.Errors) == 0 {
		f.Errors = append(f.Errors, "the filter selects every finding: narrow it (severity, package, vulnerability, repository, …) before making a rule of it")
	}
	v.Criteria = f.Describe()
	for k, vals := range f.values() {
		if k == "status" || k == "sort" || k == "order" {
			continue
		}
		v.Hidden[k] = vals
	}
	if v.Form.Name == "" && len(v.Criteria) > 0 {
		v.Form.Name = truncate("Suppress: "+strings.Join(v.Criteria, "; "), maxName)
	}
	if len(f.Errors) > 0 {
		return v, nil
	}
	fc := f.criteria(false)
	fc.FindingStatus = []store.StringFilter{{Comparison: "EQUALS", Value: store.Active}}
	found, _, err := c.opts.Store.ListFindings(ctx, store.FindingQuery{Filter: fc, Limit: 10})
	if errors.Is(err, store.ErrInvalid) {
		f.Errors = append(f.Errors, invalidMessage(err))
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	for _, fd := range found {
		v.Matches = append(v.Matches, rowOf(fd))
	}
	if v.Counts, err = c.count(ctx, fc); err != nil {
		return nil, err
	}
	return v, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// createSuppression makes a rule from a finding (from=finding) or from a
// filter (from=filter), then re-applies the rules so that the findings it
// matches are SUPPRESSED when the next page loads.
func (c *console) createSuppression(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	form := suppressForm{
		Scope: r.PostFormValue("scope"), Name: strings.TrimSpace(r.PostFormValue("name")),
		Reason: strings.TrimSpace(r.PostFormValue("reason")), Description: strings.TrimSpace(r.PostFormValue("description")),
		Expires: strings.TrimSpace(r.PostFormValue("expires")),
	}
	var fc store.FilterCriteria
	var back string
	// again shows the form once more, with what was wrong.
	var again func(status int, msg string) error
	switch r.PostFormValue("from") {
	case "finding":
		v, err := c.findingView(ctx, r.PostFormValue("finding"))
		if err != nil {
			return err
		}
		back = findingURL(v.F.ID)
		again = func(status int, msg string) error {
			form.Error = msg
			v.Form = form
			c.render(w, r, rc, status, "finding", v.F.VulnerabilityID+" in "+v.F.PackageName, "findings", v)
			return nil
		}
		var err2 error
		if fc, err2 = findingCriteria(v, form.Scope); err2 != nil {
			return again(http.StatusBadRequest, err2.Error())
		}
	case "filter":
		q := url.Values{}
		for _, k := range filterParams {
			if vals, ok := r.PostForm[k]; ok {
				q[k] = vals
			}
		}
		f := parseFilter(q, "/findings")
		again = func(status int, msg string) error {
			form.Error = msg
			v, err := c.newSuppressionView(ctx, f, form)
			if err != nil {
				return err
			}
			c.render(w, r, rc, status, "suppression_new", "New suppression rule", "suppressions", v)
			return nil
		}
		if f.Rule != "" {
			rule, err := c.opts.Store.Rule(ctx, f.Rule)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			f.rule = rule
		}
		if len(f.Errors) > 0 || f.empty() {
			return again(http.StatusBadRequest, "Fix the filter first.")
		}
		fc = f.criteria(false)
	default:
		return badRequest("The form does not say what to suppress (from=finding or from=filter).")
	}
	rule := store.Rule{
		ID: randomHex(16), Name: form.Name, Action: "SUPPRESS", Reason: form.Reason, Description: form.Description,
		Filter: fc, CreatedAt: c.now(), CreatedBy: rc.principal.Name,
	}
	for _, t := range []struct {
		field, v string
		max      int
		required bool
	}{{"Name", form.Name, maxName, true}, {"Reason", form.Reason, maxReason, true}, {"Description", form.Description, maxDescription, false}} {
		switch {
		case t.required && t.v == "":
			return again(http.StatusBadRequest, t.field+" is required.")
		case !utf8.ValidString(t.v):
			return again(http.StatusBadRequest, t.field+" is not valid text.")
		case utf8.RuneCountInString(t.v) > t.max:
			return again(http.StatusBadRequest, fmt.Sprintf("%s is longer than %d characters.", t.field, t.max))
		}
	}
	if form.Expires != "" {
		exp, err := parseExpiry(form.Expires)
		if err != nil {
			return again(http.StatusBadRequest, err.Error())
		}
		if !exp.After(c.now()) {
			return again(http.StatusBadRequest, "The expiry date must be in the future.")
		}
		rule.ExpiresAt = exp
	}
	err := c.opts.Store.CreateRule(ctx, rule)
	if errors.Is(err, store.ErrConflict) {
		return again(http.StatusConflict, fmt.Sprintf("A suppression rule named “%s” already exists; choose another name.", rule.Name))
	}
	if errors.Is(err, store.ErrInvalid) {
		return again(http.StatusBadRequest, invalidMessage(err))
	}
	if err != nil {
		return err
	}
	if err := c.applyRules(ctx, "created", rule.ID); err != nil {
		return err
	}
	if back == "" {
		back = "/suppressions/" + url.PathEscape(rule.ID)
	}
	redirect(w, r, back, "suppression-created")
	return nil
}

// findingCriteria is the filter a rule made from a finding uses, by the
// scope chosen.
func findingCriteria(v *findingView, scope string) (store.FilterCriteria, error) {
	eq := func(s string) []store.StringFilter { return []store.StringFilter{{Comparison: "EQUALS", Value: s}} }
	f := v.F
	switch scope {
	case "finding":
		return store.FilterCriteria{FindingArn: eq(v.ARN)}, nil
	case "image":
		return store.FilterCriteria{VulnerabilityID: eq(f.VulnerabilityID), EcrImageRepositoryName: eq(f.Repository), EcrImageHash: eq(f.ImageDigest)}, nil
	case "repository":
		return store.FilterCriteria{VulnerabilityID: eq(f.VulnerabilityID), EcrImageRepositoryName: eq(f.Repository)}, nil
	case "package":
		return store.FilterCriteria{VulnerabilityID: eq(f.VulnerabilityID),
			VulnerablePackages: []store.PackageFilter{{Name: &store.StringFilter{Comparison: "EQUALS", Value: f.PackageName}}}}, nil
	case "vulnerability":
		return store.FilterCriteria{VulnerabilityID: eq(f.VulnerabilityID)}, nil
	}
	//lint:ignore ST1005 the console shows this message to the user as a sentence
	return store.FilterCriteria{}, fmt.Errorf("Choose what to suppress.")
}

// parseExpiry reads a date (the end of it is not meant: a rule expiring
// on a day stops at its start, UTC) or an RFC 3339 time.
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	//lint:ignore ST1005 the console shows this message to the user as a sentence
	return time.Time{}, fmt.Errorf("The expiry %q is not a date (2026-12-31).", s)
}

func (c *console) applyRules(ctx context.Context, done, id string) error {
	if c.opts.ApplyRules == nil {
		return nil
	}
	if err := c.opts.ApplyRules(ctx); err != nil {
		c.opts.Log.Error("web: applying suppression rules failed", "rule", id, "err", err)
		return &pageError{status: http.StatusInternalServerError, title: "Rule " + done + ", findings not updated",
			msg: "The suppression rule was " + done + ", but applying the rules to existing findings failed (the server log has the details). " +
				"Scans apply it from now on; a rescan or the next rule change brings existing findings in line."}
	}
	return nil
}

func (c *console) deleteSuppression(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	ctx := r.Context()
	id := r.PathValue("id")
	err := c.opts.Store.DeleteRule(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("Suppression rule %q does not exist; it may have been deleted already.", id))
	}
	if err != nil {
		return err
	}
	if err := c.applyRules(ctx, "deleted", id); err != nil {
		return err
	}
	back := localPath(r.PostFormValue("back"))
	if back == "/" {
		back = "/suppressions"
	}
	redirect(w, r, back, "suppression-deleted")
	return nil
}
