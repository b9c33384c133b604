package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
	"github.com/vigilsec/vigil/internal/store/storetest"
)

func open(t testing.TB, path string) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "vigil.db"))
	})
}

// Two handles on one file, as two processes would have.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "vigil.db")
		return open(t, path), open(t, path)
	})
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	ctx := context.Background()
	s := open(t, path)
	if err := s.SetMeta(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path) // migrations already applied: nothing to do
	defer s.Close()
	if v, err := s.GetMeta(ctx, "k"); err != nil || v != "v" {
		t.Errorf("after reopening: %q, %v", v, err)
	}
}

func TestSchemaNewerThanCode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	open(t, path).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("opening a newer schema: %v, want an error saying so", err)
	}
}

// TestMigrationMissedBelowLatest: a database that has a later migration
// but lacks an earlier one (merged after it was applied) gets the earlier
// one at the next start.
func TestMigrationMissedBelowLatest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	open(t, path).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var latest int
	if err := db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&latest); err != nil {
		t.Fatal(err)
	}
	// Undo migration 3 (a column of findings) but keep every later one.
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE findings DROP COLUMN not_reachable`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	open(t, path).Close()
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE version = 3`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("migration 3 recorded %d times (%v), want once", n, err)
	}
	if _, err := db.Exec(`SELECT not_reachable FROM findings`); err != nil {
		t.Errorf("migration 3 not applied again: %v", err)
	}
	if latest < 4 {
		t.Fatalf("latest migration %d: the test needs one after 3", latest)
	}
}

func TestBadPath(t *testing.T) {
	for _, p := range []string{"", "a?b", filepath.Join(t.TempDir(), "missing", "dir", "vigil.db")} {
		if s, err := sqlite.Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("opened %q", p)
		}
	}
}

func BenchmarkUpdateFindings(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "vigil.db"))
	defer s.Close()
	storetest.BenchUpdateFindings(b, s)
}

func BenchmarkListFindings(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "vigil.db"))
	defer s.Close()
	storetest.BenchListFindings(b, s)
}
