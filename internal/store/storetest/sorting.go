package storetest

import (
	"cmp"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

var rank = map[string]int{"CRITICAL": 6, "HIGH": 5, "MEDIUM": 4, "LOW": 3, "INFORMATIONAL": 2, "UNTRIAGED": 1}

func orMinus1(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// compareBy orders two findings by a sort field, ascending, ties by id.
func (fx *fixture) compareBy(field string) func(a, b store.Finding) int {
	var by func(f store.Finding) func(g store.Finding) int
	switch field {
	case "SEVERITY", "":
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return cmp.Compare(rank[f.Severity], rank[g.Severity]) }
		}
	case "INSPECTOR_SCORE":
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return cmp.Compare(orMinus1(f.Score), orMinus1(g.Score)) }
		}
	case "EPSS_SCORE":
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return cmp.Compare(orMinus1(f.EPSS), orMinus1(g.EPSS)) }
		}
	case "FIRST_OBSERVED_AT":
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return f.FirstObservedAt.Compare(g.FirstObservedAt) }
		}
	case "LAST_OBSERVED_AT":
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return f.LastObservedAt.Compare(g.LastObservedAt) }
		}
	case "FINDING_STATUS":
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return cmp.Compare(f.Status, g.Status) }
		}
	case "ECR_IMAGE_PUSHED_AT":
		// A deleted image has no push time and sorts as the oldest.
		pushed := func(f store.Finding) time.Time { return fx.ctx[key(f.Repository, f.ImageDigest)].PushedAt }
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return pushed(f).Compare(pushed(g)) }
		}
	case "ECR_IMAGE_REPOSITORY_NAME":
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return cmp.Compare(f.Repository, g.Repository) }
		}
	case "VULNERABILITY_ID":
		by = func(f store.Finding) func(store.Finding) int {
			return func(g store.Finding) int { return cmp.Compare(f.VulnerabilityID, g.VulnerabilityID) }
		}
	default:
		panic(field)
	}
	return func(a, b store.Finding) int {
		if c := by(a)(b); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	}
}

var sortFields = []string{
	"SEVERITY", "INSPECTOR_SCORE", "EPSS_SCORE", "FIRST_OBSERVED_AT", "LAST_OBSERVED_AT",
	"FINDING_STATUS", "ECR_IMAGE_PUSHED_AT", "ECR_IMAGE_REPOSITORY_NAME", "VULNERABILITY_ID",
}

