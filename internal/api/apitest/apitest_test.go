package apitest

import (
	"context"
	"testing"

	"github.com/vigilsec/vigil/internal/store"
)

// TestFixture checks that the fixture is stored as described.
func TestFixture(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	if len(s.Fixture.Findings) != 7 {
		t.Fatalf("%d findings, want 7", len(s.Fixture.Findings))
	}
	all, _, err := s.Store.ListFindings(ctx, store.FindingQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 7 {
		t.Fatalf("store holds %d findings, want 7", len(all))
	}
	for _, f := range all {
		want, ok := s.Fixture.Findings[f.ID]
		if !ok || want.Severity != f.Severity || want.Repository != f.Repository || f.Status != store.Active {
			t.Errorf("stored %s %s %s %s; fixture %+v", f.ID, f.Repository, f.Severity, f.Status, want)
		}
	}
	im, err := s.Store.ImageByTag(ctx, "team/app", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if im.Counts.Critical != 1 || im.Counts.High != 1 || im.Counts.Medium != 1 || im.Counts.Total != 3 || im.ScanStatus != store.ScanComplete || im.InventoryHash == "" {
		t.Errorf("team/app:1.0 is %+v", im)
	}
	web, err := s.Store.ImageByTag(ctx, "team/web", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if web.ScanStatus != store.ScanPending || web.InventoryHash != "" {
		t.Errorf("team/web:dev is %+v", web)
	}
}

// TestFixtureGate checks that the server has a gate over its store, and
// none when asked.
func TestFixtureGate(t *testing.T) {
	s := New(t)
	if s.Gate == nil {
		t.Fatal("no gate")
	}
	im := s.Fixture.Images[0]
	j, err := s.Gate.Judge(context.Background(), im.Repository, im.Digest)
	if err != nil || !j.Ready || j.Image == nil || j.Decision != store.Rejected {
		t.Errorf("judging %s: %+v, %v", im.Repository, j, err)
	}
	if s := New(t, WithoutGate()); s.Gate != nil {
		t.Error("WithoutGate has a gate")
	}
}
