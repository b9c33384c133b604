package score

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/vuln"
)

// The severities of Inspector findings.
const (
	Informational = "INFORMATIONAL"
	Low           = "LOW"
	Medium        = "MEDIUM"
	High          = "HIGH"
	Critical      = "CRITICAL"
	Untriaged     = "UNTRIAGED"
)

// Where the base of a score came from (Result.ScoreSource).
const (
	SourceVendor         = "VENDOR"          // the advisory source's own CVSS vector
	SourceNVD            = "NVD"             // an NVD vector (NVD's or the CNA's, as NVD publishes it)
	SourceVendorSeverity = "VENDOR_SEVERITY" // the vendor's severity word, no vector
	SourceAlias          = "ALIAS"           // a vector of an alias's record (a GHSA naming the CVE)
)

// The metrics adjustments are recorded under.
const (
	MetricReachable = "reachable"
	MetricKEV       = "kev"
	MetricEPSS      = "epss"
	MetricFix       = "fixAvailable"
)

// nvdPrimary is the source NVD gives its own analysis; other sources in
// NVD's data are CNAs (NVD type "Secondary").
const nvdPrimary = "nvd@nist.gov"

// Input is what is known about one vulnerability in one image.
type Input struct {
	// Vendor holds the advisory source's own vectors (the distribution's
	// or the ecosystem database's).
	Vendor []vuln.Severity
	// NVD holds NVD's vectors; those with Source "nvd@nist.gov" (or no
	// source) are NVD's own, preferred to the others (the CNAs'), among
	// which the first listed wins — nvd.CVE.Severities lists NVD's
	// Primary ones first.
	NVD []vuln.Severity
	// Alias holds the vectors of records that are the same vulnerability
	// under another id but did not match the package themselves (the
	// GitHub advisory of a CVE a Debian advisory fixed); they rank after
	// NVD's.
	Alias []vuln.Severity
	// VendorSeverity is the vendor's rating in its own words ("Important",
	// "high", "moderate"), used only when no vector is usable.
	VendorSeverity string

	// EPSS is FIRST's probability of exploitation activity in the next 30
	// days, and its percentile among all CVEs; nil when unknown.
	EPSS           *float64
	EPSSPercentile *float64

	// KEV says the vulnerability is in CISA's Known Exploited
	// Vulnerabilities catalog, since KEVDateAdded; RansomwareUse that
	// CISA knows it is used in ransomware campaigns.
	KEV           bool
	KEVDateAdded  time.Time
	RansomwareUse bool

	// FixAvailable is "YES", "NO", "PARTIAL", or empty when unknown.
	FixAvailable string

	// NotReachable says analysis of the image showed the vulnerable code
	// is not reachable (not called, or not present). Leave it false when
	// unknown. NotReachableWhy, when set, says what the analysis found.
	NotReachable    bool
	NotReachableWhy string
}

// Adjustment records one signal that was considered, in the shape of
// Inspector's CvssScoreAdjustment.
type Adjustment struct {
	Metric string `json:"metric"`
	Reason string `json:"reason"`
}

// Result is the score of one vulnerability in one image.
type Result struct {
	// Score is Vigil's score, 0–10 with one decimal; 0 when UNTRIAGED.
	Score float64
	// Severity is the band of Score, or UNTRIAGED.
	Severity string
	// Base is the CVSS the score started from; zero when none was usable.
	Base CVSS
	// ScoreSource says where the base came from (SourceVendor, SourceNVD,
	// SourceVendorSeverity), empty when nothing scored it.
	ScoreSource string
	// Adjustments lists every signal considered after the base, in order.
	Adjustments []Adjustment
	// Problems lists vectors that could not be used, so that callers can
	// report bad data instead of it vanishing.
	Problems []string
}

