package score

import (
	"math"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/vuln"
)

// TestParseCVSSPublished checks base scores against numbers published by
// others, never against our own output. Sources:
//
//   - FIRST31: FIRST, "Common Vulnerability Scoring System v3.1: Examples"
//     (https://www.first.org/cvss/v3.1/examples), the scored examples.
//   - FIRST2: FIRST, "A Complete Guide to the Common Vulnerability Scoring
//     System Version 2.0", section 3.3 (worked examples).
//   - FIRST40: FIRST, "Common Vulnerability Scoring System v4.0: Examples"
//     (https://www.first.org/cvss/v4-0/examples).
//   - NVD: the base score NVD publishes on https://nvd.nist.gov/vuln/detail/<CVE>.
//   - GHSA: the score GitHub's Advisory Database publishes with the
//     vector (cvss_severities in its API), computed with FIRST's
//     calculators.
func TestParseCVSSPublished(t *testing.T) {
	for _, tc := range []struct {
		vector, version string
		want            float64
		source          string
	}{
		// CVSS v3.1
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "3.1", 10.0, "NVD CVE-2021-44228 (Log4Shell)"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "3.1", 7.5, "NVD CVE-2014-0160 (Heartbleed); FIRST31 Heartbleed"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "3.1", 6.1, "FIRST31 CVE-2013-1937 phpMyAdmin reflected XSS"},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", "3.1", 6.4, "FIRST31 CVE-2013-0375 MySQL stored SQL injection"},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", "3.1", 3.1, "FIRST31 CVE-2014-3566 SSLv3 POODLE"},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", "3.1", 9.9, "FIRST31 CVE-2012-1516 VMware guest to host escape"},
		{"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", "3.1", 4.2, "FIRST31 CVE-2009-0783 Apache Tomcat XML parser"},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "3.1", 8.8, "FIRST31 CVE-2012-0384 Cisco IOS command execution"},
		{"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", "3.1", 7.8, "FIRST31 CVE-2015-1098 Apple iWork"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", 9.8, "FIRST31 CVE-2014-6271 Shellshock"},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", "3.1", 6.8, "FIRST31 CVE-2008-1447 DNS cache poisoning"},
		{"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", 6.8, "FIRST31 CVE-2014-2005 Sophos login screen bypass"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", "3.1", 5.8, "FIRST31 CVE-2010-0467 Joomla directory traversal"},
		{"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", "3.1", 9.3, "FIRST31 CVE-2013-6014 Juniper proxy ARP"},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", "3.1", 5.4, "FIRST31 CVE-2014-9253 DokuWiki reflected XSS"},
		{"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", "3.1", 4.6, "FIRST31 CVE-2014-2019 Apple iOS security control bypass"},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", "3.1", 7.4, "GHSA-6c5p-j8vq-pqhj (CVE-2024-33663)"},
		{"CVSS:3.1/AV:L/AC:H/PR:H/UI:N/S:C/C:L/I:N/A:N", "3.1", 2.5, "GHSA-g92j-qhmh-64v2 (CVE-2024-40647)"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", "3.1", 5.3, "GHSA-cjwg-qfpm-7377 (CVE-2024-33664)"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "3.1", 7.5, "GHSA-59g5-xgcq-4qw3 (CVE-2024-53981)"},
		// Temporal and environmental metrics do not change the base score.
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/E:U/RL:O/RC:C/CR:L", "3.1", 7.5, "NVD CVE-2014-0160 base metrics"},

		// CVSS v3.0
		{"CVSS:3.0/AV:L/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:L", "3.0", 4.9, "GHSA-45pg-36p6-83v9 (CVE-2024-8309)"},
		{"CVSS:3.0/AV:P/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", "3.0", 4.2, "GHSA-3hjh-jh2h-vrg6 (CVE-2024-2965)"},
		{"CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N", "3.0", 5.3, "GHSA-jw8x-6495-233v (CVE-2024-5206)"},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.0", 9.8, "GHSA-7m75-x27w-r52r (CVE-2024-3829)"},

		// CVSS v2
		{"AV:N/AC:M/Au:N/C:C/I:C/A:C", "2.0", 9.3, "NVD CVE-2021-44228 v2"},
		{"AV:N/AC:L/Au:N/C:P/I:N/A:N", "2.0", 5.0, "NVD CVE-2014-0160 v2"},
		{"AV:N/AC:L/Au:N/C:N/I:N/A:C", "2.0", 7.8, "FIRST2 CVE-2002-0392 Apache chunked encoding"},
		{"AV:N/AC:L/Au:N/C:C/I:C/A:C", "2.0", 10.0, "FIRST2 CVE-2003-0818 Microsoft ASN.1"},
		{"AV:L/AC:H/Au:N/C:C/I:C/A:C", "2.0", 6.2, "FIRST2 CVE-2003-0062 NOD32 antivirus"},
		{"AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C", "2.0", 7.8, "FIRST2 CVE-2002-0392 with its temporal metrics"},

		// CVSS v4.0
		{"CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 7.3, "FIRST40 CVE-2022-41741 nginx mp4 module"},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N", "4.0", 9.3, "GHSA-6c5p-j8vq-pqhj (CVE-2024-33663)"},
		{"CVSS:4.0/AV:L/AC:L/AT:P/PR:H/UI:N/VC:N/VI:N/VA:N/SC:L/SI:N/SA:N", "4.0", 1.8, "GHSA-g92j-qhmh-64v2 (CVE-2024-40647)"},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", "4.0", 8.7, "GHSA-59g5-xgcq-4qw3 (CVE-2024-53981)"},
		{"CVSS:4.0/AV:L/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N", "4.0", 2.1, "GHSA-45pg-36p6-83v9 (CVE-2024-8309)"},
		// The threat metric E:U lowers CVSS-BT, not the base score.
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/E:U", "4.0", 9.3, "GHSA-6c5p-j8vq-pqhj base metrics"},
		{"CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/CR:L/MAV:P/S:P/U:Red", "4.0", 7.3, "FIRST40 CVE-2022-41741 base metrics"},
	} {
		t.Run(tc.vector, func(t *testing.T) {
			c, err := ParseCVSS(tc.vector)
			if err != nil {
				t.Fatalf("ParseCVSS: %v", err)
			}
			if c.BaseScore != tc.want || c.Version != tc.version || c.Vector != tc.vector {
				t.Errorf("got %+v, want version %s base %.1f (%s)", c, tc.version, tc.want, tc.source)
			}
		})
	}
}

