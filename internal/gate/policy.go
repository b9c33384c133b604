// Package gate is Vigil's deployment gate: pipelines ask whether an image
// may be deployed, and the gate answers Approved or Rejected by a policy
// over the image's findings, naming the policy and every finding that
// caused a rejection. A scan that fails, an image Vigil cannot scan and a
// request that times out are rejected unless a policy says otherwise: the
// gate fails closed and never leaves a pipeline hanging. Decisions are
// made again when a rescan changes an image's findings.
package gate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

// Actions for failures and timeouts.
const (
	Reject  = "REJECT"
	Approve = "APPROVE"
)

func intp(n int) *int { return &n }

// DefaultPolicy applies when no stored policy covers a repository. Its
// thresholds are those of the AWS sample pipeline (critical 0, high 0,
// medium 10, low 15, where a level rejects when its count is not 0 and
// reaches the threshold), written as the most findings allowed: no
// critical, no high, at most 9 medium and 14 low. Unlike the sample's, the
// low threshold is applied.
func DefaultPolicy() store.GatePolicy {
	return store.GatePolicy{
		Name: "default", MaxCritical: intp(0), MaxHigh: intp(0), MaxMedium: intp(9), MaxLow: intp(14),
		OnScanFailure: Reject, OnUnsupported: Reject, OnTimeout: Reject,
	}
}

var policyName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidatePolicy checks a policy, naming what is wrong.
func ValidatePolicy(p *store.GatePolicy) error {
	if !policyName.MatchString(p.Name) {
		return fmt.Errorf("gate: policy name %q: 1 to 64 letters, digits, '.', '_' or '-'", p.Name)
	}
	if strings.Contains(strings.TrimSuffix(p.Repository, "*"), "*") {
		return fmt.Errorf("gate: policy %s: repository %q: only a trailing * is allowed", p.Name, p.Repository)
	}
	for name, v := range map[string]*int{"maxCritical": p.MaxCritical, "maxHigh": p.MaxHigh, "maxMedium": p.MaxMedium, "maxLow": p.MaxLow, "maxUntriaged": p.MaxUntriaged} {
		if v != nil && *v < 0 {
			return fmt.Errorf("gate: policy %s: %s %d must not be negative", p.Name, name, *v)
		}
	}
	if s := p.MaxScore; s != nil && (*s < 0 || *s > 10) {
		return fmt.Errorf("gate: policy %s: maxScore %g (0 to 10)", p.Name, *s)
	}
	for name, v := range map[string]*string{"onScanFailure": &p.OnScanFailure, "onUnsupported": &p.OnUnsupported, "onTimeout": &p.OnTimeout} {
		switch strings.ToUpper(*v) {
		case "":
			*v = Reject
		case Reject, Approve:
			*v = strings.ToUpper(*v)
		default:
			return fmt.Errorf("gate: policy %s: %s %q (REJECT or APPROVE)", p.Name, name, *v)
		}
	}
	if p.TimeoutSeconds < 0 {
		return fmt.Errorf("gate: policy %s: timeoutSeconds %d must not be negative", p.Name, p.TimeoutSeconds)
	}
	return nil
}

// Select picks the policy for a repository: the one naming it exactly,
// else the one with the longest matching prefix, else the default one
// (repository ""), else DefaultPolicy.
func Select(policies []store.GatePolicy, repository string) store.GatePolicy {
	sort.Slice(policies, func(i, j int) bool { return policies[i].Name < policies[j].Name })
	best, bestLen := -1, -1
	for i, p := range policies {
		n := -1
		switch {
		case p.Repository == repository:
			n = 1 << 20
		case strings.HasSuffix(p.Repository, "*") && strings.HasPrefix(repository, strings.TrimSuffix(p.Repository, "*")):
			n = len(p.Repository)
		case p.Repository == "":
			n = 0
		}
		if n > bestLen {
			best, bestLen = i, n
		}
	}
	if best < 0 {
		return DefaultPolicy()
	}
	return policies[best]
}
