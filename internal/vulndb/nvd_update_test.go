package vulndb

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// nvdServer serves the 23 real NVD records of the shared data as the CVE
// API 2.0 does, in pages of at most pageMax whatever the client asks for,
// answering some requests 429 or 503 first the way NVD throttles.
type nvdServer struct {
	records []json.RawMessage
	pageMax int
	clock   func() time.Time

	mu sync.Mutex
	// throttle maps a startIndex to the statuses its first requests get.
	throttle map[int][]int
	times    []time.Time
	keys     []string
	starts   []int
}

func (s *nvdServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, s.clock())
	s.keys = append(s.keys, r.Header.Get("apiKey"))
	start, err := strconv.Atoi(r.URL.Query().Get("startIndex"))
	if err != nil || start < 0 {
		http.Error(w, "bad startIndex", http.StatusBadRequest)
		return
	}
	s.starts = append(s.starts, start)
	if st := s.throttle[start]; len(st) > 0 {
		s.throttle[start] = st[1:]
		w.WriteHeader(st[0])
		return
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("resultsPerPage"))
	if per <= 0 || per > s.pageMax {
		per = s.pageMax
	}
	end := min(start+per, len(s.records))
	var vulns []map[string]json.RawMessage
	for _, rec := range s.records[min(start, end):end] {
		vulns = append(vulns, map[string]json.RawMessage{"cve": rec})
	}
	json.NewEncoder(w).Encode(map[string]any{
		"resultsPerPage": per, "startIndex": start, "totalResults": len(s.records),
		"format": "NVD_CVE", "version": "2.0", "timestamp": "2026-12-03T00:00:00.000",
		"vulnerabilities": vulns,
	})
}

func sharedNVDRecords(t *testing.T) (ids []string, recs []json.RawMessage) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Shared(t, "vulndb/nvd/cve"), "CVE-*.json"))
	if err != nil || len(files) != 23 {
		t.Fatalf("want the 23 shared NVD records, found %d (%v)", len(files), err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct{ ID string }
		if err := json.Unmarshal(b, &head); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, head.ID)
		recs = append(recs, b)
	}
	return ids, recs
}

// TestUpdateNVDPagingAndRateLimit pages through the real records served
// five at a time (startIndex advancing by what each page held), keeps to
// NVD's rolling window of 5 requests in 30 s without a key and 50 with
// one, backs off on 429 and 503, sends the key in the apiKey header, and
// ends with every record in the database.
func TestUpdateNVDPagingAndRateLimit(t *testing.T) {
	ids, recs := sharedNVDRecords(t)
	for _, tc := range []struct {
		name  string
		key   string
		limit int
	}{
		{"without key", "", 5},
		{"with key", "secret-test-key", 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			var pauses []time.Duration
			sleep := func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				if d > 0 {
					now = now.Add(d)
					pauses = append(pauses, d)
				}
				return ctx.Err()
			}
			srv := &nvdServer{records: recs, pageMax: 5, clock: clock,
				throttle: map[int][]int{5: {http.StatusTooManyRequests}, 10: {http.StatusServiceUnavailable, http.StatusTooManyRequests}}}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			d, err := NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			rep, err := d.Update(context.Background(), []Source{{Name: "nvd", Kind: KindNVD, URL: hs.URL + "/rest/json/cves/2.0"}},
				UpdateOptions{Client: hs.Client(), NVDAPIKey: tc.key, Now: clock, sleep: sleep})
			if err != nil {
				t.Fatal(err)
			}
			// 23 records in pages of 5: 5 pages, 3 throttled answers.
			if len(rep.Fetched) != 5 || len(srv.times) != 8 {
				t.Errorf("fetched %v in %d requests, want 5 pages in 8", rep.Fetched, len(srv.times))
			}
			wantStarts := []int{0, 5, 5, 10, 10, 10, 15, 20}
			for i, s := range srv.starts {
				if i >= len(wantStarts) || s != wantStarts[i] {
					t.Errorf("startIndex sequence %v, want %v", srv.starts, wantStarts)
					break
				}
			}
			for i, k := range srv.keys {
				if k != tc.key {
					t.Errorf("request %d: apiKey %q, want %q", i, k, tc.key)
				}
			}
			for i := range srv.times {
				n := 0
				for j := i; j < len(srv.times) && srv.times[j].Sub(srv.times[i]) < nvdWindow; j++ {
					n++
				}
				if n > tc.limit {
					t.Errorf("%d requests within 30 s from request %d, NVD allows %d", n, i, tc.limit)
				}
			}
			// Each throttled answer was followed by a pause before the
			// retry: 6 s, then 6 s and 12 s for the twice-refused page.
			var backoff int
			for _, p := range pauses {
				if p == nvdBackoff || p == 2*nvdBackoff {
					backoff++
				}
			}
			if backoff < 3 {
				t.Errorf("pauses %v: want the backoffs after the 429 and 503 answers", pauses)
			}
			db, err := Open(context.Background(), d.DatabasePath())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, id := range ids {
				if n, err := db.NVD(context.Background(), id); err != nil || n == nil {
					t.Errorf("%s not in the database after the update: %v", id, err)
				}
			}
		})
	}
}

// TestUpdateNVDGivesUp: a server that only ever answers 429 ends the
// update with an error naming the page, after a bounded number of tries,
// and nothing is replaced.
func TestUpdateNVDGivesUp(t *testing.T) {
	var requests int
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer hs.Close()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var waited []time.Duration
	now := time.Now()
	_, err = d.Update(context.Background(), []Source{{Name: "nvd", Kind: KindNVD, URL: hs.URL}},
		UpdateOptions{Client: hs.Client(), Now: func() time.Time { return now }, sleep: func(ctx context.Context, d time.Duration) error {
			if d > 0 {
				waited = append(waited, d)
				now = now.Add(d)
			}
			return nil
		}})
	if err == nil || !strings.Contains(err.Error(), "nvd/page-0000") || !strings.Contains(err.Error(), "429") {
		t.Fatalf("error %v, want one naming the page and the 429", err)
	}
	if requests != nvdRetries+1 {
		t.Errorf("%d requests, want %d", requests, nvdRetries+1)
	}
	for _, w := range waited {
		if w == 2*time.Second {
			return
		}
	}
	t.Errorf("waits %v: the server's Retry-After of 2 s was not honoured", waited)
}

// TestUpdateNVDAgeFromTimestamp: a downloaded page takes its data age
// from the page's timestamp.
func TestUpdateNVDAgeFromTimestamp(t *testing.T) {
	_, recs := sharedNVDRecords(t)
	now := time.Now()
	srv := &nvdServer{records: recs, pageMax: 2000, clock: func() time.Time { return now }, throttle: map[int][]int{}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Update(context.Background(), []Source{{Name: "nvd", Kind: KindNVD, URL: hs.URL}}, UpdateOptions{Client: hs.Client()})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Build.Sources[0]
	if want := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC); !s.Updated.Equal(want) || s.UpdatedFrom != AgeFeedDate {
		t.Errorf("%s: data as of %v (%q), want the page timestamp %v", s.Name, s.Updated, s.UpdatedFrom, want)
	}
}
