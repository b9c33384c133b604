package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
	"github.com/vigilsec/vigil/internal/web"
)

// TestDashboardFeedAges: the dashboard lists each feed of a real database
// with the age of its data — KEV's dateReleased, the secdb's "unknown" —
// not the time it was imported, and says when active findings are
// untriaged for want of a score source.
func TestDashboardFeedAges(t *testing.T) {
	d, err := vulndb.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Import(ctx, []string{testenv.Shared(t, "vulndb/kev"), testenv.Shared(t, "vulndb/alpine-secdb/v3.7/main.json")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(ctx, d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	feeds := func(ctx context.Context) ([]web.Feed, error) {
		srcs, err := db.Sources(ctx)
		var out []web.Feed
		for _, s := range srcs {
			out = append(out, web.Feed{Name: s.Name, Records: s.Records, DataAsOf: s.Updated, From: s.UpdatedFrom})
		}
		return out, err
	}
	e := newEnv(t, func(o *web.Options) { o.Feeds = feeds })
	seed(t, e)
	body := e.signIn(store.RoleReadOnly).page("/")
	// The fixture's stdlib GO-2024-3106 in team/app is UNTRIAGED.
	for _, want := range []string{"untriaged, for want of a score source", `href="/findings?severity=UNTRIAGED"`, "Vulnerability data", `data-feed="kev"`, "2025-08-25 (", vulndb.AgeFeedDate, `data-feed="alpine/v3.7/main"`, "unknown"} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
}
