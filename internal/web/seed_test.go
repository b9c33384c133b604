package web_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/store"
)

// webhookSecret is the secret of the seeded webhook target: no page may
// show it.
const webhookSecret = "whsec-do-not-show-7f3a9c"

// seeded is what seed stored beside the fixture.
type seeded struct {
	dead, delivered int64
	decision        string
	zlib            apitest.Finding
}

// seed stores event rules (one from the API with a signed webhook, one
// from the configuration file), a dead and a delivered delivery, a gate
// policy, a pending request and a rejection naming a finding.
func seed(t *testing.T, e *env) seeded {
	t.Helper()
	ctx := context.Background()
	st := e.st
	pattern := json.RawMessage(`{"source":["aws.inspector2"],"detail-type":["Inspector2 Finding"]}`)
	for _, r := range []store.EventRule{
		{Name: "notify-security", Description: "Critical findings to the security channel", EventPattern: pattern, State: "ENABLED",
			ManagedBy: "api", Targets: []store.Target{{ID: "hook", Type: store.TargetWebhook, URL: "https://hooks.example.com/vigil", Secret: webhookSecret}}},
		{Name: "from-config", EventPattern: pattern, State: "ENABLED", ManagedBy: "config",
			Targets: []store.Target{{ID: "log", Type: store.TargetLog}}},
	} {
		if err := st.PutEventRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.Events(ctx, store.EventQuery{Limit: 10})
	if err != nil || len(evs) < 2 {
		t.Fatalf("events: %v, %v", evs, err)
	}
	if err := st.AddDeliveries(ctx, []store.Delivery{
		{EventID: evs[0].ID, Rule: "notify-security", Target: "hook", State: store.DeliveryDead, Attempts: 3, LastStatus: 502, LastError: "502 Bad Gateway"},
		{EventID: evs[1].ID, Rule: "notify-security", Target: "hook", State: store.DeliveryDelivered, Attempts: 1, LastStatus: 200, DeliveredAt: apitest.Now},
	}); err != nil {
		t.Fatal(err)
	}
	var s seeded
	ds, err := st.Deliveries(ctx, store.DeliveryQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.State == store.DeliveryDead {
			s.dead = d.ID
		} else {
			s.delivered = d.ID
		}
	}
	zero := 0
	if err := st.PutGatePolicy(ctx, store.GatePolicy{Name: "team-strict", Repository: "team/*", MaxCritical: &zero, MaxHigh: &zero,
		RejectKnownExploited: true, NewFindingsOnly: true, OnScanFailure: "REJECT", OnUnsupported: "REJECT", OnTimeout: "REJECT", CreatedAt: apitest.Now, UpdatedAt: apitest.Now}); err != nil {
		t.Fatal(err)
	}
	app := e.imageOf("team/app", "1.0")
	s.zlib = e.findingOf("team/app", "1.0", "zlib1g")
	if err := st.CreateGateRequest(ctx, store.GateRequest{ID: "req-1", Token: "gate-token-secret", Repository: "team/app", Digest: app.Digest,
		Pipeline: "deploy-app", Stage: "prod", Deadline: apitest.Now.Add(30 * 60e9), CreatedAt: apitest.Now}); err != nil {
		t.Fatal(err)
	}
	score := s.zlib.Score
	s.decision = "dec-1"
	if err := st.UpdateGateRequest(ctx, "req-1", func(r *store.GateRequest) (store.GateUpdate, error) {
		r.State, r.Decision, r.DecisionID = store.GateDecided, store.Rejected, s.decision
		return store.GateUpdate{Decision: &store.GateDecision{ID: s.decision, Decision: store.Rejected, Policy: "team-strict",
			Reason: "1 CRITICAL finding (at most 0 allowed)", Trigger: "request", DecidedAt: apitest.Now,
			DBVersion: "20261204T183257Z-3f2a9c1b7e4d", BaselineDigest: e.imageOf("team/app", "latest").Digest,
			Counts: store.Counts{Critical: 1, High: 1, Medium: 1, Total: 3},
			Findings: []store.GateFinding{{FindingArn: "arn:aws:inspector2:" + apitest.Region + ":" + apitest.Account + ":finding/" + s.zlib.ID,
				VulnerabilityID: s.zlib.VulnerabilityID, Severity: "CRITICAL", Score: &score, PackageName: "zlib1g", PackageVersion: "1:1.2.13.dfsg-1", Rule: "maxCritical"}}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateGateRequest(ctx, store.GateRequest{ID: "req-2", Token: "gate-token-2", Repository: "team/web", Tag: "dev",
		Pipeline: "deploy-web", Deadline: apitest.Now.Add(30 * 60e9), CreatedAt: apitest.Now}); err != nil {
		t.Fatal(err)
	}
	return s
}
