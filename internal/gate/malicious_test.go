package gate

import (
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/store"
)

// TestGateRejectsMalicious: a malicious package rejects the image under
// every policy — one that allows everything, counts only fixable or
// reachable findings, or ignores suppressed ones — and only a CLOSED
// finding of it does not.
func TestGateRejectsMalicious(t *testing.T) {
	mal := func(status string) store.Finding {
		f := finding("m", "UNTRIAGED", status)
		f.VulnerabilityID, f.PackageName, f.PackageVersion, f.FixAvailable = "MAL-2022-9", "0-dns", "1.0.0", "NO"
		f.NotReachable = "not known to be reachable"
		return f
	}
	zero := 0
	allowAll := store.GatePolicy{Name: "allow-all"}
	strict := DefaultPolicy()
	scoped := store.GatePolicy{Name: "scoped", FixableOnly: true, ReachableOnly: true, MaxCritical: &zero, MaxUntriaged: &zero}
	for _, p := range []store.GatePolicy{allowAll, strict, scoped} {
		for _, status := range []string{store.Active, store.Suppressed} {
			v := Evaluate(p, []store.Finding{finding("1", "LOW", store.Active), mal(status)})
			if v.Decision != store.Rejected || !strings.Contains(v.Reason, "MAL-2022-9 (0-dns 1.0.0)") {
				t.Errorf("%s, %s: %s: %s", p.Name, status, v.Decision, v.Reason)
			}
			if len(v.Findings) != 1 || v.Findings[0].Rule != RuleMalicious || v.Findings[0].VulnerabilityID != "MAL-2022-9" {
				t.Errorf("%s, %s: findings %+v", p.Name, status, v.Findings)
			}
		}
		if v := Evaluate(p, []store.Finding{mal(store.Closed)}); v.Decision != store.Approved {
			t.Errorf("%s, closed: %s: %s", p.Name, v.Decision, v.Reason)
		}
	}
}
