package gate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/store"
)

// Verdict is what a policy says of an image.
type Verdict struct {
	Decision string // Approved or Rejected
	Reason   string
	Trigger  string
	// Findings caused a rejection, most severe first.
	Findings []store.GateFinding
	// Counts are the findings the policy counted, per severity.
	Counts store.Counts
}

// Check is an immediate verdict on an image from its stored findings, as
// the API answers it for admission control. Ready is false when the image
// is not scanned yet: the decision is then Rejected (the gate fails
// closed).
type Check struct {
	Repository string              `json:"repository"`
	Digest     string              `json:"digest"`
	Ready      bool                `json:"ready"`
	Decision   string              `json:"decision"`
	Policy     string              `json:"policy"`
	Reason     string              `json:"reason"`
	ScanStatus string              `json:"scanStatus"`
	Findings   []store.GateFinding `json:"findings"`
	Counts     store.Counts        `json:"counts"`
	// DBVersion is the database version the findings judged were
	// matched with; BaselineDigest the approved image whose findings did
	// not count (newFindingsOnly).
	DBVersion      string `json:"dbVersion,omitempty"`
	BaselineDigest string `json:"baselineDigest,omitempty"`
}

// severities in the order they are judged and reported.
var severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNTRIAGED"}

func max(p *store.GatePolicy, sev string) *int {
	switch sev {
	case "CRITICAL":
		return p.MaxCritical
	case "HIGH":
		return p.MaxHigh
	case "MEDIUM":
		return p.MaxMedium
	case "LOW":
		return p.MaxLow
	case "UNTRIAGED":
		return p.MaxUntriaged
	}
	return nil
}

var ruleNames = map[string]string{
	"CRITICAL": "maxCritical", "HIGH": "maxHigh", "MEDIUM": "maxMedium", "LOW": "maxLow", "UNTRIAGED": "maxUntriaged",
}

// Evaluate judges an image's findings (every status; CLOSED ones never
// count) by policy p.
//
// A malicious package (a finding of an OpenSSF MAL- record) rejects the
// image under every policy, whatever its thresholds, fixable or
// reachable scope and suppressions: only a CLOSED finding (the package is
// gone) does not count.
func Evaluate(p store.GatePolicy, findings []store.Finding) Verdict {
	if v, ok := rejectMalicious(p, findings); ok {
		return v
	}
	var counted []store.Finding
	for _, f := range findings {
		switch {
		case f.Status == store.Closed:
		case f.Status == store.Suppressed && !p.CountSuppressed:
		case p.FixableOnly && f.FixAvailable != "YES" && f.FixAvailable != "PARTIAL":
		case p.ReachableOnly && f.NotReachable != "":
		default:
			counted = append(counted, f)
		}
	}
	v := Verdict{}
	bySev := map[string][]store.Finding{}
	for _, f := range counted {
		bySev[f.Severity] = append(bySev[f.Severity], f)
		switch f.Severity {
		case "CRITICAL":
			v.Counts.Critical++
		case "HIGH":
			v.Counts.High++
		case "MEDIUM":
			v.Counts.Medium++
		case "LOW":
			v.Counts.Low++
		case "INFORMATIONAL":
			v.Counts.Informational++
		default:
			v.Counts.Untriaged++
		}
		v.Counts.Total++
	}
	var reasons []string
	caused := map[string]bool{}
	add := func(f store.Finding, rule string) {
		if caused[f.ID+"/"+rule] {
			return
		}
		caused[f.ID+"/"+rule] = true
		v.Findings = append(v.Findings, gateFinding(f, rule))
	}
	if p.RejectKnownExploited {
		n := 0
		for _, f := range counted {
			if f.ExploitAvailable == "YES" {
				add(f, "rejectKnownExploited")
				n++
			}
		}
		if n > 0 {
			reasons = append(reasons, fmt.Sprintf("%s known to be exploited (CISA KEV)", plural(n, "finding")))
		}
	}
	if p.MaxScore != nil {
		n := 0
		for _, f := range counted {
			if f.Score != nil && *f.Score > *p.MaxScore {
				add(f, "maxScore")
				n++
			}
		}
		if n > 0 {
			reasons = append(reasons, fmt.Sprintf("%s scored above %.1f", plural(n, "finding"), *p.MaxScore))
		}
	}
	var within []string
	for _, sev := range severities {
		m := max(&p, sev)
		if m == nil {
			continue
		}
		n := len(bySev[sev])
		if sev == "UNTRIAGED" {
			n = v.Counts.Untriaged
		}
		if n > *m {
			for _, f := range counted {
				if f.Severity == sev || (sev == "UNTRIAGED" && !known(f.Severity)) {
					add(f, ruleNames[sev])
				}
			}
			reasons = append(reasons, fmt.Sprintf("%d %s (at most %d allowed)", n, strings.ToLower(sev), *m))
		} else {
			within = append(within, fmt.Sprintf("%d %s (at most %d)", n, strings.ToLower(sev), *m))
		}
	}
	sortFindings(v.Findings)
	scope := ""
	if p.FixableOnly {
		scope = " fixable"
	}
	if p.ReachableOnly {
		scope += " reachable"
	}
	if len(reasons) > 0 {
		v.Decision = store.Rejected
		v.Reason = "Rejected by policy " + p.Name + ":" + scope + " " + strings.Join(reasons, "; ") + "; " + countedText(v.Counts)
		return v
	}
	v.Decision = store.Approved
	v.Reason = "Approved by policy " + p.Name + ": all" + scope + " findings within its limits"
	if len(within) > 0 {
		v.Reason += " (" + strings.Join(within, ", ") + ")"
	}
	v.Reason += "; " + countedText(v.Counts)
	return v
}

