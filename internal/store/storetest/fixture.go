package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// fixture is a store holding images and findings that vary in every field
// findings are filtered, sorted and aggregated by, with what the suite
// expects of it.
type fixture struct {
	s        store.Store
	images   []fixImage
	findings []store.Finding // as the store should hold them
	ctx      map[string]store.FindingContext
	deleted  time.Time
}

type fixImage struct {
	repo, digest string
	tags         []string
	pushed       time.Time
	gone         bool // deleted after its findings were written
}

const perImage = 12

var (
	sevs = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED"}
	pkgs = []struct{ name, manager, path string }{
		{"openssl", "OS", ""}, {"libssl3", "OS", ""}, {"zlib1g", "OS", ""}, {"busybox", "OS", ""},
		{"lodash", "NPM", "/app/node_modules/lodash/package.json"},
		{"requests", "PIP", "/usr/lib/python3/dist-packages/requests/METADATA"},
		{"log4j-core", "JAR", "/app/lib/log4j-core.jar"},
		{"golang.org/x/net", "GOBINARY", "/app/go/bin/server"},
		// LIKE wildcards, and case: PREFIX "weird%_" must not match
		// weirdXYpkg, PREFIX "open" must not match OpenSSL-Fips.
		{"weird%_pkg", "NPM", "/app/w1"}, {"weirdXYpkg", "NPM", "/app/w2"}, {"OpenSSL-Fips", "OS", ""},
	}
)

func key(repo, digest string) string { return repo + "@" + digest }

// fixFinding makes the i-th finding of the fixture for an image.
func fixFinding(i int, im fixImage) store.Finding {
	sev := sevs[i%len(sevs)]
	var score *float64
	switch sev {
	case "CRITICAL":
		score = ptr(9.0 + float64(i%7)/10)
	case "HIGH":
		score = ptr(7.0 + float64(i%7)/10)
	case "MEDIUM":
		score = ptr(4.0 + float64(i%7)/10)
	case "LOW":
		score = ptr(0.1 + float64(i%7)/10)
	case "INFORMATIONAL":
		score = ptr(0.0)
	}
	status, by := store.Active, ""
	switch {
	case i%7 == 3:
		status = store.Closed
	case i%5 == 1:
		status, by = store.Suppressed, "rule-1"
	}
	var epss *float64
	if i%4 != 0 {
		epss = ptr(float64(i%50) / 100)
	}
	p := pkgs[i%len(pkgs)]
	id := fmt.Sprintf("%032x", i+1)
	vuln := fmt.Sprintf("CVE-2024-%d", 1000+i%8)
	f := store.Finding{
		ID: id, Repository: im.repo, ImageDigest: im.digest,
		VulnerabilityID: vuln, Title: vuln + " - " + p.name,
		Severity: sev, Status: status, Score: score, SuppressedBy: by,
		FixAvailable:     []string{"YES", "NO", "PARTIAL"}[i%3],
		ExploitAvailable: map[bool]string{true: "YES", false: "NO"}[i%4 == 1],
		EPSS:             epss,
		PackageName:      p.name, PackageVersion: fmt.Sprintf("1.%d", i%4), PackageManager: p.manager,
		FilePath: p.path, LayerDiffID: fmt.Sprintf("sha256:%064d", i%3),
		FirstObservedAt: base.Add(time.Duration(i) * time.Minute),
		LastObservedAt:  base.Add(2*time.Hour + time.Duration(i)*30*time.Second),
		UpdatedAt:       base.Add(time.Hour + time.Duration(i)*37*time.Second),
	}
	if i%5 == 2 {
		f.NotReachable = "the binary does not contain the package example.com/m/p" + fmt.Sprint(i)
	}
	f.Data = findingData(f, 0)
	return f
}

// findingData is a stand-in for the Inspector JSON; n lets tests count
// writes.
func findingData(f store.Finding, n int) []byte {
	return fmt.Appendf(nil, `{"findingArn":%q,"status":%q,"updatedAt":%d,"n":%d}`, arn(f.ID), f.Status, f.UpdatedAt.Unix(), n)
}

func newFixture(t *testing.T, s store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	fx := &fixture{s: s, ctx: map[string]store.FindingContext{}, deleted: base.Add(10 * time.Hour)}
	fx.images = []fixImage{
		{repo: "team/app", digest: dig("a1"), tags: []string{"latest", "v1.0"}, pushed: base.Add(1 * time.Hour)},
		{repo: "team/app", digest: dig("a2"), tags: []string{"v0.9", "v1_0"}, pushed: base.Add(2 * time.Hour)},
		{repo: "team/api", digest: dig("b1"), tags: []string{"latest"}, pushed: base.Add(3 * time.Hour)},
		{repo: "other/db", digest: dig("c1"), pushed: base.Add(4 * time.Hour)},
		{repo: "other/db", digest: dig("c2"), tags: []string{"old"}, pushed: base.Add(5 * time.Hour), gone: true},
	}
	for k, im := range fx.images {
		if len(im.tags) == 0 {
			push(t, s, im.repo, im.digest, "", im.pushed)
		}
		for _, tag := range im.tags {
			push(t, s, im.repo, im.digest, tag, im.pushed)
		}
		var fs []store.Finding
		for i := k * perImage; i < (k+1)*perImage; i++ {
			fs = append(fs, fixFinding(i, im))
		}
		must(t, s.UpdateFindings(ctx, im.repo, im.digest, func(existing []store.Finding) (store.FindingsUpdate, error) {
			if len(existing) != 0 {
				return store.FindingsUpdate{}, fmt.Errorf("new image has %d findings", len(existing))
			}
			return store.FindingsUpdate{Findings: fs}, nil
		}))
		sort.Strings(im.tags)
		fx.ctx[key(im.repo, im.digest)] = store.FindingContext{Tags: im.tags, PushedAt: im.pushed}
		fx.findings = append(fx.findings, fs...)
	}
	for k, im := range fx.images {
		if !im.gone {
			continue
		}
		must(t, s.RecordDelete(ctx, im.repo, im.digest, fx.deleted, nil))
		fx.ctx[key(im.repo, im.digest)] = store.FindingContext{}
		for i := k * perImage; i < (k+1)*perImage; i++ {
			f := &fx.findings[i]
			if f.Status != store.Closed {
				f.Status, f.SuppressedBy, f.UpdatedAt = store.Closed, "", fx.deleted
			}
		}
	}
	// The store patched the data of the findings it closed; take its
	// copy, after checking every other field.
	for i := range fx.findings {
		want := &fx.findings[i]
		got, err := s.Finding(ctx, want.ID)
		must(t, err)
		w := *want
		w.Data = got.Data
		if d := diffFinding(*got, w); d != "" {
			t.Fatalf("fixture finding %s: %s", want.ID, d)
		}
		want.Data = got.Data
	}
	return fx
}

// listAll pages through a finding query with a small page size, checking
// that pages are full but for the last, and returns every finding.
func listAll(t *testing.T, s store.Store, q store.FindingQuery, pageSize int) []store.Finding {
	t.Helper()
	q.Limit = pageSize
	var out []store.Finding
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		fs, next, err := s.ListFindings(context.Background(), q)
		if err != nil {
			t.Fatalf("list findings: %v", err)
		}
		out = append(out, fs...)
		if next == "" {
			return out
		}
		if len(fs) != pageSize {
			t.Fatalf("page %d has %d findings and a next token, want %d", pages, len(fs), pageSize)
		}
		q.Next = next
	}
}

func ids(fs []store.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}
