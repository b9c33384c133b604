package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigilsec/vigil/internal/bus"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
)

// GateRuleName is the rule `vigil serve` creates on its first start,
// routing to the gate what settles approval requests.
const GateRuleName = "vigil-gate"

// gateRule routes completed scans, coverage changes and pushes to the
// gate.
func gateRule(now time.Time) store.EventRule {
	p, _ := json.Marshal(map[string]any{"$or": []any{
		map[string]any{"source": []string{events.SourceInspector}, "detail-type": []string{events.InspectorScan}},
		map[string]any{"source": []string{events.SourceInspector}, "detail-type": []string{events.InspectorCoverage},
			"detail": map[string]any{"scanStatus": map[string]any{"statusCodeValue": []string{events.CoverageInactive}}}},
		map[string]any{"source": []string{events.SourceECR}, "detail-type": []string{events.ECRImageAction},
			"detail": map[string]any{"action-type": []string{"PUSH", "DELETE"}}},
	}})
	return store.EventRule{
		Name:         GateRuleName,
		Description:  "Routes completed scans, failed or unsupported scans, pushes and deletions to the deployment gate",
		EventPattern: p, State: "ENABLED", ManagedBy: "builtin",
		Targets:   []store.Target{{ID: "gate", Type: store.TargetGate}},
		CreatedAt: now, UpdatedAt: now,
	}
}

// metaBuiltin records that the built-in rule was created once: an admin
// who deletes it is not overruled at the next start.
const metaBuiltin = "bus.builtin-rules"

// configure writes the built-in rule (once) and the configuration file's
// rules and policies to the store.
func (s *Server) configure(ctx context.Context) error {
	now := time.Now().UTC()
	done, err := s.store.GetMeta(ctx, metaBuiltin)
	if err != nil {
		return err
	}
	if done == "" {
		if _, err := s.store.EventRule(ctx, GateRuleName); errors.Is(err, store.ErrNotFound) {
			if err := s.store.PutEventRule(ctx, gateRule(now)); err != nil {
				return fmt.Errorf("server: built-in rule: %w", err)
			}
		} else if err != nil {
			return err
		}
		if err := s.store.SetMeta(ctx, metaBuiltin, "1"); err != nil {
			return err
		}
	}
	if err := s.upgradeGateRule(ctx, now); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, r := range s.cfg.Rules {
		r.ManagedBy, r.CreatedAt, r.UpdatedAt = "config", now, now
		if err := bus.Normalize(&r); err != nil {
			return fmt.Errorf("server: configuration: %w", err)
		}
		if err := bus.Validate(&r); err != nil {
			return fmt.Errorf("server: configuration: %w", err)
		}
		if err := bus.CheckTargets(ctx, s.egress, &r); err != nil {
			return fmt.Errorf("server: configuration: %w", err)
		}
		if err := s.store.PutEventRule(ctx, r); err != nil {
			return fmt.Errorf("server: configuration: rule %s: %w", r.Name, err)
		}
		names[r.Name] = true
	}
	rules, err := s.store.EventRules(ctx)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if r.ManagedBy == "config" && !names[r.Name] {
			if err := s.store.DeleteEventRule(ctx, r.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	for _, p := range s.cfg.GatePolicies {
		if err := gate.ValidatePolicy(&p); err != nil {
			return fmt.Errorf("server: configuration: %w", err)
		}
		p.CreatedAt, p.UpdatedAt = now, now
		if err := s.store.PutGatePolicy(ctx, p); err != nil {
			return fmt.Errorf("server: configuration: gate policy %s: %w", p.Name, err)
		}
	}
	return nil
}