// testSorting pages through findings in every order, checking the order
// and that pages have no gaps or repeats, also while findings are written.
func testSorting(t *testing.T, open func(t *testing.T) store.Store) {
	fx := newFixture(t, open(t))
	ctx := context.Background()
	notClosed := store.FilterCriteria{FindingStatus: []store.StringFilter{sf("NOT_EQUALS", "CLOSED")}}
	for _, field := range append(sortFields, "") {
		for _, order := range []string{"ASC", "DESC", ""} {
			for _, filtered := range []bool{false, true} {
				name := field + "/" + order
				if filtered {
					name += "/filtered"
				}
				t.Run(name, func(t *testing.T) {
					q := store.FindingQuery{SortField: field, SortOrder: order}
					var want []store.Finding
					for _, f := range fx.findings {
						if !filtered || f.Status != store.Closed {
							want = append(want, f)
						}
					}
					if filtered {
						q.Filter = notClosed
					}
					c := fx.compareBy(field)
					slices.SortFunc(want, c)
					if order != "ASC" {
						slices.Reverse(want)
					}
					got := listAll(t, fx.s, q, 7)
					if !slices.Equal(ids(got), ids(want)) {
						t.Errorf("order\n got %v\nwant %v", ids(got), ids(want))
					}
				})
			}
		}
	}

	t.Run("page size", func(t *testing.T) {
		fs, next, err := fx.s.ListFindings(ctx, store.FindingQuery{})
		must(t, err)
		if len(fs) != len(fx.findings) || next != "" {
			t.Errorf("default page: %d findings, next %q; want all %d and no next", len(fs), next, len(fx.findings))
		}
		fs, next, err = fx.s.ListFindings(ctx, store.FindingQuery{Limit: len(fx.findings)})
		must(t, err)
		if len(fs) != len(fx.findings) || next != "" {
			t.Errorf("exact page: %d findings, next %q", len(fs), next)
		}
		for _, f := range fs {
			want := fx.findings[slices.IndexFunc(fx.findings, func(g store.Finding) bool { return g.ID == f.ID })]
			if d := diffFinding(f, want); d != "" {
				t.Errorf("listed finding %s: %s", f.ID, d)
			}
		}
	})

	t.Run("tokens", func(t *testing.T) {
		q := store.FindingQuery{Filter: notClosed, SortField: "INSPECTOR_SCORE", Limit: 5}
		_, next, err := fx.s.ListFindings(ctx, q)
		must(t, err)
		if next == "" {
			t.Fatal("no next token")
		}
		other := q
		other.Next = next
		other.Limit = 9
		if _, _, err := fx.s.ListFindings(ctx, other); err != nil {
			t.Errorf("another page size with the token: %v", err)
		}
		for name, mod := range map[string]func(*store.FindingQuery){
			"other filter": func(q *store.FindingQuery) { q.Filter = store.FilterCriteria{Severity: eq("HIGH")} },
			"other sort":   func(q *store.FindingQuery) { q.SortField = "EPSS_SCORE" },
			"other order":  func(q *store.FindingQuery) { q.SortOrder = "ASC" },
			"garbage":      func(q *store.FindingQuery) { q.Next = "%%%not-a-token" },
			"not json":     func(q *store.FindingQuery) { q.Next = base64.RawURLEncoding.EncodeToString([]byte("hello")) },
			"empty json":   func(q *store.FindingQuery) { q.Next = base64.RawURLEncoding.EncodeToString([]byte("{}")) },
			"huge":         func(q *store.FindingQuery) { q.Next = strings.Repeat("A", 1<<20) },
		} {
			bad := q
			bad.Next = next
			mod(&bad)
			_, _, err := fx.s.ListFindings(ctx, bad)
			wantErr(t, name, err, store.ErrInvalid)
		}
		_, _, err = fx.s.ListFindings(ctx, store.FindingQuery{SortField: "SCORE"})
		wantErr(t, "unknown sort field", err, store.ErrInvalid)
		_, _, err = fx.s.ListFindings(ctx, store.FindingQuery{SortOrder: "UP"})
		wantErr(t, "unknown sort order", err, store.ErrInvalid)
	})

	t.Run("writes between pages", func(t *testing.T) {
		// A finding added before the cursor is not returned later; one
		// changed after it is returned once; nothing is skipped.
		q := store.FindingQuery{SortField: "SEVERITY", Limit: 10}
		first, next, err := fx.s.ListFindings(ctx, q)
		must(t, err)
		im := fx.images[0]
		late := fixFinding(500, im)
		late.ID, late.Severity, late.Score = strings.Repeat("f", 32), "CRITICAL", ptr(10.0)
		must(t, fx.s.UpdateFindings(ctx, im.repo, im.digest, func([]store.Finding) (store.FindingsUpdate, error) {
			return store.FindingsUpdate{Findings: []store.Finding{late}}, nil
		}))
		q.Next = next
		rest := listAll(t, fx.s, q, 10)
		all := append(first, rest...)
		seen := map[string]int{}
		for _, f := range all {
			seen[f.ID]++
		}
		for _, f := range fx.findings {
			if seen[f.ID] != 1 {
				t.Errorf("finding %s listed %d times", f.ID, seen[f.ID])
			}
		}
		if seen[late.ID] != 0 {
			t.Errorf("a finding sorted before the cursor appeared on a later page")
		}
	})
}
