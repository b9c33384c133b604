package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// TestBaselineKeptVersions: each database the server uses is kept under
// its version, the oldest beyond the limit are forgotten, and a version
// that is not kept is refused naming those that are.
func TestBaselineKeptVersions(t *testing.T) {
	ctx := context.Background()
	dbDir := t.TempDir()
	d, err := vulndb.NewDir(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	k := &keptVersions{dir: filepath.Join(dbDir, "versions"), keep: 2}
	var versions []string
	for _, feed := range []string{"vulndb/kev", "vulndb/osv/Ubuntu/all.zip", "vulndb/osv/Maven/all.zip"} {
		rep, err := d.Import(ctx, []string{testenv.Shared(t, feed)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, rep.Build.Version)
		if err := k.add(ctx, d.DatabasePath()); err != nil {
			t.Fatal(err)
		}
		if err := k.add(ctx, d.DatabasePath()); err != nil { // seen again: kept once
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // versions are named to the second
	}
	kept, err := k.list()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(kept, ",") != versions[2]+","+versions[1] {
		t.Fatalf("kept %v, want the last two of %v", kept, versions)
	}
	db, err := k.open(ctx, versions[1])
	if err != nil {
		t.Fatal(err)
	}
	if db.Version() != versions[1] {
		t.Errorf("kept %s opens as %s", versions[1], db.Version())
	}
	db.Close()
	_, err = k.open(ctx, versions[0])
	if !errors.Is(err, gate.ErrDBVersion) || !strings.Contains(err.Error(), versions[2]) {
		t.Errorf("a forgotten version: %v", err)
	}
	for _, bad := range []string{"../vulndb", "latest"} {
		if _, err := k.open(ctx, bad); !errors.Is(err, gate.ErrDBVersion) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if entries, _ := os.ReadDir(k.dir); len(entries) != 2 {
		t.Errorf("the versions directory holds %d files", len(entries))
	}
}
