package gate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/store"
)

func finding(id, sev, status string) store.Finding {
	return store.Finding{ID: id, Severity: sev, Status: status, VulnerabilityID: "CVE-" + id, PackageName: "pkg" + id,
		PackageVersion: "1.0", FixAvailable: "YES", ExploitAvailable: "NO",
		Data: []byte(fmt.Sprintf(`{"findingArn":"arn:aws:inspector2:local:000000000000:finding/%s","packageVulnerabilityDetails":{"vulnerablePackages":[{"fixedInVersion":"1.1"}]}}`, id))}
}

// findingsWith makes n findings of each severity.
func findingsWith(counts map[string]int) []store.Finding {
	var out []store.Finding
	i := 0
	for sev, n := range counts {
		for k := 0; k < n; k++ {
			i++
			out = append(out, finding(fmt.Sprint(i), sev, store.Active))
		}
	}
	return out
}

// sampleRejects is the AWS sample evaluator's rule, as
// ../shared/aws-formats.md describes it: for CRITICAL, then HIGH, then
// MEDIUM, a level rejects when count != 0 and count >= threshold, with
// thresholds 0, 0, 10 (the sample never reads its LOW threshold of 15).
func sampleRejects(c, h, m int) bool {
	for _, l := range []struct{ count, threshold int }{{c, 0}, {h, 0}, {m, 10}} {
		if l.count != 0 && l.count >= l.threshold {
			return true
		}
	}
	return false
}

// TestDefaultPolicyIsTheSamples checks the default policy against the
// sample's thresholds on every count up to 20, and that LOW, which the
// sample ignores, is applied with its threshold of 15.
func TestDefaultPolicyIsTheSamples(t *testing.T) {
	p := DefaultPolicy()
	for c := 0; c <= 3; c++ {
		for h := 0; h <= 3; h++ {
			for m := 0; m <= 20; m++ {
				v := Evaluate(p, findingsWith(map[string]int{"CRITICAL": c, "HIGH": h, "MEDIUM": m}))
				if got := v.Decision == store.Rejected; got != sampleRejects(c, h, m) {
					t.Fatalf("critical %d high %d medium %d: %s (%s), the sample rejects: %v", c, h, m, v.Decision, v.Reason, sampleRejects(c, h, m))
				}
			}
		}
	}
	for low := 0; low <= 20; low++ {
		v := Evaluate(p, findingsWith(map[string]int{"LOW": low}))
		if want := low != 0 && low >= 15; (v.Decision == store.Rejected) != want {
			t.Errorf("%d low: %s", low, v.Decision)
		}
	}
}

