package vulndb

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestEcosystemSourcesAgreesWithTheJoin: for every ecosystem of the
// shared feeds, the feeds EcosystemSources names are exactly those that
// joining every affected row with its advisory finds.
func TestEcosystemSourcesAgreesWithTheJoin(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Import(ctx, []string{testenv.Shared(t, "vulndb")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ecos, err := db.Ecosystems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ecos) < 10 {
		t.Fatalf("only %d ecosystems in the shared feeds: %v", len(ecos), ecos)
	}
	for _, e := range append(ecos, "no-such-ecosystem") {
		got, err := db.EcosystemSources(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.db.QueryContext(ctx, `SELECT DISTINCT a.source FROM affected f JOIN advisories a ON a.id = f.id
			WHERE f.ecosystem = ? ORDER BY a.source`, e)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			want = append(want, s)
		}
		rows.Close()
		if !slices.Equal(got, want) {
			t.Errorf("%s: EcosystemSources %v, the join %v", e, got, want)
		}
	}
}