func known(sev string) bool {
	switch sev {
	case "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL":
		return true
	}
	return false
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

var sevRank = map[string]int{"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3, "INFORMATIONAL": 4, "UNTRIAGED": 5}

func sortFindings(fs []store.GateFinding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if sevRank[a.Severity] != sevRank[b.Severity] {
			return sevRank[a.Severity] < sevRank[b.Severity]
		}
		if a.VulnerabilityID != b.VulnerabilityID {
			return a.VulnerabilityID < b.VulnerabilityID
		}
		if a.PackageName != b.PackageName {
			return a.PackageName < b.PackageName
		}
		return a.Rule < b.Rule
	})
}

// gateFinding names a finding in a decision, with what it broke.
func gateFinding(f store.Finding, rule string) store.GateFinding {
	g := store.GateFinding{
		VulnerabilityID: f.VulnerabilityID, Severity: f.Severity, Score: f.Score,
		PackageName: f.PackageName, PackageVersion: f.PackageVersion,
		KnownExploited: f.ExploitAvailable == "YES", Rule: rule,
	}
	var d struct {
		FindingArn string `json:"findingArn"`
		Details    struct {
			Packages []struct {
				FixedInVersion string `json:"fixedInVersion"`
			} `json:"vulnerablePackages"`
		} `json:"packageVulnerabilityDetails"`
	}
	if json.Unmarshal(f.Data, &d) == nil {
		g.FindingArn = d.FindingArn
		if len(d.Details.Packages) > 0 && d.Details.Packages[0].FixedInVersion != "NotAvailable" {
			g.FixedInVersion = d.Details.Packages[0].FixedInVersion
		}
	}
	return g
}

// partial reports a completed scan that could not assess the whole image:
// its reason is UNSUPPORTED_OS, INCOMPLETE_INVENTORY, PARTIAL_COVERAGE or
// any other the gate does not know to be a success. A completion that
// left the reason of the push (PENDING_INITIAL_SCAN), or none, counts as
// completions did before coverage was judged.
func partial(im *store.Image) bool {
	switch im.ScanReason {
	case "", coverage.ReasonSuccessful, "PENDING_INITIAL_SCAN":
		return false
	}
	return true
}

// judgePartial applies a policy to an image that is not fully covered: it
// is rejected, naming why, unless the policy allows partial coverage;
// findings that break the policy still reject it.
func judgePartial(p store.GatePolicy, v Verdict, why string) Verdict {
	if p.AllowPartialCoverage {
		if v.Decision == store.Approved {
			v.Reason += "; allowed although " + why
		}
		return v
	}
	reason := "Rejected by policy " + p.Name + ": " + why
	if v.Decision == store.Rejected {
		reason += "; and " + strings.TrimPrefix(v.Reason, "Rejected by policy "+p.Name+":")
	}
	v.Decision, v.Reason = store.Rejected, reason
	return v
}

// RuleMalicious is the rule a malicious package breaks: it is in every
// policy and cannot be turned off.
const RuleMalicious = "rejectMalicious"

// IsMalicious reports a finding of a malicious-package record.
func IsMalicious(f store.Finding) bool { return strings.HasPrefix(f.VulnerabilityID, "MAL-") }

// rejectMalicious is the verdict on an image with a malicious package
// that is not closed, suppressed or not.
func rejectMalicious(p store.GatePolicy, findings []store.Finding) (Verdict, bool) {
	v := Verdict{Decision: store.Rejected}
	var names []string
	for _, f := range findings {
		if f.Status == store.Closed || !IsMalicious(f) {
			continue
		}
		v.Findings = append(v.Findings, gateFinding(f, RuleMalicious))
		names = append(names, f.VulnerabilityID+" ("+f.PackageName+" "+f.PackageVersion+")")
	}
	if len(names) == 0 {
		return Verdict{}, false
	}
	sortFindings(v.Findings)
	sort.Strings(names)
	v.Reason = "Rejected by policy " + p.Name + ": " + plural(len(names), "malicious package") + ": " + strings.Join(names, ", ") +
		"; a malicious package rejects an image under every policy, suppressed or not"
	return v, true
}
