package vulndb

import (
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// withoutRecord copies an OSV all.zip leaving out its first record whose
// name has the prefix, as an upstream feed that withdrew it would read.
func withoutRecord(t *testing.T, from, to, prefix string) string {
	t.Helper()
	zr, err := zip.OpenReader(from)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	dropped := ""
	for _, e := range zr.File {
		if dropped == "" && strings.HasPrefix(e.Name, prefix) {
			dropped = strings.TrimSuffix(e.Name, ".json")
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: e.Modified})
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if dropped == "" {
		t.Fatalf("%s has no record named %s…", from, prefix)
	}
	return dropped
}

// epssHead copies the first n scores of an EPSS file (its two header lines
// kept), so that the tests read real scores without the time of all of
// them.
func epssHead(t *testing.T, from string, n int) string {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	to := filepath.Join(t.TempDir(), filepath.Base(from))
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	for i := 0; i < n+2 && sc.Scan(); i++ {
		fmt.Fprintln(zw, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return to
}

func partitionsByName(ex *Export) map[string]Partition {
	m := map[string]Partition{}
	for _, p := range ex.Partitions {
		m[p.Name] = p
	}
	return m
}

func assembly(ex *Export) *Assembly {
	return &Assembly{Snapshot: ex.Snapshot, Partitions: ex.Partitions, Installed: Installed{Version: "test"},
		Open: func(p Partition) (io.ReadCloser, error) { return os.Open(PartitionFile(ex.Dir, p.Digest)) }}
}

// TestDBPullPartitions exports a database built from the shared feeds,
// installs it elsewhere from its partitions alone, and checks that the
// copy exports to the very same partitions; then one feed changes, and
// only its partition is read to bring the copy up to date.
func TestDBPullPartitions(t *testing.T) {
	ctx := context.Background()
	root := testenv.Shared(t, "vulndb")
	server, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	goZip := filepath.Join(root, "osv", "Go", "all.zip")
	if _, err := server.Import(ctx, []string{goZip, filepath.Join(root, "osv", "crates.io", "all.zip"), filepath.Join(root, "kev"),
		epssHead(t, filepath.Join(root, "epss", "epss_scores-2026-08-16.csv.gz"), 5000), filepath.Join(root, "nvd"), filepath.Join(root, "alpine-secdb")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	v1, err := ExportPartitions(ctx, server.DatabasePath(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	names := partitionsByName(v1)
	if names["epss"].Rows != 5000 {
		t.Errorf("epss partition: %+v", names["epss"])
	}
	for _, want := range []string{"advisories/osv/Go", "advisories/osv/crates.io", "advisories/alpine-secdb", "epss", "kev"} {
		if names[want].Rows == 0 {
			t.Errorf("no partition %s with rows among %v", want, v1.Partitions)
		}
	}
	if !strings.HasPrefix(v1.Partitions[len(v1.Partitions)-1].Name, "nvd/") {
		t.Errorf("no NVD partition by year: %v", v1.Partitions)
	}

	client, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := assembly(v1)
	var read []string
	open := a.Open
	a.Open = func(p Partition) (io.ReadCloser, error) { read = append(read, p.Name); return open(p) }
	if err := client.Install(ctx, a); err != nil {
		t.Fatal(err)
	}
	if len(read) != len(v1.Partitions) {
		t.Errorf("a first install read %d of %d partitions", len(read), len(v1.Partitions))
	}
	samePartitions(t, ctx, client, v1)
	if v1.Snapshot.Digest == "" || !ValidVersion(v1.Snapshot.Version) {
		t.Errorf("snapshot without a digest or version: %+v", v1.Snapshot)
	}

	// One feed changes upstream: the Go database withdraws a record.
	changed := filepath.Join(t.TempDir(), "osv", "Go", "all.zip")
	dropped := withoutRecord(t, goZip, changed, "GO-2022-")
	if _, err := server.Import(ctx, []string{changed}, time.Now()); err != nil {
		t.Fatal(err)
	}
	v2, err := ExportPartitions(ctx, server.DatabasePath(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	need, base, err := Needed(ctx, client.DatabasePath(), v2.Partitions)
	if err != nil {
		t.Fatal(err)
	}
	if !base || len(need) != 1 || need[0].Name != "advisories/osv/Go" {
		t.Fatalf("after one feed changed, need %v (base %v), want only advisories/osv/Go", need, base)
	}
	if n1, n2 := names["advisories/osv/Go"].Rows, partitionsByName(v2)["advisories/osv/Go"].Rows; n2 != n1-1 {
		t.Errorf("the Go partition has %d records, before %d", n2, n1)
	}
	read = nil
	a = assembly(v2)
	open = a.Open
	a.Open = func(p Partition) (io.ReadCloser, error) { read = append(read, p.Name); return open(p) }
	if err := client.Install(ctx, a); err != nil {
		t.Fatal(err)
	}
	if len(read) != 1 {
		t.Errorf("the update read %v", read)
	}
	samePartitions(t, ctx, client, v2)
	db, err := Open(ctx, client.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if adv, err := db.Advisory(ctx, dropped); err != nil || adv != nil {
		t.Errorf("%s withdrawn upstream is still in the copy: %v, %v", dropped, adv, err)
	}
	if affecting, err := db.Affecting(ctx, "Go", "golang.org/x/net"); err != nil || len(affecting) == 0 {
		t.Errorf("golang.org/x/net: %d advisories, %v", len(affecting), err)
	}
	// The derived table is remade on install, the update included.
	sdb, err := Open(ctx, server.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	ecos, err := sdb.Ecosystems(ctx)
	if err != nil || len(ecos) == 0 {
		t.Fatalf("server ecosystems: %v, %v", ecos, err)
	}
	for _, e := range ecos {
		want, err1 := sdb.EcosystemSources(ctx, e)
		got, err2 := db.EcosystemSources(ctx, e)
		if err1 != nil || err2 != nil || strings.Join(got, ",") != strings.Join(want, ",") || len(want) == 0 {
			t.Errorf("%s: the copy's sources %v (%v), the server's %v (%v)", e, got, err2, want, err1)
		}
	}
}

// samePartitions checks that the database in d exports to ex's partitions
// and snapshot: the same content, row for row.
func samePartitions(t *testing.T, ctx context.Context, d *Dir, ex *Export) {
	t.Helper()
	got, err := ExportPartitions(ctx, d.DatabasePath(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Partitions) != len(ex.Partitions) {
		t.Fatalf("copy has %d partitions, original %d", len(got.Partitions), len(ex.Partitions))
	}
	for i, p := range ex.Partitions {
		if got.Partitions[i] != p {
			t.Errorf("partition %d: copy %+v, original %+v", i, got.Partitions[i], p)
		}
	}
	if got.Snapshot.Built != ex.Snapshot.Built || got.Snapshot.Digest != ex.Snapshot.Digest || got.Snapshot.Version != ex.Snapshot.Version || len(got.Snapshot.Sources) != len(ex.Snapshot.Sources) {
		t.Errorf("snapshot: copy %+v, original %+v", got.Snapshot, ex.Snapshot)
	}
	for i := range ex.Snapshot.Sources {
		if got.Snapshot.Sources[i] != ex.Snapshot.Sources[i] {
			t.Errorf("source %d: copy %+v, original %+v", i, got.Snapshot.Sources[i], ex.Snapshot.Sources[i])
		}
	}
}

// TestDBPullPartitionsCoverSchema: every table of the database is carried
// by a partition or by the snapshot, so that a table added to the schema
// cannot be silently left out of what is published.
func TestDBPullPartitionsCoverSchema(t *testing.T) {
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Import(ctx, []string{testenv.Shared(t, "vulndb/kev")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	// advisories, affected and aliases: advisories/FEED; epss, kev and
	// nvd: their own; meta and sources: the snapshot and the record of
	// the installation; ecosystem_sources is derived, remade by every
	// install (derived, in build.go).
	if got, want := strings.Join(tables, " "), "advisories affected aliases ecosystem_sources epss kev meta nvd sources"; got != want {
		t.Errorf("the database has tables %s; partitions carry %s: carry the new ones in partition.go", got, want)
	}
}
