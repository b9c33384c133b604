package score

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/vuln"
)

// Vectors with published base scores (see TestParseCVSSPublished).
var (
	log4shell31 = vuln.Severity{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Source: "nvd@nist.gov"}        // 10.0
	log4shell2  = vuln.Severity{Type: vuln.CVSSv2, Score: "AV:N/AC:M/Au:N/C:C/I:C/A:C", Source: "nvd@nist.gov"}                          // 9.3
	heartbleed  = vuln.Severity{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}                                // 7.5
	heartbleed2 = vuln.Severity{Type: vuln.CVSSv2, Score: "AV:N/AC:L/Au:N/C:P/I:N/A:N"}                                                  // 5.0
	poodle      = vuln.Severity{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"}                                // 3.1
	tomcat      = vuln.Severity{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L"}                                // 4.2
	langchain30 = vuln.Severity{Type: vuln.CVSSv3, Score: "CVSS:3.0/AV:L/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:L"}                                // 4.9
	nginx40     = vuln.Severity{Type: vuln.CVSSv4, Score: "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}             // 7.3
	jose40      = vuln.Severity{Type: vuln.CVSSv4, Score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N"}             // 9.3
	sentry40    = vuln.Severity{Type: vuln.CVSSv4, Score: "CVSS:4.0/AV:L/AC:L/AT:P/PR:H/UI:N/VC:N/VI:N/VA:N/SC:L/SI:N/SA:N"}             // 1.8
	cnaHigh     = vuln.Severity{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Source: "security@apache.org"} // 8.8
	badVector   = vuln.Severity{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L"}
)

func ptr(f float64) *float64 { return &f }

func TestSeverityOfBands(t *testing.T) {
	for _, tc := range []struct {
		score float64
		want  string
	}{
		{0.0, Informational},
		{0.04, Informational}, // rounds to 0.0
		{0.1, Low},
		{3.9, Low},
		{3.94, Low},
		{3.95, Medium}, // rounds to 4.0
		{4.0, Medium},
		{6.9, Medium},
		{7.0, High},
		{8.9, High},
		{9.0, Critical},
		{10.0, Critical},
		{math.NaN(), Untriaged},
	} {
		if got := SeverityOf(tc.score); got != tc.want {
			t.Errorf("SeverityOf(%v) = %s, want %s", tc.score, got, tc.want)
		}
	}
}

func TestBaseSelection(t *testing.T) {
	debianHeartbleed := heartbleed
	debianHeartbleed.Source = "debian"
	for _, tc := range []struct {
		name       string
		in         Input
		wantVector string
		wantSource string
		wantScore  float64
		wantSev    string
	}{
		{"vendor v3.1 beats NVD", Input{Vendor: []vuln.Severity{debianHeartbleed}, NVD: []vuln.Severity{log4shell31}},
			heartbleed.Score, SourceVendor, 7.5, High},
		{"vendor v3 beats vendor v4 and v2", Input{Vendor: []vuln.Severity{jose40, heartbleed2, tomcat}},
			tomcat.Score, SourceVendor, 4.2, Medium},
		{"vendor v3.1 beats vendor v3.0 listed first", Input{Vendor: []vuln.Severity{langchain30, poodle}},
			poodle.Score, SourceVendor, 3.1, Low},
		{"vendor v3.0 when alone", Input{Vendor: []vuln.Severity{langchain30}},
			langchain30.Score, SourceVendor, 4.9, Medium},
		{"NVD primary v3 beats the CNA's", Input{NVD: []vuln.Severity{cnaHigh, log4shell31}},
			log4shell31.Score, SourceNVD, 10.0, Critical},
		{"NVD CNA v3 when NVD has not analysed", Input{NVD: []vuln.Severity{cnaHigh, log4shell2}},
			cnaHigh.Score, SourceNVD, 8.8, High},
		{"NVD v3 beats vendor v4", Input{Vendor: []vuln.Severity{jose40}, NVD: []vuln.Severity{heartbleed}},
			heartbleed.Score, SourceNVD, 7.5, High},
		{"vendor v4 when there is no v3", Input{Vendor: []vuln.Severity{heartbleed2, nginx40}, NVD: []vuln.Severity{log4shell2}},
			nginx40.Score, SourceVendor, 7.3, High},
		{"NVD v4 beats vendor v2", Input{Vendor: []vuln.Severity{heartbleed2}, NVD: []vuln.Severity{jose40}},
			jose40.Score, SourceNVD, 9.3, Critical},
		{"vendor v2 beats NVD v2", Input{Vendor: []vuln.Severity{heartbleed2}, NVD: []vuln.Severity{log4shell2}},
			heartbleed2.Score, SourceVendor, 5.0, Medium},
		{"NVD v2 last", Input{NVD: []vuln.Severity{log4shell2}},
			log4shell2.Score, SourceNVD, 9.3, Critical},
		{"malformed vendor vector falls through to NVD", Input{Vendor: []vuln.Severity{badVector}, NVD: []vuln.Severity{heartbleed}},
			heartbleed.Score, SourceNVD, 7.5, High},
		{"vector beats the severity word", Input{Vendor: []vuln.Severity{poodle}, VendorSeverity: "Critical"},
			poodle.Score, SourceVendor, 3.1, Low},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Score(tc.in)
			if r.Base.Vector != tc.wantVector || r.ScoreSource != tc.wantSource || r.Score != tc.wantScore || r.Severity != tc.wantSev {
				t.Errorf("got base %q from %s, score %v %s; want %q from %s, %v %s",
					r.Base.Vector, r.ScoreSource, r.Score, r.Severity, tc.wantVector, tc.wantSource, tc.wantScore, tc.wantSev)
			}
			if len(r.Adjustments) != 0 {
				t.Errorf("unexpected adjustments %v", r.Adjustments)
			}
		})
	}
}

func TestBaseKeepsSource(t *testing.T) {
	r := Score(Input{NVD: []vuln.Severity{log4shell31}})
	if r.Base.Source != "nvd@nist.gov" || r.Base.Version != "3.1" || r.Base.BaseScore != 10.0 {
		t.Errorf("Base = %+v", r.Base)
	}
}

func TestProblemsReported(t *testing.T) {
	r := Score(Input{Vendor: []vuln.Severity{badVector, {Type: vuln.CVSSv2, Score: heartbleed.Score}, {Type: "Ubuntu", Score: "medium"}}})
	if r.Severity != Untriaged || r.Score != 0 || r.ScoreSource != "" {
		t.Errorf("got %v %s from %q, want UNTRIAGED", r.Score, r.Severity, r.ScoreSource)
	}
	// The Ubuntu priority word is not a vector and is no problem.
	if len(r.Problems) != 2 || !strings.Contains(r.Problems[0], "CVSS:3.1/AV:N/AC:L") || !strings.Contains(r.Problems[1], "does not match") {
		t.Errorf("Problems = %q", r.Problems)
	}
}

func TestVendorSeverityWord(t *testing.T) {
	for _, tc := range []struct {
		word    string
		score   float64
		sev     string
		problem bool
	}{
		{"Critical", 9.0, Critical, false},
		{"Important", 7.0, High, false},
		{"high", 7.0, High, false},
		{"Moderate", 4.0, Medium, false},
		{"medium", 4.0, Medium, false},
		{"low", 0.1, Low, false},
		{"negligible", 0.1, Low, false},
		{"unimportant", 0.1, Low, false},
		{"none", 0.0, Informational, false},
		{"", 0, Untriaged, false},
		{"not yet assigned", 0, Untriaged, true},
	} {
		r := Score(Input{VendorSeverity: tc.word})
		if r.Score != tc.score || r.Severity != tc.sev || (len(r.Problems) > 0) != tc.problem {
			t.Errorf("%q: got %v %s problems %q, want %v %s", tc.word, r.Score, r.Severity, r.Problems, tc.score, tc.sev)
		}
		if want := map[bool]string{true: SourceVendorSeverity, false: ""}[tc.sev != Untriaged]; r.ScoreSource != want {
			t.Errorf("%q: ScoreSource %q, want %q", tc.word, r.ScoreSource, want)
		}
	}
}

func TestAdjustments(t *testing.T) {
	added := time.Date(2021, 12, 10, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		in      Input
		score   float64
		sev     string
		metrics []string // recorded adjustments, in order
		reason  string   // a phrase the last adjustment's reason must hold
	}{
		{"no signals", Input{Vendor: []vuln.Severity{tomcat}}, 4.2, Medium, nil, ""},
		{"kev raises to HIGH", Input{Vendor: []vuln.Severity{tomcat}, KEV: true, KEVDateAdded: added},
			7.0, High, []string{MetricKEV}, "since 2021-12-10: raised from 4.2 to 7.0"},
		{"kev leaves a higher score", Input{NVD: []vuln.Severity{log4shell31}, KEV: true},
			10.0, Critical, []string{MetricKEV}, "already at least 7.0"},
		{"kev with ransomware raises to CRITICAL", Input{Vendor: []vuln.Severity{heartbleed}, KEV: true, RansomwareUse: true},
			9.0, Critical, []string{MetricKEV}, "ransomware campaigns: raised from 7.5 to 9.0"},
		{"kev scores the unscored", Input{KEV: true},
			7.0, High, []string{MetricKEV}, "no CVSS or vendor severity, scored 7.0"},
		{"epss >= 0.5 adds 1.0", Input{Vendor: []vuln.Severity{tomcat}, EPSS: ptr(0.5), EPSSPercentile: ptr(0.998)},
			5.2, Medium, []string{MetricEPSS}, "EPSS probability 0.5 (percentile 0.998): raised from 4.2 to 5.2"},
		{"epss >= 0.1 adds 0.5", Input{Vendor: []vuln.Severity{langchain30}, EPSS: ptr(0.1)},
			5.4, Medium, []string{MetricEPSS}, "raised from 4.9 to 5.4"},
		{"epss crosses a band", Input{Vendor: []vuln.Severity{{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}}, EPSS: ptr(0.97)},
			7.1, High, []string{MetricEPSS}, "raised from 6.1 to 7.1"},
		{"epss below 0.1 is ignored", Input{Vendor: []vuln.Severity{tomcat}, EPSS: ptr(0.0999)},
			4.2, Medium, nil, ""},
		{"epss is bounded by 10", Input{Vendor: []vuln.Severity{log4shell31}, EPSS: ptr(0.94)},
			10.0, Critical, []string{MetricEPSS}, "already at the maximum"},
		{"epss not added on top of kev", Input{Vendor: []vuln.Severity{tomcat}, KEV: true, EPSS: ptr(0.9)},
			7.0, High, []string{MetricKEV, MetricEPSS}, "not added"},
		{"epss cannot score the unscored", Input{EPSS: ptr(0.9)},
			0, Untriaged, []string{MetricEPSS}, "nothing scored"},
		{"no fix is only recorded", Input{Vendor: []vuln.Severity{log4shell31}, FixAvailable: "NO"},
			10.0, Critical, []string{MetricFix}, "not lowered"},
		{"partial fix is only recorded", Input{Vendor: []vuln.Severity{tomcat}, FixAvailable: "PARTIAL"},
			4.2, Medium, []string{MetricFix}, "only some"},
		{"fix available records nothing", Input{Vendor: []vuln.Severity{tomcat}, FixAvailable: "YES"},
			4.2, Medium, nil, ""},
		{"not reachable lowers by 2.0", Input{NVD: []vuln.Severity{log4shell31}, NotReachable: true},
			8.0, High, []string{MetricReachable}, "lowered from 10.0 to 8.0"},
		{"not reachable lowers a LOW", Input{Vendor: []vuln.Severity{poodle}, NotReachable: true},
			1.1, Low, []string{MetricReachable}, "lowered from 3.1 to 1.1"},
		{"not reachable never hides", Input{Vendor: []vuln.Severity{sentry40}, NotReachable: true},
			0.1, Low, []string{MetricReachable}, "lowered from 1.8 to 0.1"},
		{"kev overrides not reachable", Input{Vendor: []vuln.Severity{heartbleed}, NotReachable: true, KEV: true},
			7.0, High, []string{MetricReachable, MetricKEV}, "raised from 5.5 to 7.0"},
		{"not reachable says why", Input{NVD: []vuln.Severity{log4shell31}, NotReachable: true, NotReachableWhy: "the binary does not contain the package example.com/m/p"},
			8.0, High, []string{MetricReachable}, "not reachable in this image: the binary does not contain the package example.com/m/p; lowered from 10.0 to 8.0"},
		{"not reachable is recorded for the unscored", Input{NotReachable: true},
			0, Untriaged, []string{MetricReachable}, "nothing scored the vulnerability, so nothing is lowered"},
		{"everything together", Input{Vendor: []vuln.Severity{nginx40}, NotReachable: true, EPSS: ptr(0.6), FixAvailable: "NO"},
			6.3, Medium, []string{MetricReachable, MetricEPSS, MetricFix}, "not lowered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Score(tc.in)
			if r.Score != tc.score || r.Severity != tc.sev {
				t.Errorf("got %v %s, want %v %s (adjustments %v)", r.Score, r.Severity, tc.score, tc.sev, r.Adjustments)
			}
			var metrics []string
			for _, a := range r.Adjustments {
				metrics = append(metrics, a.Metric)
				if a.Reason == "" {
					t.Errorf("adjustment %s has no reason", a.Metric)
				}
			}
			if strings.Join(metrics, ",") != strings.Join(tc.metrics, ",") {
				t.Errorf("adjustments %v, want metrics %v", r.Adjustments, tc.metrics)
			}
			if tc.reason != "" && !strings.Contains(r.Adjustments[len(r.Adjustments)-1].Reason, tc.reason) {
				t.Errorf("last reason %q does not say %q", r.Adjustments[len(r.Adjustments)-1].Reason, tc.reason)
			}
			if SeverityOf(r.Score) != r.Severity && r.Severity != Untriaged {
				t.Errorf("severity %s does not match score %v", r.Severity, r.Score)
			}
		})
	}
}

// TestScoreBounded checks that no combination of signals leaves [0, 10]
// or more than one decimal.
func TestBadEPSS(t *testing.T) {
	for _, p := range []float64{-0.1, 1.5, math.NaN()} {
		r := Score(Input{Vendor: []vuln.Severity{tomcat}, EPSS: ptr(p)})
		if r.Score != 4.2 || len(r.Adjustments) != 0 || len(r.Problems) != 1 {
			t.Errorf("EPSS %v: got %v %v problems %q", p, r.Score, r.Adjustments, r.Problems)
		}
	}
}

func TestScoreBounded(t *testing.T) {
	vectors := [][]vuln.Severity{nil, {log4shell31}, {poodle}, {{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"}}, {nginx40}}
	for _, v := range vectors {
		for _, epss := range []*float64{nil, ptr(0), ptr(0.2), ptr(1)} {
			for mask := 0; mask < 8; mask++ {
				in := Input{Vendor: v, EPSS: epss, KEV: mask&1 != 0, RansomwareUse: mask&2 != 0, NotReachable: mask&4 != 0, VendorSeverity: "low"}
				r := Score(in)
				if r.Score < 0 || r.Score > 10 || math.Round(r.Score*10) != r.Score*10 {
					t.Errorf("%+v: score %v", in, r.Score)
				}
			}
		}
	}
}
