package vulndb

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// The expected dates below are read from the shared files themselves, by
// code that shares nothing with the build.

func sharedZipNewestModified(t *testing.T, rel string) time.Time {
	t.Helper()
	zr, err := zip.OpenReader(testenv.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var newest time.Time
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Modified, Published time.Time }
		if err := json.NewDecoder(rc).Decode(&rec); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		for _, d := range []time.Time{rec.Modified, rec.Published} {
			if d.After(newest) {
				newest = d
			}
		}
	}
	return newest
}

func sharedZipNewestEntry(t *testing.T, rel string) time.Time {
	t.Helper()
	zr, err := zip.OpenReader(testenv.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var newest time.Time
	for _, f := range zr.File {
		if f.Modified.After(newest) {
			newest = f.Modified
		}
	}
	return newest.UTC()
}

func importAndStatus(t *testing.T, paths ...string) map[string]SourceStatus {
	t.Helper()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Import(ctx, paths, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srcs, err := db.Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]SourceStatus{}
	for _, s := range srcs {
		out[s.Name] = s
	}
	return out
}

// TestDataAgeSources checks that each kind of feed takes its data age from
// its own date: EPSS's score_date, KEV's dateReleased, the newest DSA, the
// newest OSV modified, the NVD page's timestamp; and that the Go records'
// zeroed dates (year 1) never count, the zip's entry times standing in.
func TestDataAgeSources(t *testing.T) {
	epssLine := func() time.Time {
		f, err := os.Open(testenv.Shared(t, "vulndb/epss/epss_scores-2026-08-16.csv.gz"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(zr).ReadString('\n')
		_, v, _ := strings.Cut(strings.TrimSpace(line), "score_date:")
		d, err := time.Parse("2006-01-02T15:04:05-0700", v)
		if err != nil {
			t.Fatal(err)
		}
		return d.UTC()
	}()
	var kevDoc struct{ DateReleased time.Time }
	if err := json.Unmarshal(readShared(t, "vulndb/kev/known_exploited_vulnerabilities.json"), &kevDoc); err != nil {
		t.Fatal(err)
	}
	// The DSA list is newest first: "[29 Mar 2023] DSA-5380-1 …".
	dsaLine, _, _ := strings.Cut(string(readShared(t, "vulndb/debian/DSA/list")), "]")
	dsaDate, err := time.Parse("02 Jan 2006", strings.TrimPrefix(dsaLine, "["))
	if err != nil {
		t.Fatal(err)
	}
	var nvdPage struct{ Timestamp string }
	if err := json.Unmarshal(readShared(t, "vulndb/nvd/cves-page-0.json"), &nvdPage); err != nil {
		t.Fatal(err)
	}
	nvdDate, err := time.Parse("2006-01-02T15:04:05.000", nvdPage.Timestamp)
	if err != nil {
		t.Fatal(err)
	}

	got := importAndStatus(t,
		testenv.Shared(t, "vulndb/epss/epss_scores-2026-08-16.csv.gz"),
		testenv.Shared(t, "vulndb/kev/known_exploited_vulnerabilities.json"),
		testenv.Shared(t, "vulndb/debian/DSA/list"),
		testenv.Shared(t, "vulndb/osv/npm/all.zip"),
		testenv.Shared(t, "vulndb/osv/Go/all.zip"),
		testenv.Shared(t, "vulndb/alpine-secdb/v3.7/main.json"),
		testenv.Shared(t, "vulndb/nvd"),
	)
	for _, tc := range []struct {
		feed string
		want time.Time
		from string
	}{
		{"epss", epssLine, AgeFeedDate},
		{"kev", kevDoc.DateReleased.UTC(), AgeFeedDate},
		{"debian/dsa", dsaDate, AgeRecords},
		{"osv/npm", sharedZipNewestModified(t, "vulndb/osv/npm/all.zip").UTC(), AgeRecords},
		{"nvd/cves-page-0", nvdDate, AgeFeedDate},
		{"osv/Go", sharedZipNewestEntry(t, "vulndb/osv/Go/all.zip"), AgeZipEntries},
		// The secdb has no dates and an import has no Last-Modified.
		{"alpine/v3.7/main", time.Time{}, ""},
	} {
		s, ok := got[tc.feed]
		if !ok {
			t.Errorf("%s: not in the database (have %v)", tc.feed, got)
			continue
		}
		if !s.Updated.Equal(tc.want) || s.UpdatedFrom != tc.from {
			t.Errorf("%s: data as of %v (%q), want %v (%q)", tc.feed, s.Updated, s.UpdatedFrom, tc.want, tc.from)
		}
		if _, known := s.DataAge(time.Now()); known != !tc.want.IsZero() {
			t.Errorf("%s: DataAge known = %v", tc.feed, known)
		}
	}
	if g := got["osv/Go"].Updated; g.Year() < 2000 {
		t.Errorf("osv/Go data age is %v: the zeroed record dates leaked through", g)
	}
	if got["osv/npm"].Ecosystems == nil || got["osv/npm"].Ecosystems[0] != "npm" {
		t.Errorf("osv/npm ecosystems %v", got["osv/npm"].Ecosystems)
	}
}

// TestDataAgeGoZeroTimes rewrites the Go zip with its entry times zeroed,
// as a directory of records would be zipped: with nothing else to go on
// the age is unknown, never year 1; served with a Last-Modified it is
// that.
func TestDataAgeGoZeroTimes(t *testing.T) {
	zr, err := zip.OpenReader(testenv.Shared(t, "vulndb/osv/Go/all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File[:200] {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		var data bytes.Buffer
		if _, err := data.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		w.Write(data.Bytes())
	}
	zw.Close()
	dir := filepath.Join(t.TempDir(), "Go")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "all.zip"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := importAndStatus(t, filepath.Join(dir, "all.zip"))["osv/Go"]
	if !s.Updated.IsZero() || s.UpdatedFrom != "" {
		t.Errorf("zeroed Go zip imported: data as of %v (%q), want unknown", s.Updated, s.UpdatedFrom)
	}

	lastMod := time.Date(2026, 8, 21, 20, 38, 0, 0, time.UTC)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
		w.Write(buf.Bytes())
	}))
	defer hs.Close()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Update(context.Background(), []Source{{Name: "osv/Go", Kind: KindOSV, URL: hs.URL + "/Go/all.zip"}}, UpdateOptions{Client: hs.Client()})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Build.Sources[0]
	if !got.Updated.Equal(lastMod) || got.UpdatedFrom != AgeLastModified {
		t.Errorf("downloaded zeroed Go zip: data as of %v (%q), want the Last-Modified %v", got.Updated, got.UpdatedFrom, lastMod)
	}
}

// TestImportOldMirrorWarns: an import says which feeds' data was old when
// it was imported, and which has no known age, and only of the feeds it
// imported.
func TestImportOldMirrorWarns(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kevPath := testenv.Shared(t, "vulndb/kev/known_exploited_vulnerabilities.json")
	// Imported the day after its release, KEV is current: no warning.
	var kevDoc struct{ DateReleased time.Time }
	if err := json.Unmarshal(readShared(t, "vulndb/kev/known_exploited_vulnerabilities.json"), &kevDoc); err != nil {
		t.Fatal(err)
	}
	rep, err := d.Import(ctx, []string{kevPath}, kevDoc.DateReleased.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("fresh import warned: %v", rep.Warnings)
	}
	// 31 days later it is an old mirror.
	rep, err = d.Import(ctx, []string{kevPath}, kevDoc.DateReleased.Add(31*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "kev: its data is from 2025-08-25") || !strings.Contains(rep.Warnings[0], "31 days old at import") {
		t.Errorf("warnings %q, want one saying kev is 31 days old", rep.Warnings)
	}
	// A secdb (no dates) is of unknown age, and KEV, still present but
	// not imported this time, is not warned about again.
	rep, err = d.Import(ctx, []string{testenv.Shared(t, "vulndb/alpine-secdb/v3.7/main.json")}, kevDoc.DateReleased.Add(400*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "alpine/v3.7/main is unknown") {
		t.Errorf("warnings %q, want one saying the secdb's age is unknown", rep.Warnings)
	}
}

func TestReliedOnAndOldest(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	srcs := []SourceStatus{
		{Name: "debian/dsa", Kind: KindDSA, Updated: day("2023-03-29"), Ecosystems: []string{"Debian:11", "Debian:10"}},
		{Name: "osv/PyPI", Kind: KindOSV, Updated: day("2020-01-01"), Ecosystems: []string{"PyPI"}},
		{Name: "alpine/v3.7/main", Kind: KindAlpine, Ecosystems: []string{"Alpine:v3.7"}},
		{Name: "kev", Kind: KindKEV, Updated: day("2025-08-25")},
	}
	relied := ReliedOn(srcs, []string{"Debian:11", "Go"})
	var names []string
	for _, s := range relied {
		names = append(names, s.Name)
	}
	if strings.Join(names, " ") != "debian/dsa kev" {
		t.Errorf("relied on %v, want debian/dsa kev", names)
	}
	oldest, unknown, ok := Oldest(srcs)
	if !ok || oldest.Name != "osv/PyPI" || len(unknown) != 1 || unknown[0].Name != "alpine/v3.7/main" {
		t.Errorf("Oldest = %s, %v, %v", oldest.Name, unknown, ok)
	}
}