// Score computes the score of one vulnerability in one image following
// the rules in the package documentation.
func Score(in Input) Result {
	var r Result
	// Scores are kept in tenths so that adjustments never leave a
	// binary-fraction tail (7.800000001) and bands compare exactly.
	tenths, scored := r.base(in)

	if in.NotReachable {
		why := "the vulnerable code is not reachable in this image"
		if in.NotReachableWhy != "" {
			why += ": " + in.NotReachableWhy
		}
		switch {
		case scored && tenths > 0:
			was := tenths
			tenths = max(tenths-20, 1)
			r.adjust(MetricReachable, "%s; lowered from %s to %s", why, fmtTenths(was), fmtTenths(tenths))
		case !scored:
			r.adjust(MetricReachable, "%s; nothing scored the vulnerability, so nothing is lowered", why)
		}
	}

	if in.KEV {
		floor, why := 70, "listed in CISA's Known Exploited Vulnerabilities catalog"
		if !in.KEVDateAdded.IsZero() {
			why += " since " + in.KEVDateAdded.Format("2006-01-02")
		}
		if in.RansomwareUse {
			floor, why = 90, why+", known to be used in ransomware campaigns"
		}
		switch {
		case !scored:
			r.adjust(MetricKEV, "%s: no CVSS or vendor severity, scored %s", why, fmtTenths(floor))
			tenths, scored = floor, true
		case tenths < floor:
			r.adjust(MetricKEV, "%s: raised from %s to %s", why, fmtTenths(tenths), fmtTenths(floor))
			tenths = floor
		default:
			r.adjust(MetricKEV, "%s: score already at least %s", why, fmtTenths(floor))
		}
	}

	if in.EPSS != nil && (math.IsNaN(*in.EPSS) || *in.EPSS < 0 || *in.EPSS > 1) {
		r.Problems = append(r.Problems, fmt.Sprintf("score: EPSS probability %v is not in [0, 1]", *in.EPSS))
	} else if in.EPSS != nil {
		p := *in.EPSS
		what := fmt.Sprintf("EPSS probability %.5g", p)
		if in.EPSSPercentile != nil {
			what += fmt.Sprintf(" (percentile %.5g)", *in.EPSSPercentile)
		}
		add := 0
		switch {
		case p >= 0.5:
			add = 10
		case p >= 0.1:
			add = 5
		}
		switch {
		case add == 0:
			// Below the thresholds EPSS says nothing worth recording.
		case in.KEV:
			r.adjust(MetricEPSS, "%s: not added, known exploitation (kev) already accounts for it", what)
		case !scored:
			r.adjust(MetricEPSS, "%s: not applied, nothing scored the vulnerability", what)
		case tenths >= 100:
			r.adjust(MetricEPSS, "%s: score already at the maximum", what)
		default:
			was := tenths
			tenths = min(tenths+add, 100)
			r.adjust(MetricEPSS, "%s: raised from %s to %s", what, fmtTenths(was), fmtTenths(tenths))
		}
	}

	switch strings.ToUpper(in.FixAvailable) {
	case "NO":
		r.adjust(MetricFix, "no fix is available yet; the score is not lowered for it")
	case "PARTIAL":
		r.adjust(MetricFix, "a fix is available for only some of the affected packages; the score is not lowered for it")
	}

	if !scored {
		r.Severity = Untriaged
		return r
	}
	tenths = min(max(tenths, 0), 100)
	r.Score = float64(tenths) / 10
	r.Severity = SeverityOf(r.Score)
	return r
}

