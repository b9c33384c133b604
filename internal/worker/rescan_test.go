package worker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/apk"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
	"github.com/vigilsec/vigil/internal/distro"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
	"github.com/vigilsec/vigil/internal/worker"
)

// dbs is a fixed vulnerability database.
type dbs struct{ db *vulndb.DB }

func (d dbs) Acquire() (*vulndb.DB, func(), error) { return d.db, func() {}, nil }

func openDB(t testing.TB, feeds ...string) *vulndb.DB {
	t.Helper()
	d, err := vulndb.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range feeds {
		paths = append(paths, testenv.Shared(t, f))
	}
	if _, err := d.Import(context.Background(), paths, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(context.Background(), d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// inventories reads the real package databases of the shared test roots.
func inventories(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, root := range []struct {
		name, db string
		c        analyze.Cataloger
	}{
		{"alpine-3.6.5", "lib/apk/db/installed", apk.Cataloger{}},
		{"alpine-3.7.3", "lib/apk/db/installed", apk.Cataloger{}},
		{"alpine-3.8.5", "lib/apk/db/installed", apk.Cataloger{}},
		{"alpine-3.10.3", "lib/apk/db/installed", apk.Cataloger{}},
		{"debian-bullseye", "var/lib/dpkg/status", dpkg.Cataloger{}},
		{"debian-bookworm", "var/lib/dpkg/status", dpkg.Cataloger{}},
	} {
		dir := testenv.Shared(t, "os/"+root.name)
		data, err := os.ReadFile(filepath.Join(dir, root.db))
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := root.c.Catalog(context.Background(), analyze.NewFile(root.db, 0o644, data))
		if err != nil {
			t.Fatal(err)
		}
		d := distro.Detect(func(p string) ([]byte, bool) {
			b, err := os.ReadFile(filepath.Join(dir, p))
			return b, err == nil
		})
		for i := range pkgs {
			pkgs[i].Path = "/" + root.db
			pkgs[i].PURL = inventory.PURL(&pkgs[i], d)
		}
		b, err := json.Marshal(inventory.Inventory{Distro: d, Packages: pkgs})
		if err != nil {
			t.Fatal(err)
		}
		out[root.name] = b
	}
	return out
}

// seed stores n scanned images whose inventories cycle through the real
// roots, as pushes followed by a completed scan would leave them.
func seed(t testing.TB, st store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	invs := inventories(t)
	var names []string
	for name := range invs {
		names = append(names, name)
	}
	hashes := map[string]string{}
	for name, data := range invs {
		sum := sha256.Sum256(data)
		hashes[name] = hex.EncodeToString(sum[:])
		if err := st.PutInventory(ctx, hashes[name], data); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		name := names[i%len(names)]
		digest := fmt.Sprintf("sha256:%064x", i+1)
		repo := fmt.Sprintf("team/app%d", i%10)
		if err := st.RecordPush(ctx, store.Push{Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
			ArtifactType: "application/vnd.oci.image.config.v1+json", Tag: fmt.Sprintf("v%d", i), At: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateImage(ctx, store.ImageUpdate{Repository: repo, Digest: digest, ScanStatus: store.ScanComplete,
			ScanReason: "SUCCESSFUL", ScannedAt: now, InventoryHash: hashes[name]}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func newWorker(st store.Store, db *vulndb.DB) *worker.Worker {
	return &worker.Worker{Store: st, DB: dbs{db}, Emitter: events.Emitter{}, RegistryHost: "vigil.test",
		Owner: "test", Lease: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRescanFindings re-evaluates stored inventories against the Alpine
// secdb: only the Alpine 3.7.3 images get findings (musl and musl-utils,
// CVE-2019-14697), every other image none, and a second re-evaluation
// changes nothing.
func TestRescanFindings(t *testing.T) {
	st := openStore(t)
	seed(t, st, 12)
	w := newWorker(st, openDB(t, "vulndb/alpine-secdb", "vulndb/debian"))
	rep, err := w.RescanReport(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != 12 || rep.Inventories != 6 {
		t.Errorf("report %+v, want 12 images from 6 inventories", rep)
	}
	fs, _, err := st.ListFindings(context.Background(), store.FindingQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Images 1 and 7 (i = 1, 7 mod 6) … whichever two hold alpine-3.7.3.
	images := map[string]bool{}
	for _, f := range fs {
		if f.VulnerabilityID != "CVE-2019-14697" || (f.PackageName != "musl" && f.PackageName != "musl-utils") || f.Status != store.Active {
			t.Errorf("unexpected finding %s %s %s", f.PackageName, f.VulnerabilityID, f.Status)
		}
		images[f.ImageDigest] = true
	}
	if len(fs) != 4 || len(images) != 2 {
		t.Errorf("%d findings in %d images, want 4 in 2", len(fs), len(images))
	}
	evs, err := st.Events(context.Background(), store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.RescanReport(context.Background(), "", ""); err != nil {
		t.Fatal(err)
	}
	evs2, _ := st.Events(context.Background(), store.EventQuery{After: evs[len(evs)-1].Seq, Limit: 1000})
	for _, e := range evs2 {
		if e.DetailType == events.InspectorFinding {
			t.Errorf("a rescan that changed nothing announced a finding: %s", e.Envelope)
		}
	}
}

// BenchmarkRescan re-evaluates 1,000 stored images (six distinct real
// inventories) after a database change: each iteration swaps between a
// database with the Alpine secdb and one without it, so that the findings
// of every Alpine 3.7.3 image (one image in six) open or close, and every
// image gets its RESCAN_COMPLETE event.
func BenchmarkRescan(b *testing.B) {
	st := openStore(b)
	seed(b, st, 1000)
	with := openDB(b, "vulndb/alpine-secdb", "vulndb/debian")
	without := openDB(b, "vulndb/debian")
	d := &swapDB{}
	w := newWorker(st, nil)
	w.DB = d
	i := 0
	for b.Loop() {
		d.db = with
		if i%2 == 1 {
			d.db = without
		}
		i++
		rep, err := w.RescanReport(context.Background(), "", "")
		if err != nil {
			b.Fatal(err)
		}
		if rep.Images != 1000 {
			b.Fatalf("%d images", rep.Images)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "images/s")
}

// swapDB is a database the benchmark changes between runs.
type swapDB struct{ db *vulndb.DB }

func (d *swapDB) Acquire() (*vulndb.DB, func(), error) { return d.db, func() {}, nil }
