package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

func sf(cmp, v string) store.StringFilter { return store.StringFilter{Comparison: cmp, Value: v} }

func eq(v string) []store.StringFilter { return []store.StringFilter{sf("EQUALS", v)} }

func at(d time.Duration) *time.Time { return ptr(base.Add(d)) }

// testFilters checks every filter field and comparison three ways: the
// store's result, a predicate written for the case, and
// FilterCriteria.Match (which suppression rules use) must agree.
func testFilters(t *testing.T, open func(t *testing.T) store.Store) {
	fx := newFixture(t, open(t))
	idA := fx.findings[20].ID
	cases := []struct {
		name   string
		filter store.FilterCriteria
		want   func(f store.Finding, c store.FindingContext) bool
		empty  bool // the case selects nothing, by design
	}{
		{name: "none", filter: store.FilterCriteria{}, want: func(store.Finding, store.FindingContext) bool { return true }},
		{name: "severity equals", filter: store.FilterCriteria{Severity: eq("HIGH")},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.Severity == "HIGH" }},
		{name: "severity equals or equals", filter: store.FilterCriteria{Severity: []store.StringFilter{sf("EQUALS", "HIGH"), sf("EQUALS", "CRITICAL")}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return f.Severity == "HIGH" || f.Severity == "CRITICAL"
			}},
		{name: "severity not equals and not equals", filter: store.FilterCriteria{Severity: []store.StringFilter{sf("NOT_EQUALS", "LOW"), sf("NOT_EQUALS", "INFORMATIONAL")}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return f.Severity != "LOW" && f.Severity != "INFORMATIONAL"
			}},
		{name: "severity equals and not equals the same", filter: store.FilterCriteria{Severity: []store.StringFilter{sf("EQUALS", "HIGH"), sf("NOT_EQUALS", "HIGH")}},
			want: func(store.Finding, store.FindingContext) bool { return false }, empty: true},
		{name: "severity prefix and not equals", filter: store.FilterCriteria{Severity: []store.StringFilter{sf("PREFIX", "C"), sf("PREFIX", "M"), sf("NOT_EQUALS", "MEDIUM")}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.Severity == "CRITICAL" }},
		{name: "status equals", filter: store.FilterCriteria{FindingStatus: eq("ACTIVE")},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.Status == store.Active }},
		{name: "status not equals", filter: store.FilterCriteria{FindingStatus: []store.StringFilter{sf("NOT_EQUALS", "CLOSED")}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.Status != store.Closed }},
		{name: "repository prefix", filter: store.FilterCriteria{EcrImageRepositoryName: []store.StringFilter{sf("PREFIX", "team/")}},
			want: func(f store.Finding, _ store.FindingContext) bool { return strings.HasPrefix(f.Repository, "team/") }},
		{name: "repository equals or prefix", filter: store.FilterCriteria{EcrImageRepositoryName: []store.StringFilter{sf("EQUALS", "team/api"), sf("PREFIX", "other")}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return f.Repository == "team/api" || f.Repository == "other/db"
			}},
		{name: "repository prefix is case-sensitive", filter: store.FilterCriteria{EcrImageRepositoryName: []store.StringFilter{sf("PREFIX", "TEAM")}},
			want: func(store.Finding, store.FindingContext) bool { return false }, empty: true},
		{name: "tag equals", filter: store.FilterCriteria{EcrImageTags: eq("latest")},
			want: func(f store.Finding, c store.FindingContext) bool { return slices.Contains(c.Tags, "latest") }},
		{name: "tag prefix", filter: store.FilterCriteria{EcrImageTags: []store.StringFilter{sf("PREFIX", "v")}},
			want: func(f store.Finding, c store.FindingContext) bool {
				return f.ImageDigest == dig("a1") || f.ImageDigest == dig("a2")
			}},
		{name: "tag prefix with underscore is literal", filter: store.FilterCriteria{EcrImageTags: []store.StringFilter{sf("PREFIX", "v1_")}},
			want: func(f store.Finding, c store.FindingContext) bool { return f.ImageDigest == dig("a2") }},
		{name: "tag not equals", filter: store.FilterCriteria{EcrImageTags: []store.StringFilter{sf("NOT_EQUALS", "latest")}},
			want: func(f store.Finding, c store.FindingContext) bool { return !slices.Contains(c.Tags, "latest") }},
		{name: "tag prefix and not equals", filter: store.FilterCriteria{EcrImageTags: []store.StringFilter{sf("PREFIX", "v"), sf("NOT_EQUALS", "latest")}},
			want: func(f store.Finding, c store.FindingContext) bool { return f.ImageDigest == dig("a2") }},
		{name: "tag of a deleted image", filter: store.FilterCriteria{EcrImageTags: eq("old")},
			want: func(store.Finding, store.FindingContext) bool { return false }, empty: true},
		{name: "image hash equals", filter: store.FilterCriteria{EcrImageHash: eq(dig("b1"))},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.ImageDigest == dig("b1") }},
		{name: "image hash prefix", filter: store.FilterCriteria{EcrImageHash: []store.StringFilter{sf("PREFIX", "sha256:c")}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.Repository == "other/db" }},
		{name: "fix available", filter: store.FilterCriteria{FixAvailable: eq("PARTIAL")},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.FixAvailable == "PARTIAL" }},
		{name: "exploit available", filter: store.FilterCriteria{ExploitAvailable: eq("YES")},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.ExploitAvailable == "YES" }},
		{name: "vulnerability id prefix but not", filter: store.FilterCriteria{VulnerabilityID: []store.StringFilter{sf("PREFIX", "CVE-2024-100"), sf("NOT_EQUALS", "CVE-2024-1003")}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.VulnerabilityID != "CVE-2024-1003" }},
		{name: "title prefix", filter: store.FilterCriteria{Title: []store.StringFilter{sf("PREFIX", "CVE-2024-1001 - ")}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.VulnerabilityID == "CVE-2024-1001" }},
		{name: "package name equals", filter: store.FilterCriteria{VulnerablePackages: []store.PackageFilter{{Name: ptr(sf("EQUALS", "openssl"))}}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.PackageName == "openssl" }},
		{name: "package name prefix escapes LIKE wildcards", filter: store.FilterCriteria{VulnerablePackages: []store.PackageFilter{{Name: ptr(sf("PREFIX", "weird%_"))}}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.PackageName == "weird%_pkg" }},
		{name: "package name prefix is case-sensitive", filter: store.FilterCriteria{VulnerablePackages: []store.PackageFilter{{Name: ptr(sf("PREFIX", "open"))}}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.PackageName == "openssl" }},
		{name: "package fields and, packages or", filter: store.FilterCriteria{VulnerablePackages: []store.PackageFilter{
			{Name: ptr(sf("EQUALS", "lodash")), Version: ptr(sf("EQUALS", "1.0"))},
			{FilePath: ptr(sf("PREFIX", "/app/go/"))},
		}}, want: func(f store.Finding, _ store.FindingContext) bool {
			return (f.PackageName == "lodash" && f.PackageVersion == "1.0") || strings.HasPrefix(f.FilePath, "/app/go/")
		}},
		{name: "package layer and version not equals", filter: store.FilterCriteria{VulnerablePackages: []store.PackageFilter{
			{SourceLayerHash: ptr(sf("EQUALS", "sha256:"+strings.Repeat("0", 63)+"1")), Version: ptr(sf("NOT_EQUALS", "1.1"))},
		}}, want: func(f store.Finding, _ store.FindingContext) bool {
			return strings.HasSuffix(f.LayerDiffID, "1") && f.PackageVersion != "1.1"
		}},
		{name: "epss range", filter: store.FilterCriteria{EpssScore: []store.NumberFilter{{LowerInclusive: ptr(0.1), UpperInclusive: ptr(0.3)}}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return f.EPSS != nil && *f.EPSS >= 0.1 && *f.EPSS <= 0.3
			}},
		{name: "epss ranges or", filter: store.FilterCriteria{EpssScore: []store.NumberFilter{{LowerInclusive: ptr(0.45)}, {UpperInclusive: ptr(0.02)}}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return f.EPSS != nil && (*f.EPSS >= 0.45 || *f.EPSS <= 0.02)
			}},
		{name: "inspector score bound is inclusive", filter: store.FilterCriteria{InspectorScore: []store.NumberFilter{{LowerInclusive: ptr(7.0), UpperInclusive: ptr(9.0)}}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return f.Score != nil && *f.Score >= 7.0 && *f.Score <= 9.0
			}},
		{name: "inspector score any", filter: store.FilterCriteria{InspectorScore: []store.NumberFilter{{}}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.Score != nil }},
		{name: "first observed range", filter: store.FilterCriteria{FirstObservedAt: []store.DateFilter{{StartInclusive: at(10 * time.Minute), EndInclusive: at(20 * time.Minute)}}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return !f.FirstObservedAt.Before(base.Add(10*time.Minute)) && !f.FirstObservedAt.After(base.Add(20*time.Minute))
			}},
		// Stored times are whole milliseconds; bounds inside one must
		// still be exact.
		{name: "first observed bounds inside a millisecond", filter: store.FilterCriteria{FirstObservedAt: []store.DateFilter{{StartInclusive: at(10*time.Minute + time.Microsecond), EndInclusive: at(12*time.Minute + time.Microsecond)}}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return f.FirstObservedAt.Equal(base.Add(11*time.Minute)) || f.FirstObservedAt.Equal(base.Add(12*time.Minute))
			}},
		{name: "first observed end just before", filter: store.FilterCriteria{FirstObservedAt: []store.DateFilter{{EndInclusive: at(2*time.Minute - time.Microsecond)}}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return f.FirstObservedAt.Before(base.Add(2 * time.Minute))
			}},
		{name: "last observed end", filter: store.FilterCriteria{LastObservedAt: []store.DateFilter{{EndInclusive: at(2*time.Hour + 5*time.Minute)}}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return !f.LastObservedAt.After(base.Add(2*time.Hour + 5*time.Minute))
			}},
		{name: "updated start", filter: store.FilterCriteria{UpdatedAt: []store.DateFilter{{StartInclusive: at(90 * time.Minute)}}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return !f.UpdatedAt.Before(base.Add(90 * time.Minute))
			}},
		{name: "image pushed range", filter: store.FilterCriteria{EcrImagePushedAt: []store.DateFilter{{StartInclusive: at(90 * time.Minute), EndInclusive: at(210 * time.Minute)}}},
			want: func(f store.Finding, c store.FindingContext) bool {
				return f.ImageDigest == dig("a2") || f.ImageDigest == dig("b1")
			}},
		{name: "image pushed before", filter: store.FilterCriteria{EcrImagePushedAt: []store.DateFilter{{EndInclusive: at(150 * time.Minute)}}},
			want: func(f store.Finding, c store.FindingContext) bool {
				return !c.PushedAt.After(base.Add(150 * time.Minute)) // a deleted image's zero time included
			}},
		{name: "finding arn equals", filter: store.FilterCriteria{FindingArn: eq(arn(idA))},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.ID == idA }},
		{name: "finding arn prefix of ids", filter: store.FilterCriteria{FindingArn: []store.StringFilter{sf("PREFIX", arn(strings.Repeat("0", 30)+"2"))}},
			want: func(f store.Finding, _ store.FindingContext) bool {
				return strings.HasPrefix(f.ID, strings.Repeat("0", 30)+"2")
			}},
		{name: "finding arn prefix of every arn", filter: store.FilterCriteria{FindingArn: []store.StringFilter{sf("PREFIX", "arn:aws:inspector2:local:0000")}},
			want: func(store.Finding, store.FindingContext) bool { return true }},
		{name: "finding arn not equals", filter: store.FilterCriteria{FindingArn: []store.StringFilter{sf("NOT_EQUALS", arn(idA))}},
			want: func(f store.Finding, _ store.FindingContext) bool { return f.ID != idA }},
		{name: "finding arn without id", filter: store.FilterCriteria{FindingArn: eq(arn(""))},
			want: func(store.Finding, store.FindingContext) bool { return false }, empty: true},
		{name: "finding arn that is no arn", filter: store.FilterCriteria{FindingArn: eq(idA)},
			want: func(store.Finding, store.FindingContext) bool { return false }, empty: true},
		{name: "fields and together", filter: store.FilterCriteria{
			Severity: eq("CRITICAL"), EcrImageRepositoryName: []store.StringFilter{sf("PREFIX", "team/")}, FindingStatus: eq("ACTIVE"),
		}, want: func(f store.Finding, _ store.FindingContext) bool {
			return f.Severity == "CRITICAL" && strings.HasPrefix(f.Repository, "team/") && f.Status == store.Active
		}},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want, match []string
			for _, f := range fx.findings {
				fc := fx.ctx[key(f.Repository, f.ImageDigest)]
				if c.want(f, fc) {
					want = append(want, f.ID)
				}
				ok, err := c.filter.Match(&f, fc, region, account)
				if err != nil {
					t.Fatalf("match: %v", err)
				}
				if ok {
					match = append(match, f.ID)
				}
			}
			if c.empty != (len(want) == 0) || len(want) == len(fx.findings) && c.name != "none" && !strings.Contains(c.name, "every") {
				t.Fatalf("case selects %d of %d findings: it tests nothing", len(want), len(fx.findings))
			}
			got := ids(listAll(t, fx.s, store.FindingQuery{Filter: c.filter, SortField: "VULNERABILITY_ID", SortOrder: "ASC"}, 7))
			slices.Sort(got)
			slices.Sort(want)
			slices.Sort(match)
			if !slices.Equal(got, want) {
				t.Errorf("store selects %v\nwant %v", got, want)
			}
			if !slices.Equal(match, want) {
				t.Errorf("Match selects %v\nwant %v", match, want)
			}
		})
	}

	invalid := []struct {
		filter store.FilterCriteria
		field  string
	}{
		{store.FilterCriteria{Severity: []store.StringFilter{sf("LIKE", "HIGH")}}, "severity"},
		{store.FilterCriteria{Title: []store.StringFilter{sf("EQUALS", "")}}, "title"},
		{store.FilterCriteria{EcrImageTags: []store.StringFilter{sf("", "latest")}}, "ecrImageTags"},
		{store.FilterCriteria{FindingArn: []store.StringFilter{sf("SUFFIX", "x")}}, "findingArn"},
		{store.FilterCriteria{VulnerablePackages: []store.PackageFilter{{}, {Version: ptr(sf("EQUALS", ""))}}}, "vulnerablePackages[1].version"},
	}
	for _, c := range invalid {
		_, _, err := fx.s.ListFindings(ctx, store.FindingQuery{Filter: c.filter})
		wantErr(t, "invalid filter on "+c.field, err, store.ErrInvalid)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("invalid filter on %s: error %v does not name the field", c.field, err)
		}
		_, _, err = fx.s.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggRepository, Filter: c.filter})
		wantErr(t, "aggregation with invalid filter on "+c.field, err, store.ErrInvalid)
	}
}