// base picks the starting score and records where it came from.
func (r *Result) base(in Input) (tenths int, ok bool) {
	type pick struct {
		list    []vuln.Severity
		source  string
		version func(string) bool
		primary int // 1: NVD primary only, -1: NVD secondary only, 0: any
	}
	v3 := func(v string) bool { return v == "3.1" || v == "3.0" }
	v4 := func(v string) bool { return v == "4.0" }
	v2 := func(v string) bool { return v == "2.0" }
	parsed := map[string][]CVSS{SourceVendor: r.parseAll(in.Vendor), SourceNVD: r.parseAll(in.NVD), SourceAlias: r.parseAll(in.Alias)}

	for _, p := range []pick{
		{in.Vendor, SourceVendor, v3, 0},
		{in.NVD, SourceNVD, v3, 1},
		{in.NVD, SourceNVD, v3, -1},
		{in.Alias, SourceAlias, v3, 0},
		{in.Vendor, SourceVendor, v4, 0},
		{in.NVD, SourceNVD, v4, 1},
		{in.NVD, SourceNVD, v4, -1},
		{in.Alias, SourceAlias, v4, 0},
		{in.Vendor, SourceVendor, v2, 0},
		{in.NVD, SourceNVD, v2, 1},
		{in.NVD, SourceNVD, v2, -1},
		{in.Alias, SourceAlias, v2, 0},
	} {
		var best *CVSS
		for i, c := range parsed[p.source] {
			isPrimary := c.Source == "" || c.Source == nvdPrimary
			if !p.version(c.Version) || (p.primary == 1 && !isPrimary) || (p.primary == -1 && isPrimary) {
				continue
			}
			// Among several vectors of the same rank, v3.1 beats v3.0;
			// otherwise the first one listed wins.
			if best == nil || (c.Version == "3.1" && best.Version == "3.0") {
				best = &parsed[p.source][i]
			}
		}
		if best != nil {
			r.Base, r.ScoreSource = *best, p.source
			return int(math.Round(best.BaseScore * 10)), true
		}
	}

	if t, ok := severityWord(in.VendorSeverity); ok {
		r.ScoreSource = SourceVendorSeverity
		return t, true
	}
	if in.VendorSeverity != "" {
		r.Problems = append(r.Problems, fmt.Sprintf("score: unknown vendor severity %q", truncate(in.VendorSeverity)))
	}
	return 0, false
}

// parseAll parses the CVSS entries of a list, recording those that fail.
// Entries of other types (Ubuntu's priority words) are not vectors and
// are left alone.
func (r *Result) parseAll(list []vuln.Severity) []CVSS {
	var out []CVSS
	for _, s := range list {
		switch s.Type {
		case vuln.CVSSv2, vuln.CVSSv3, vuln.CVSSv4:
		default:
			continue
		}
		c, err := FromSeverity(s)
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
			continue
		}
		out = append(out, c)
	}
	return out
}

// severityWord maps a vendor's severity word to the lower edge of its
// band, in tenths. The words are those of the distributions and
// databases Vigil reads: Red Hat and AlmaLinux (Critical, Important,
// Moderate, Low), Debian (unimportant, low, medium, high), Ubuntu
// (negligible, low, medium, high, critical), GitHub (low, moderate, high,
// critical). "Negligible" and "unimportant" still name a security issue,
// so they are LOW, not INFORMATIONAL.
func severityWord(w string) (int, bool) {
	switch strings.ToLower(strings.TrimSpace(w)) {
	case "critical":
		return 90, true
	case "high", "important":
		return 70, true
	case "medium", "moderate":
		return 40, true
	case "low", "negligible", "unimportant":
		return 1, true
	case "none", "informational":
		return 0, true
	}
	return 0, false
}

func (r *Result) adjust(metric, format string, args ...any) {
	r.Adjustments = append(r.Adjustments, Adjustment{Metric: metric, Reason: fmt.Sprintf(format, args...)})
}

func fmtTenths(t int) string { return fmt.Sprintf("%d.%d", t/10, t%10) }

// SeverityOf returns the severity band of a score: 0 INFORMATIONAL,
// 0.1–3.9 LOW, 4.0–6.9 MEDIUM, 7.0–8.9 HIGH, 9.0–10.0 CRITICAL. The
// score is first rounded to one decimal, as scores are published; NaN
// is UNTRIAGED.
func SeverityOf(score float64) string {
	if math.IsNaN(score) {
		return Untriaged
	}
	t := math.Round(score * 10)
	switch {
	case t <= 0:
		return Informational
	case t < 40:
		return Low
	case t < 70:
		return Medium
	case t < 90:
		return High
	default:
		return Critical
	}
}
