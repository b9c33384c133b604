package vulndb

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func redHatVEXSource(t *testing.T, d *Dir) SourceStatus {
	t.Helper()
	db, err := Open(context.Background(), d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sources, err := db.Sources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		if s.Name == "redhat/vex" {
			return s
		}
	}
	t.Fatalf("no redhat/vex among %+v", sources)
	return SourceStatus{}
}

// TestUpdateRedHatVEX follows Red Hat's VEX directory as its tooling
// does: archive_latest.txt names the dated archive, which is fetched once
// and then answered "not modified". The archive is the real
// csaf_vex_2023-10-31.tar.zst; its newest document's current_release_date
// (cve-2023-0030.json, 2023-12-05T15:28:18Z, read with zstd, tar and
// python's json) is the data's age.
func TestUpdateRedHatVEX(t *testing.T) {
	archive, err := os.ReadFile("csaf/testdata/csaf_vex_2023-10-31.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/csaf/v2/vex/archive_latest.txt":
			w.Write([]byte("csaf_vex_2023-10-31.tar.zst\n"))
		case "/csaf/v2/vex/csaf_vex_2023-10-31.tar.zst":
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			gets.Add(1)
			w.Header().Set("ETag", `"v1"`)
			w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	up := Upstream{RedHatVEX: srv.URL + "/csaf/v2/vex"}
	srcs := up.Sources()
	if len(srcs) != 1 || srcs[0].Name != "redhat/vex" || srcs[0].Kind != KindRedHatVEX {
		t.Fatalf("sources %+v", srcs)
	}
	ctx := context.Background()
	rep, err := d.Update(ctx, srcs, UpdateOptions{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fetched) != 1 || gets.Load() != 1 {
		t.Fatalf("fetched %v, %d downloads", rep.Fetched, gets.Load())
	}
	s := redHatVEXSource(t, d)
	if !strings.HasSuffix(s.URL, "/csaf_vex_2023-10-31.tar.zst") || s.Updated.Format(time.RFC3339) != "2023-12-05T15:28:18Z" {
		t.Errorf("source %+v", s)
	}
	rep, err = d.Update(ctx, srcs, UpdateOptions{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unchanged) != 1 || gets.Load() != 1 {
		t.Errorf("second update: unchanged %v, %d downloads", rep.Unchanged, gets.Load())
	}
	if DefaultUpstream().RedHatVEX == "" {
		t.Error("Red Hat's VEX is not in the default update set")
	}
}

// TestImportRedHatVEXArchive imports the archive file itself.
func TestImportRedHatVEXArchive(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(context.Background(), []string{"csaf/testdata/csaf_vex_2023-10-31.tar.zst"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported["redhat/vex"] == "" {
		t.Fatalf("imported %v", rep.Imported)
	}
	if s := redHatVEXSource(t, d); s.Kind != KindRedHatVEX || s.Errors != 0 {
		t.Errorf("source %+v", s)
	}
}
