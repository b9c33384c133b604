package vulndb

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
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
	def := DefaultUpstream()
	if def.RedHatVEX == "" || def.SUSEVEX == "" {
		t.Error("Red Hat's or SUSE's VEX is not in the default update set")
	}
	kinds := map[Kind]bool{}
	for _, s := range def.Sources() {
		kinds[s.Kind] = true
	}
	if !kinds[KindRedHatVEX] || !kinds[KindSUSEVEX] {
		t.Errorf("default sources lack a VEX feed: %v", kinds)
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

// TestImportSUSEVEXArchive imports SUSE's form of the archive, a tar
// compressed with bzip2 (made here from the real SUSE document with tar
// and bzip2 themselves), as the feed suse/vex.
func TestImportSUSEVEXArchive(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join(dir, "csaf-vex")
	copyFile(t, "csaf/testdata/suse-cve-2004-2771.json", filepath.Join(docs, "cve-2004-2771.json"))
	archive := filepath.Join(dir, "csaf-vex.tar.bz2")
	var out bytes.Buffer
	tarCmd := exec.Command(testenv.Tool(t, "tar"), "-c", "-C", dir, "-f", "-", "csaf-vex")
	bz := exec.Command(testenv.Tool(t, "bzip2"), "-c")
	pipe, err := tarCmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	bz.Stdin, bz.Stdout = pipe, &out
	if err := tarCmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := bz.Run(); err != nil {
		t.Fatal(err)
	}
	if err := tarCmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(archive, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := NewDir(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(context.Background(), []string{archive}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported["suse/vex"] != archive {
		t.Fatalf("imported %v", rep.Imported)
	}
	db, err := Open(context.Background(), d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	advs, err := db.Affecting(context.Background(), "SUSE:Linux Enterprise Server 15 SP2", "mailx")
	if err != nil || len(advs) != 1 || advs[0].ID != "SUSE-CVE-2004-2771" || advs[0].Source != "suse/vex" {
		t.Errorf("%v %+v", err, advs)
	}
}