// TestParseCVSSMalformed: every malformed vector is an error, never a 0.
func TestParseCVSSMalformed(t *testing.T) {
	for _, v := range []string{
		"",
		"garbage",
		"CVSS:3.1/",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N",          // A missing
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/A:N",  // A twice
		"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",      // AV has no X
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/ZZ:Q", // unknown metric
		"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N",
		"CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", // no such version
		"CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:N/A:N",          // v2 has no prefix
		"AV:N/AC:L/Au:N/C:P/I:N",
		"AV:N/AC:L/Au:N/C:P/I:N/A:Q",
		"AV:N/AC:L/Au:N/C:P/A:N/I:N",                                       // v2 order is fixed
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",       // SA missing
		"CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",  // order
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/", // trailing slash
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:Q",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" + strings.Repeat("/E:X", 200), // too long
	} {
		if c, err := ParseCVSS(v); err == nil {
			t.Errorf("ParseCVSS(%q) = %+v, want an error", v, c)
		} else if !strings.HasPrefix(err.Error(), "score: ") {
			t.Errorf("ParseCVSS(%q): error %q lacks the package prefix", v, err)
		}
	}
}

func TestParseCVSSTrims(t *testing.T) {
	c, err := ParseCVSS("  CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N\n")
	if err != nil || c.Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" || c.BaseScore != 7.5 {
		t.Errorf("got %+v, %v", c, err)
	}
}

func TestFromSeverity(t *testing.T) {
	c, err := FromSeverity(vuln.Severity{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Source: "debian"})
	if err != nil || c.Source != "debian" || c.BaseScore != 7.5 {
		t.Errorf("got %+v, %v", c, err)
	}
	for _, s := range []vuln.Severity{
		{Type: vuln.CVSSv3, Score: "AV:N/AC:L/Au:N/C:P/I:N/A:N"},
		{Type: vuln.CVSSv2, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"},
		{Type: vuln.CVSSv4, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"},
		{Type: "Ubuntu", Score: "medium"},
	} {
		if _, err := FromSeverity(s); err == nil {
			t.Errorf("FromSeverity(%+v): want an error", s)
		}
	}
}

func FuzzParseCVSS(f *testing.F) {
	for _, s := range []string{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
		"CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C",
		"AV:N/AC:M/Au:N/C:C/I:C/A:C",
		"AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:H",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		"CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/CR:L/MAV:P/MSI:S/S:P/U:Red",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseCVSS(v)
		if err != nil {
			return
		}
		if c.BaseScore < 0 || c.BaseScore > 10 || math.Abs(c.BaseScore*10-math.Round(c.BaseScore*10)) > 1e-9 {
			t.Fatalf("ParseCVSS(%q) = %+v: score not in [0, 10] with one decimal", v, c)
		}
		switch c.Version {
		case "2.0", "3.0", "3.1", "4.0":
		default:
			t.Fatalf("ParseCVSS(%q): version %q", v, c.Version)
		}
		// A parsed vector parses again to the same thing.
		if c2, err := ParseCVSS(c.Vector); err != nil || c2 != c {
			t.Fatalf("ParseCVSS(%q) = %+v, reparse = %+v, %v", v, c, c2, err)
		}
	})
}