func TestEvaluate(t *testing.T) {
	score := func(f store.Finding, s float64) store.Finding { f.Score = &s; return f }
	kev := func(f store.Finding) store.Finding { f.ExploitAvailable = "YES"; return f }
	unfixed := func(f store.Finding) store.Finding { f.FixAvailable = "NO"; return f }
	unreachable := func(f store.Finding) store.Finding {
		f.NotReachable = "the binary does not contain the package example.com/m/p"
		return f
	}
	zero, two := 0, 2
	high := 8.0
	cases := []struct {
		name     string
		policy   store.GatePolicy
		findings []store.Finding
		decision string
		causes   []string // "vuln rule"
		reason   string
	}{
		{"nothing", DefaultPolicy(), nil, store.Approved, nil, "within its limits"},
		{"one critical", DefaultPolicy(), []store.Finding{finding("1", "CRITICAL", store.Active), finding("2", "LOW", store.Active)},
			store.Rejected, []string{"CVE-1 maxCritical"}, "1 critical (at most 0 allowed)"},
		{"suppressed and closed do not count", DefaultPolicy(),
			[]store.Finding{finding("1", "CRITICAL", store.Suppressed), finding("2", "HIGH", store.Closed)}, store.Approved, nil, ""},
		{"suppressed counted when asked", store.GatePolicy{Name: "strict", MaxCritical: &zero, CountSuppressed: true},
			[]store.Finding{finding("1", "CRITICAL", store.Suppressed)}, store.Rejected, []string{"CVE-1 maxCritical"}, ""},
		{"fixable only", store.GatePolicy{Name: "fix", MaxHigh: &zero, FixableOnly: true},
			[]store.Finding{unfixed(finding("1", "HIGH", store.Active)), finding("2", "HIGH", store.Active)},
			store.Rejected, []string{"CVE-2 maxHigh"}, "fixable 1 high"},
		{"fixable only, nothing fixable", store.GatePolicy{Name: "fix", MaxHigh: &zero, FixableOnly: true},
			[]store.Finding{unfixed(finding("1", "HIGH", store.Active))}, store.Approved, nil, ""},
		{"reachable only", store.GatePolicy{Name: "reach", MaxUntriaged: &zero, MaxHigh: &zero, ReachableOnly: true},
			[]store.Finding{unreachable(finding("1", "UNTRIAGED", store.Active)), unreachable(finding("2", "HIGH", store.Active)), finding("3", "UNTRIAGED", store.Active)},
			store.Rejected, []string{"CVE-3 maxUntriaged"}, "reachable 1 untriaged"},
		{"unreachable findings count by default", store.GatePolicy{Name: "all", MaxHigh: &zero},
			[]store.Finding{unreachable(finding("1", "HIGH", store.Active))}, store.Rejected, []string{"CVE-1 maxHigh"}, ""},
		{"known exploited", store.GatePolicy{Name: "kev", RejectKnownExploited: true},
			[]store.Finding{kev(finding("1", "LOW", store.Active)), finding("2", "CRITICAL", store.Active)},
			store.Rejected, []string{"CVE-1 rejectKnownExploited"}, "1 finding known to be exploited"},
		{"max score", store.GatePolicy{Name: "score", MaxScore: &high},
			[]store.Finding{score(finding("1", "HIGH", store.Active), 8.1), score(finding("2", "HIGH", store.Active), 8.0), finding("3", "UNTRIAGED", store.Active)},
			store.Rejected, []string{"CVE-1 maxScore"}, "scored above 8.0"},
		{"max per severity", store.GatePolicy{Name: "m", MaxMedium: &two},
			findingsWith(map[string]int{"MEDIUM": 3}), store.Rejected, []string{"CVE-1 maxMedium", "CVE-2 maxMedium", "CVE-3 maxMedium"}, "3 medium (at most 2 allowed)"},
		{"untriaged", store.GatePolicy{Name: "u", MaxUntriaged: &zero},
			[]store.Finding{finding("1", "UNTRIAGED", store.Active)}, store.Rejected, []string{"CVE-1 maxUntriaged"}, "1 untriaged"},
		{"several rules", store.GatePolicy{Name: "all", MaxCritical: &zero, RejectKnownExploited: true},
			[]store.Finding{kev(finding("1", "CRITICAL", store.Active))}, store.Rejected,
			[]string{"CVE-1 maxCritical", "CVE-1 rejectKnownExploited"}, "known to be exploited (CISA KEV); 1 critical"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Evaluate(c.policy, c.findings)
			if v.Decision != c.decision {
				t.Fatalf("%s (%s), want %s", v.Decision, v.Reason, c.decision)
			}
			var got []string
			for _, f := range v.Findings {
				got = append(got, f.VulnerabilityID+" "+f.Rule)
				if f.FindingArn == "" || f.FixedInVersion != "1.1" {
					t.Errorf("finding %+v lacks its ARN or fixed version", f)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.causes, ",") {
				t.Errorf("causes %v, want %v", got, c.causes)
			}
			if !strings.Contains(v.Reason, c.reason) || !strings.Contains(v.Reason, c.policy.Name) {
				t.Errorf("reason %q should name the policy and say %q", v.Reason, c.reason)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	ps := []store.GatePolicy{
		{Name: "default", Repository: ""}, {Name: "team", Repository: "team/*"}, {Name: "team-app", Repository: "team/app"},
		{Name: "team-ap", Repository: "team/ap*"},
	}
	for repo, want := range map[string]string{"team/app": "team-app", "team/apple": "team-ap", "team/db": "team", "other/x": "default"} {
		if got := Select(ps, repo).Name; got != want {
			t.Errorf("%s: %s, want %s", repo, got, want)
		}
	}
	if got := Select(ps[1:2], "other/x").Name; got != "default" || Select(nil, "x").MaxCritical == nil {
		t.Errorf("without a default policy: %s", got)
	}
}

func TestValidatePolicy(t *testing.T) {
	neg, big := -1, 11.0
	for _, c := range []struct {
		p    store.GatePolicy
		want string
	}{
		{store.GatePolicy{Name: ""}, "policy name"},
		{store.GatePolicy{Name: "a", Repository: "te*am"}, "trailing *"},
		{store.GatePolicy{Name: "a", MaxHigh: &neg}, "maxHigh -1"},
		{store.GatePolicy{Name: "a", MaxScore: &big}, "maxScore 11"},
		{store.GatePolicy{Name: "a", OnTimeout: "WAIT"}, `onTimeout "WAIT"`},
		{store.GatePolicy{Name: "a", TimeoutSeconds: -5}, "timeoutSeconds -5"},
	} {
		if err := ValidatePolicy(&c.p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.p, err, c.want)
		}
	}
	p := store.GatePolicy{Name: "ok", OnScanFailure: "approve"}
	if err := ValidatePolicy(&p); err != nil || p.OnScanFailure != Approve || p.OnTimeout != Reject {
		t.Errorf("%v %+v", err, p)
	}
}

func TestParseReference(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for in, want := range map[string]Reference{
		"team/app:1.0":                      {Repository: "team/app", Tag: "1.0"},
		"team/app":                          {Repository: "team/app", Tag: "latest"},
		"localhost:5000/team/app:v2":        {Repository: "team/app", Tag: "v2"},
		"vigil.example.com/team/app@" + d:   {Repository: "team/app", Digest: d},
		"vigil.example.com/team/app:1@" + d: {Repository: "team/app", Digest: d},
		"registry:5000/a/b/c:t":             {Repository: "a/b/c", Tag: "t"},
		"app":                               {Repository: "app", Tag: "latest"},
	} {
		got, err := ParseReference(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "team/app@sha256:short", "Team/App:1", "team//app", "team/app:", "localhost:5000/"} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestDecisionStatesEveryCount: whatever the outcome, the reason states
// the count of every severity, untriaged included.
func TestDecisionStatesEveryCount(t *testing.T) {
	zero := 0
	fs := []store.Finding{finding("1", "HIGH", store.Active), finding("2", "UNTRIAGED", store.Active), finding("3", "UNTRIAGED", store.Active)}
	for _, p := range []store.GatePolicy{
		{Name: "lenient"},
		{Name: "strict", MaxHigh: &zero},
	} {
		v := Evaluate(p, fs)
		want := "counted 0 critical, 1 high, 0 medium, 0 low, 0 informational, 2 untriaged"
		if !strings.Contains(v.Reason, want) {
			t.Errorf("%s: %s: reason %q lacks %q", p.Name, v.Decision, v.Reason, want)
		}
	}
}
