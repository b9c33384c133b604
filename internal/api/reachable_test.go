package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vigilsec/vigil/internal/store"
)

// TestUnscoredNotReachable: a finding nothing scored (UNTRIAGED, so no
// adjustments) whose code analysis showed is not in the image says why, in
// GET /findings/{id} and in /findings/list, as the console does — also
// when its stored Inspector JSON predates the field.
func TestUnscoredNotReachable(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const why = "the binary has encoding/gob but none of its vulnerable functions (Decoder.Decode, Decoder.DecodeValue)"
	var target store.Finding
	for _, f := range h.Fixture.Findings {
		if f.VulnerabilityID == "GO-2024-3106" {
			got, err := h.Store.Finding(ctx, f.ID)
			if err != nil {
				t.Fatal(err)
			}
			target = *got
		}
	}
	if target.ID == "" || target.Score != nil || target.Severity != "UNTRIAGED" {
		t.Fatalf("the fixture has no unscored GO-2024-3106 finding: %+v", target)
	}
	err := h.Store.UpdateFindings(ctx, target.Repository, target.ImageDigest, func(existing []store.Finding) (store.FindingsUpdate, error) {
		for _, f := range existing {
			if f.ID == target.ID {
				f.NotReachable = why
				return store.FindingsUpdate{Findings: []store.Finding{f}}, nil
			}
		}
		return store.FindingsUpdate{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.Store.Finding(ctx, target.ID); err != nil || got.NotReachable != why {
		t.Fatalf("stored %+v, %v", got, err)
	}
	type finding struct {
		FindingArn     string   `json:"findingArn"`
		Severity       string   `json:"severity"`
		InspectorScore *float64 `json:"inspectorScore"`
		NotReachable   *string  `json:"notReachable"`
	}
	var one finding
	h.call(readOnly, "GET", "/api/v1/findings/"+target.ID, nil).expect(t, 200).decode(t, &one)
	if one.NotReachable == nil || *one.NotReachable != why || one.Severity != "UNTRIAGED" || one.InspectorScore != nil {
		t.Errorf("GET answered %+v, want UNTRIAGED, unscored, notReachable %q", one, why)
	}
	var page struct {
		Findings []json.RawMessage `json:"findings"`
	}
	h.call(readOnly, "POST", "/api/v1/findings/list", map[string]any{"maxResults": 100}).expect(t, 200).decode(t, &page)
	seen := 0
	for _, raw := range page.Findings {
		var f finding
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		switch {
		case f.FindingArn == one.FindingArn:
			seen++
			if f.NotReachable == nil || *f.NotReachable != why {
				t.Errorf("list: %s", raw)
			}
		case f.NotReachable != nil:
			t.Errorf("list: a reachable finding has notReachable: %s", raw)
		}
	}
	if seen != 1 {
		t.Errorf("the finding was listed %d times", seen)
	}
}
