package web

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzFilter parses arbitrary console query strings as the findings
// filter: it never panics, every link it makes stays on its page, and a
// filter without errors reads back from its own link as the same filter.
func FuzzFilter(f *testing.F) {
	f.Add("severity=CRITICAL&severity=high&status=ALL&fix=yes&exploit=NO&package=libssl*&vuln=CVE-2024-6119&sort=INSPECTOR_SCORE&order=asc")
	f.Add("repository=team/app&tag=1.0&digest=sha256:9b2e4f0c7d1a3e5b8c6f2a9d4e7b1c3f5a8d2e6b9c4f7a1d3e5b8c2f6a9d4e7b&layer=sha256:2c3f*&next=abc")
	f.Add("severity=LOUD&status=ACTIVE&status=CLOSED&package=*&digest=nope&rule=r1&sort=x")
	f.Add("package=%ff%fe&vuln=" + strings.Repeat("a", 300) + "&%zz=1")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the server refuses what does not parse
		}
		flt := parseFilter(q, "/findings")
		_ = flt.criteria(true)
		_ = flt.criteria(false)
		_ = flt.Describe()
		for _, link := range []string{flt.URL(), flt.With("status", "ALL"), flt.NextURL("tok"), flt.SortURL("SEVERITY"), flt.SuppressURL()} {
			u, err := url.Parse(link)
			if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(u.Path, "/") {
				t.Fatalf("link %q leaves the console (%v)", link, err)
			}
		}
		if len(flt.Errors) > 0 {
			return
		}
		u, _ := url.Parse(flt.URL())
		again := parseFilter(u.Query(), "/findings")
		if len(again.Errors) > 0 {
			t.Fatalf("its own link %s is refused: %v", flt.URL(), again.Errors)
		}
		if !slices.Equal(again.Severity, flt.Severity) || again.Status != flt.Status || again.Fix != flt.Fix || again.Exploit != flt.Exploit ||
			again.Package != flt.Package || again.Vuln != flt.Vuln || again.Layer != flt.Layer || again.Repository != flt.Repository ||
			again.Tag != flt.Tag || again.Digest != flt.Digest || again.Rule != flt.Rule || again.Sort != flt.Sort || again.Order != flt.Order {
			t.Fatalf("read back from %s as %+v, want %+v", flt.URL(), again, flt)
		}
	})
}
