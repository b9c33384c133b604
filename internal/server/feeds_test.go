package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeFeedAgesAndNVDKey: at start the server logs each feed with the
// age of its data; its scheduled update (--db-update-interval) sends the
// configured NVD API key in the apiKey header, never logs it, and the
// new database's NVD page is logged with its timestamp as its age.
func TestServeFeedAgesAndNVDKey(t *testing.T) {
	const key = "d6f1c0de-test-key-0000"
	page, err := os.ReadFile(testenv.Shared(t, "vulndb/nvd/cves-page-0.json"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var keys []string
	nvd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("apiKey"))
		mu.Unlock()
		w.Write(page)
	}))
	defer nvd.Close()

	dbDir := t.TempDir()
	d, err := vulndb.NewDir(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Import(context.Background(), []string{testenv.Shared(t, "vulndb/kev"), testenv.Shared(t, "vulndb/alpine-secdb/v3.7/main.json")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{
		Addr: ln.Addr().String(), DataDir: t.TempDir(), DBDir: dbDir, TempDir: t.TempDir(),
		DBCheck: time.Hour, DBUpdate: 300 * time.Millisecond, Upstream: vulndb.Upstream{NVD: nvd.URL + "/rest/json/cves/2.0"},
		NVDAPIKey: key, Lease: 5 * time.Second,
		Log: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	defer func() {
		cancel()
		<-done
		srv.Close()
	}()

	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.String(), `"feed":"nvd/page-0000"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no NVD feed logged after the scheduled update:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	type line struct {
		Msg, Feed, DataAsOf, From string
	}
	got := map[string]line{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var v line
		if json.Unmarshal([]byte(l), &v) == nil && v.Msg == "vulnerability feed" {
			got[v.Feed] = v
		}
	}
	for feed, want := range map[string]line{
		"kev":              {DataAsOf: "2025-08-25T17:04:19Z", From: vulndb.AgeFeedDate},
		"alpine/v3.7/main": {DataAsOf: "unknown"},
		"nvd/page-0000":    {DataAsOf: "2026-12-03T00:00:00Z", From: vulndb.AgeFeedDate},
	} {
		if g := got[feed]; g.DataAsOf != want.DataAsOf || g.From != want.From {
			t.Errorf("feed %s logged as %+v, want %+v", feed, g, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) == 0 || keys[0] != key {
		t.Errorf("NVD requests carried apiKey %q, want the configured key", keys)
	}
	if strings.Contains(logs.String(), key) {
		t.Error("the NVD API key appears in the log")
	}
	if _, err := os.Stat(filepath.Join(dbDir, "feeds", "nvd", "page-0000.data")); err != nil {
		t.Errorf("NVD page not kept: %v", err)
	}
}
