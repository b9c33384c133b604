package storetest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// padding makes stored finding data about the size of a real Inspector
// finding.
var (
	padding = strings.Repeat("description of the vulnerability and its remediation. ", 30)
	quoted  = strconv.Quote(padding)
)

func benchFinding(i int, repo, digest string, seen time.Time, size string) store.Finding {
	im := fixImage{repo: repo, digest: digest}
	f := fixFinding(i, im)
	f.ID = fmt.Sprintf("%032x", i+1<<20) // i is unique across images
	f.LastObservedAt = seen
	f.Data = fmt.Appendf(nil, `{"findingArn":%q,"lastObservedAt":%d,"description":%q}`, arn(f.ID), seen.UnixMilli(), size)
	return f
}

// seed writes images, each with perImage findings, through UpdateFindings.
func seed(b *testing.B, s store.Store, images, perImage int, data string) []fixImage {
	b.Helper()
	ctx := context.Background()
	var ims []fixImage
	for n := range images {
		im := fixImage{repo: fmt.Sprintf("team-%d/app", n%10), digest: dig(fmt.Sprintf("%08x", n))}
		if err := s.RecordPush(ctx, store.Push{Repository: im.repo, Digest: im.digest, Tag: fmt.Sprintf("v%d", n), At: base.Add(time.Duration(n) * time.Second)}); err != nil {
			b.Fatal(err)
		}
		var fs []store.Finding
		for i := range perImage {
			fs = append(fs, benchFinding(n*perImage+i, im.repo, im.digest, base, data))
		}
		if err := s.UpdateFindings(ctx, im.repo, im.digest, func([]store.Finding) (store.FindingsUpdate, error) {
			return store.FindingsUpdate{Findings: fs}, nil
		}); err != nil {
			b.Fatal(err)
		}
		ims = append(ims, im)
	}
	return ims
}

// BenchUpdateFindings measures the re-evaluation of stored images after a
// vulnerability database update in the common case: every finding is seen
// again, only its observation time (and the data that carries it)
// changes. 1,000 images must take well under 2 s.
func BenchUpdateFindings(b *testing.B, s store.Store) {
	const images, per = 1000, 10
	ims := seed(b, s, images, per, padding)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n++ {
		im := ims[n%images]
		seen := base.Add(time.Duration(n+1) * time.Millisecond)
		err := s.UpdateFindings(ctx, im.repo, im.digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
			if len(existing) != per {
				return store.FindingsUpdate{}, fmt.Errorf("%d findings, want %d", len(existing), per)
			}
			for i := range existing {
				f := &existing[i]
				f.LastObservedAt = seen
				f.Data = fmt.Appendf(f.Data[:0], `{"findingArn":"%s","lastObservedAt":%d,"description":%s}`, arn(f.ID), seen.UnixMilli(), quoted)
			}
			return store.FindingsUpdate{Findings: existing}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "images/s")
}

// BenchListFindings measures a filtered, sorted page of 100 out of
// 100,000 findings (1,000 images of 100), first and fifth page.
func BenchListFindings(b *testing.B, s store.Store) {
	seed(b, s, 1000, 100, padding[:400])
	ctx := context.Background()
	queries := []struct {
		name  string
		q     store.FindingQuery
		pages int
	}{
		{"active by severity", store.FindingQuery{Filter: store.FilterCriteria{FindingStatus: eq("ACTIVE")}}, 1},
		{"active by severity page 5", store.FindingQuery{Filter: store.FilterCriteria{FindingStatus: eq("ACTIVE")}}, 5},
		{"repository prefix, critical or high, by score", store.FindingQuery{
			Filter: store.FilterCriteria{
				EcrImageRepositoryName: []store.StringFilter{sf("PREFIX", "team-3")},
				Severity:               []store.StringFilter{sf("EQUALS", "CRITICAL"), sf("EQUALS", "HIGH")},
				FindingStatus:          eq("ACTIVE"),
			},
			SortField: "INSPECTOR_SCORE",
		}, 1},
		{"package and fix, by last observed", store.FindingQuery{
			Filter: store.FilterCriteria{
				VulnerablePackages: []store.PackageFilter{{Name: ptr(sf("EQUALS", "openssl"))}},
				FixAvailable:       eq("YES"),
			},
			SortField: "LAST_OBSERVED_AT",
		}, 1},
		{"tag prefix, by severity", store.FindingQuery{Filter: store.FilterCriteria{EcrImageTags: []store.StringFilter{sf("PREFIX", "v12")}}}, 1},
	}
	for _, c := range queries {
		b.Run(c.name, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				q := c.q
				q.Limit = 100
				for p := 0; p < c.pages; p++ {
					fs, next, err := s.ListFindings(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					if len(fs) == 0 {
						b.Fatal("empty page")
					}
					q.Next = next
				}
			}
		})
	}
}
