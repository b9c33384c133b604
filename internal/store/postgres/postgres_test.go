package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/postgres"
	"github.com/vigilsec/vigil/internal/store/storetest"
)

// server is the PostgreSQL the tests create their databases on.
const server = "postgres://postgres@127.0.0.1:5432/"

// freshDB creates a database with a random name, dropped when the test
// ends, and returns its URL.
func freshDB(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", server+"postgres?sslmode=disable")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_TESTDATA") != "" {
			t.Fatalf("PostgreSQL at %s is not reachable: %v", server, err)
		}
		t.Skipf("PostgreSQL at %s is not reachable: %v", server, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "vigil_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
		admin.Close()
	})
	return server + name + "?sslmode=disable"
}

func open(t testing.TB, dsn string) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, freshDB(t)) })
}

// Two connection pools on one database, as two processes would have.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := freshDB(t)
		return open(t, dsn), open(t, dsn)
	})
}

// Processes starting together on an empty database migrate it once.
func TestConcurrentMigration(t *testing.T) {
	dsn := freshDB(t)
	var wg sync.WaitGroup
	stores := make([]store.Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = postgres.Open(context.Background(), dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		stores[i].Close()
	}
}

func TestSchemaNewerThanCode(t *testing.T) {
	dsn := freshDB(t)
	open(t, dsn).Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(context.Background(), dsn)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("opening a newer schema: %v, want an error saying so", err)
	}
}

func BenchmarkUpdateFindings(b *testing.B) {
	s := open(b, freshDB(b))
	defer s.Close()
	storetest.BenchUpdateFindings(b, s)
}

func BenchmarkListFindings(b *testing.B) {
	s := open(b, freshDB(b))
	defer s.Close()
	storetest.BenchListFindings(b, s)
}
