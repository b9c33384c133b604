package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// feedServer serves real feed files the way their hosts do: with an ETag,
// answering If-None-Match with 304, and with GCS's x-goog-hash MD5 for the
// OSV zips. corrupt, when set, makes it send bytes that do not match the
// digest it publishes.
type feedServer struct {
	files    map[string][]byte
	corrupt  atomic.Bool
	fail     atomic.Bool
	requests atomic.Int64
	notMod   atomic.Int64
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.fail.Load() {
		http.Error(w, "upstream down", http.StatusServiceUnavailable)
		return
	}
	data, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	sum := md5.Sum(data)
	etag := fmt.Sprintf(`"%x"`, sum)
	if r.Header.Get("If-None-Match") == etag {
		s.notMod.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	if strings.HasSuffix(r.URL.Path, ".zip") {
		w.Header().Set("X-Goog-Hash", "crc32c=AAAAAA==,md5="+base64.StdEncoding.EncodeToString(sum[:]))
	}
	if s.corrupt.Load() {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	w.Write(data)
}

func readShared(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testSources(base string) []Source {
	return Upstream{
		OSV: base + "/osv", OSVEcosystems: []string{"Go"},
		Alpine: base + "/alpine", AlpineBranches: []string{"v3.7"},
		DebianLists: base + "/debian",
		EPSS:        base + "/epss/epss_scores-current.csv.gz",
		KEV:         base + "/kev/known_exploited_vulnerabilities.json",
	}.Sources()
}

func TestUpdate(t *testing.T) {
	srv := &feedServer{files: map[string][]byte{
		"/osv/Go/all.zip":                           readShared(t, "vulndb/osv/Go/all.zip"),
		"/alpine/v3.7/main.json":                    readShared(t, "vulndb/alpine-secdb/v3.7/main.json"),
		"/alpine/v3.7/community.json":               readShared(t, "vulndb/alpine-secdb/v3.7/community.json"),
		"/debian/DSA/list":                          readShared(t, "vulndb/debian/DSA/list"),
		"/debian/DLA/list":                          readShared(t, "vulndb/debian/DLA/list"),
		"/epss/epss_scores-current.csv.gz":          readShared(t, "vulndb/epss/epss_scores-2026-08-16.csv.gz"),
		"/kev/known_exploited_vulnerabilities.json": readShared(t, "vulndb/kev/known_exploited_vulnerabilities.json"),
	}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx := context.Background()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sources := testSources(hs.URL)

	rep, err := d.Update(ctx, sources, UpdateOptions{Client: hs.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fetched) != len(sources) || len(rep.Unchanged) != 0 {
		t.Fatalf("first update: fetched %v, unchanged %v", rep.Fetched, rep.Unchanged)
	}
	db, err := Open(ctx, d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	first := db.Built()
	advs, err := db.Affecting(ctx, "Go", "github.com/gin-gonic/gin")
	if err != nil || len(advs) == 0 {
		t.Fatalf("no gin advisories after update: %v", err)
	}
	if e, err := db.EPSS(ctx, "CVE-1999-0001"); err != nil || e == nil || e.Score != 0.03351 {
		t.Errorf("EPSS of CVE-1999-0001 = %+v, %v; the feed's first row says 0.033510000", e, err)
	}
	if k, err := db.KEV(ctx, "CVE-2021-44228"); err != nil || k == nil {
		t.Errorf("Log4Shell missing from KEV: %v", err)
	}
	db.Close()

	// Second update: every server answers "not modified".
	time.Sleep(10 * time.Millisecond)
	rep, err = d.Update(ctx, sources, UpdateOptions{Client: hs.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unchanged) != len(sources) || srv.notMod.Load() != int64(len(sources)) {
		t.Errorf("second update: unchanged %v, %d not-modified answers", rep.Unchanged, srv.notMod.Load())
	}

	before, err := os.ReadFile(d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	feedBefore, err := os.ReadFile(d.dataPath("osv/Go"))
	if err != nil {
		t.Fatal(err)
	}
	// A corrupt download (MD5 mismatch) and a failing server each leave
	// everything as it was.
	for _, tc := range []struct {
		name string
		set  func(bool)
		want string
	}{
		{"corrupt", srv.corrupt.Store, "corrupt download"},
		{"unavailable", srv.fail.Store, "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.set(true)
			defer tc.set(false)
			// Forget the ETags so that the server sends content.
			for _, s := range sources {
				f := d.feed(s.Name)
				f.ETag = ""
				if err := d.commit([]*staged{{meta: f}}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := d.Update(ctx, sources, UpdateOptions{Client: hs.Client()})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			after, _ := os.ReadFile(d.DatabasePath())
			if !bytes.Equal(before, after) {
				t.Error("the database changed")
			}
			if f, _ := os.ReadFile(d.dataPath("osv/Go")); !bytes.Equal(f, feedBefore) {
				t.Error("the feed file changed")
			}
			left, _ := os.ReadDir(d.Root() + "/feeds/osv")
			for _, e := range left {
				if strings.HasPrefix(e.Name(), ".stage-") {
					t.Errorf("staged file %s left behind", e.Name())
				}
			}
		})
	}
	db, err = Open(ctx, d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !db.Built().After(first) {
		t.Error("the not-modified update did not rebuild")
	}
}

// TestMalformedRecord imports a zip of real Go records with one broken
// record among them: the broken one is reported by id and skipped, the
// others are all there.
func TestMalformedRecord(t *testing.T) {
	zr, err := zip.OpenReader(testenv.Shared(t, "vulndb/osv/Go/all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	kept := 0
	for _, f := range zr.File[:50] {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var data bytes.Buffer
		data.ReadFrom(rc)
		rc.Close()
		if f.Name == "GO-2020-0001.json" {
			// Break the record: an affected entry without a package.
			data = *bytes.NewBufferString(`{"id":"GO-2020-0001","modified":"2021-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`)
		} else {
			kept++
		}
		w, _ := zw.Create(f.Name)
		w.Write(data.Bytes())
	}
	zw.Close()
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/Go", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/Go/all.zip", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(context.Background(), []string{dir + "/Go/all.zip"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Build.Errors) != 1 || !strings.Contains(rep.Build.Errors[0], "GO-2020-0001") {
		t.Errorf("errors %v, want one naming GO-2020-0001", rep.Build.Errors)
	}
	withdrawn := rep.Build.Withdrawn
	if rep.Build.Advisories+withdrawn != kept {
		t.Errorf("%d advisories + %d withdrawn, want the %d good records", rep.Build.Advisories, withdrawn, kept)
	}
}
