// Package score turns what is known about one vulnerability in one image
// into Vigil's score (Inspector's inspectorScore), its severity band, and
// the list of adjustments that explain how the score left its CVSS base
// (Inspector's inspectorScoreDetails.adjustedCvss).
//
// # The base
//
// The score starts from one CVSS base score, chosen in this order:
//
//  1. the vendor's CVSS v3.1, else v3.0 — the distribution or ecosystem
//     database that published the advisory knows how its build is
//     affected (Debian, Red Hat, Alpine rate their own packages), which
//     is why Inspector starts there too;
//  2. NVD's primary CVSS v3.x (scored by nvd@nist.gov), then NVD's
//     secondary v3.x (the CNA's, which is all NVD holds for CVEs it has
//     not analysed yet), then the v3.x of an alias's record that did not
//     match the package itself (the GitHub advisory of a CVE that a
//     Debian advisory fixed; ScoreSource ALIAS);
//  3. CVSS v4.0, the vendor's, NVD's, then an alias's, when no v3 vector exists: v4
//     scores run systematically different from v3 (the same flaw often
//     scores higher), so mixing them would make scores of similar
//     findings disagree; v3 is still what nearly every source publishes;
//  4. CVSS v2, the vendor's, NVD's, then an alias's: deprecated and coarse, but better
//     than nothing for old CVEs;
//  5. with no usable vector at all, the vendor's own severity word
//     ("Important", "high", "moderate"…) maps to the lower edge of its
//     band (critical 9.0, high 7.0, medium 4.0, low 0.1) and the result
//     says so (ScoreSource VENDOR_SEVERITY): the lower edge claims no
//     more than the vendor said;
//  6. otherwise the finding is UNTRIAGED: nothing scored it, which is
//     not the same as harmless.
//
// Vectors that fail to parse are skipped (the next candidate is used) and
// listed in Result.Problems, never silently taken as a zero.
//
// The base score of a vector comes from its base metrics only: temporal,
// threat and environmental metrics some sources add are ignored, since
// Vigil applies its own context below and would otherwise count it twice.
//
// # Adjustments
//
// Each adjustment is recorded as {Metric, Reason}, like Inspector's
// adjustedCvss.adjustments, including those that left the score as it was
// (the reason says so), so that a reader sees every signal that was
// considered. They are applied in this order, each on the result of the
// previous one, in tenths so that the score stays at one decimal, and
// the result is kept in [0, 10]:
//
//   - reachable: when analysis showed the vulnerable code is not reachable
//     in the image (for a Go binary: none of the vulnerable functions the
//     Go vulnerability database names, inlined ones included, is compiled
//     into it, or the flaw is for another platform; see package reach),
//     the score drops by 2.0 but not below 0.1. Reachability analysis
//     has false negatives (reflection, plugins, code paths it cannot
//     see), so the finding is demoted about one band, never hidden; an
//     unscored finding only records that the analysis was made.
//   - kev: a vulnerability in CISA's Known Exploited Vulnerabilities
//     catalog is being exploited in the wild; the score is raised to at
//     least 7.0 (HIGH), and to at least 9.0 (CRITICAL) when CISA knows it
//     is used in ransomware campaigns. This applies even when nothing else
//     scored the vulnerability: a known-exploited flaw is never left
//     UNTRIAGED. It also overrides the reachability demotion, on purpose:
//     when exploitation is observed, the cost of a wrong "unreachable"
//     is too high.
//   - epss: FIRST's EPSS probability of exploitation activity in the next
//     30 days adds 1.0 when it is at least 0.5 and 0.5 when at least 0.1
//     (1.2% and 4.8% of all CVEs in the 2026-08-16 scores); a prediction raises
//     the score modestly, less than observed exploitation. It is not
//     added on top of kev, which already accounts for exploitation
//     (recorded, with that reason), and it needs a score to raise.
//   - fixAvailable: when no fix exists ("NO") or only for some packages
//     ("PARTIAL"), this is recorded but the score is NOT lowered. The
//     score measures risk, and an unfixable flaw is no less exploitable;
//     lowering it would hide unfixable criticals that need mitigation
//     (removing the package, configuration, compensating controls) and
//     would make the score jump when the fix ships. Inspector does not
//     lower it either. Policies that only care about actionable findings
//     filter on fixAvailable instead (the gate's fixable-only rule).
//
// # Severity
//
// The severity comes from the adjusted score with Inspector's bands:
// 0.0 INFORMATIONAL, 0.1–3.9 LOW, 4.0–6.9 MEDIUM, 7.0–8.9 HIGH,
// 9.0–10.0 CRITICAL, and UNTRIAGED when nothing scored the vulnerability.
// The same bands apply to CVSS v2 scores, although NVD rated v2 with three
// bands only (a v2 9.3 is HIGH in NVD and CRITICAL here).
package score
