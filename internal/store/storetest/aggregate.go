package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// aggKey is the group key of a finding for an aggregation type.
func (fx *fixture) aggKey(typ string, f store.Finding) []string {
	switch typ {
	case store.AggRepository:
		return []string{f.Repository}
	case store.AggImage:
		return []string{f.Repository, f.ImageDigest}
	case store.AggLayer:
		return []string{f.Repository, f.ImageDigest, f.LayerDiffID}
	case store.AggPackage:
		return []string{f.PackageName}
	case store.AggTitle:
		return []string{f.Title, f.VulnerabilityID}
	case store.AggVulnerability:
		return []string{f.VulnerabilityID}
	}
	return nil
}

func countOf(c store.Counts, by string) int {
	switch by {
	case "CRITICAL":
		return c.Critical
	case "HIGH":
		return c.High
	case "MEDIUM":
		return c.Medium
	case "LOW":
		return c.Low
	case "INFORMATIONAL":
		return c.Informational
	case "UNTRIAGED":
		return c.Untriaged
	}
	return c.Total
}

func addTo(c *store.Counts, severity string) {
	switch severity {
	case "CRITICAL":
		c.Critical++
	case "HIGH":
		c.High++
	case "MEDIUM":
		c.Medium++
	case "LOW":
		c.Low++
	case "INFORMATIONAL":
		c.Informational++
	default:
		c.Untriaged++
	}
	c.Total++
}

// expectAgg computes an aggregation from the fixture.
func (fx *fixture) expectAgg(t *testing.T, q store.AggregationQuery) []store.Aggregate {
	t.Helper()
	type group struct {
		key    []string
		agg    store.Aggregate
		images map[string]bool
	}
	groups := map[string]*group{}
	for _, f := range fx.findings {
		fc := fx.ctx[key(f.Repository, f.ImageDigest)]
		ok, err := q.Filter.Match(&f, fc, region, account)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || (len(q.Filter.FindingStatus) == 0 && f.Status != store.Active) {
			continue
		}
		k := fx.aggKey(q.Type, f)
		g := groups[strings.Join(k, "\x00")]
		if g == nil {
			g = &group{key: k, images: map[string]bool{}}
			switch q.Type {
			case store.AggRepository:
				g.agg.Repository = f.Repository
			case store.AggImage:
				g.agg.Repository, g.agg.ImageDigest, g.agg.Tags = f.Repository, f.ImageDigest, fc.Tags
			case store.AggLayer:
				g.agg.Repository, g.agg.ImageDigest, g.agg.LayerDiffID = f.Repository, f.ImageDigest, f.LayerDiffID
			case store.AggPackage:
				g.agg.PackageName = f.PackageName
			case store.AggTitle:
				g.agg.Title, g.agg.VulnerabilityID = f.Title, f.VulnerabilityID
			case store.AggVulnerability:
				g.agg.VulnerabilityID = f.VulnerabilityID
			case store.AggType:
				g.agg.FindingType = "PACKAGE_VULNERABILITY"
			}
			groups[strings.Join(k, "\x00")] = g
		}
		addTo(&g.agg.Counts, f.Severity)
		g.images[key(f.Repository, f.ImageDigest)] = true
	}
	var gs []*group
	for _, g := range groups {
		switch q.Type {
		case store.AggRepository, store.AggPackage, store.AggTitle, store.AggVulnerability:
			g.agg.Images = len(g.images)
		}
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *group) int {
		if c := countOf(b.agg.Counts, q.SortBy) - countOf(a.agg.Counts, q.SortBy); c != 0 {
			return c
		}
		return slices.Compare(a.key, b.key)
	})
	out := make([]store.Aggregate, len(gs))
	for i, g := range gs {
		out[i] = g.agg
	}
	return out
}

func diffAgg(got, want store.Aggregate) string {
	g, w := got, want
	g.Tags, w.Tags = nil, nil
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) || !slices.Equal(got.Tags, want.Tags) {
		return fmt.Sprintf("got %+v\nwant %+v", got, want)
	}
	return ""
}

func testAggregations(t *testing.T, open func(t *testing.T) store.Store) {
	fx := newFixture(t, open(t))
	ctx := context.Background()
	cases := []struct {
		name string
		q    store.AggregationQuery
	}{
		{"repository", store.AggregationQuery{Type: store.AggRepository}},
		{"repository by critical", store.AggregationQuery{Type: store.AggRepository, SortBy: "CRITICAL"}},
		{"image", store.AggregationQuery{Type: store.AggImage}},
		{"image, closed findings", store.AggregationQuery{Type: store.AggImage, Filter: store.FilterCriteria{FindingStatus: eq("CLOSED")}}},
		{"image by untriaged", store.AggregationQuery{Type: store.AggImage, SortBy: "UNTRIAGED"}},
		{"layer", store.AggregationQuery{Type: store.AggLayer, SortBy: "HIGH"}},
		{"package", store.AggregationQuery{Type: store.AggPackage}},
		{"package, any status, filtered", store.AggregationQuery{Type: store.AggPackage, SortBy: "LOW",
			Filter: store.FilterCriteria{FindingStatus: []store.StringFilter{sf("PREFIX", "A"), sf("PREFIX", "S")}, EcrImageRepositoryName: []store.StringFilter{sf("PREFIX", "team/")}}}},
		{"title", store.AggregationQuery{Type: store.AggTitle, SortBy: "MEDIUM"}},
		{"vulnerability", store.AggregationQuery{Type: store.AggVulnerability, SortBy: "CRITICAL"}},
		{"title of high findings", store.AggregationQuery{Type: store.AggTitle, Filter: store.FilterCriteria{Severity: eq("HIGH")}}},
		{"finding type", store.AggregationQuery{Type: store.AggType}},
		{"finding type, nothing selected", store.AggregationQuery{Type: store.AggType, Filter: store.FilterCriteria{Severity: eq("NONE")}}},
		{"image pushed range", store.AggregationQuery{Type: store.AggImage, Filter: store.FilterCriteria{
			EcrImagePushedAt: []store.DateFilter{{StartInclusive: at(0), EndInclusive: at(150 * time.Minute)}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := fx.expectAgg(t, c.q)
			if len(want) == 0 && !strings.Contains(c.name, "nothing") {
				t.Fatal("the case selects nothing")
			}
			// Page through with pages of 2.
			q := c.q
			q.Limit = 2
			var got []store.Aggregate
			for pages := 0; ; pages++ {
				page, next, err := fx.s.AggregateFindings(ctx, q)
				must(t, err)
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				if next != "" && len(page) != 2 {
					t.Fatalf("short page %d with a next token", pages)
				}
				got = append(got, page...)
				if next == "" {
					break
				}
				q.Next = next
			}
			if len(got) != len(want) {
				t.Fatalf("%d groups, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
			}
			for i := range got {
				if d := diffAgg(got[i], want[i]); d != "" {
					t.Errorf("group %d: %s", i, d)
				}
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		_, _, err := fx.s.AggregateFindings(ctx, store.AggregationQuery{Type: "CVE"})
		wantErr(t, "unknown type", err, store.ErrInvalid)
		_, _, err = fx.s.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggImage, SortBy: "SCORE"})
		wantErr(t, "unknown sort", err, store.ErrInvalid)
		_, next, err := fx.s.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggPackage, Limit: 1})
		must(t, err)
		_, _, err = fx.s.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggTitle, Limit: 1, Next: next})
		wantErr(t, "token of another aggregation", err, store.ErrInvalid)
		_, _, err = fx.s.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggPackage, Next: "garbage"})
		wantErr(t, "malformed token", err, store.ErrInvalid)
	})
}
