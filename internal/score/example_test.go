package score_test

import (
	"fmt"
	"time"

	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/vuln"
)

// Heartbleed in a Debian image: NVD's vector (the vendor gave none), in
// CISA's KEV catalog since 2022-05-04 and with an EPSS probability of
// 0.99999 (the values of the shared test data), fixed in Debian.
func ExampleScore() {
	epss, pct := 0.99999, 0.99997
	r := score.Score(score.Input{
		NVD: []vuln.Severity{
			{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Source: "nvd@nist.gov"},
			{Type: vuln.CVSSv2, Score: "AV:N/AC:L/Au:N/C:P/I:N/A:N", Source: "nvd@nist.gov"},
		},
		VendorSeverity: "high",
		EPSS:           &epss,
		EPSSPercentile: &pct,
		KEV:            true,
		KEVDateAdded:   time.Date(2022, 5, 4, 0, 0, 0, 0, time.UTC),
		FixAvailable:   "YES",
	})
	fmt.Println(r.Score, r.Severity, r.ScoreSource, r.Base.Vector, r.Base.BaseScore)
	for _, a := range r.Adjustments {
		fmt.Printf("%s: %s\n", a.Metric, a.Reason)
	}
	// Output:
	// 7.5 HIGH NVD CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N 7.5
	// kev: listed in CISA's Known Exploited Vulnerabilities catalog since 2022-05-04: score already at least 7.0
	// epss: EPSS probability 0.99999 (percentile 0.99997): not added, known exploitation (kev) already accounts for it
}
