package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// TestDBPullCommand: `vigil db pull` fetches the server's database with
// the token of $VIGIL_TOKEN, `vigil db status` says where it came from,
// and `vigil scan --db-repository` pulls before it scans and reports the
// version pulled.
func TestDBPullCommand(t *testing.T) {
	ctx := context.Background()
	serverDB := t.TempDir()
	d, err := vulndb.NewDir(serverDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Import(ctx, []string{testenv.Shared(t, "vulndb/alpine-secdb"), testenv.Shared(t, "vulndb/kev")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(ctx, d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	version := db.Version()
	db.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Config{Addr: ln.Addr().String(), DataDir: t.TempDir(), DBDir: serverDB, TempDir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tokenFile, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx, ln) }()
	defer func() { cancel(); <-done }()

	host := ln.Addr().String()
	env := map[string]string{"HOME": t.TempDir(), "VIGIL_SERVER": "http://" + host, "VIGIL_TOKEN": strings.TrimSpace(string(token))}
	client := t.TempDir()
	// What a pull killed an hour ago left behind, and one running now.
	stale, running := filepath.Join(client, ".pull-1"), filepath.Join(client, ".pull-2")
	for _, p := range []string{stale, running} {
		if err := os.MkdirAll(filepath.Join(p, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(stale, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var out, errs string
	var code int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, out, errs = runVigilCode(env, "db", "pull", "--db-dir", client); code == 0 {
			break
		}
	}
	if code != 0 {
		t.Fatalf("vigil db pull: exit %d\n%s", code, errs)
	}
	if !strings.Contains(out, "pulled "+host+"/vigil/db:latest: version "+version) {
		t.Errorf("vigil db pull said:\n%s", out)
	}

	if _, err := os.Stat(stale); err == nil {
		t.Errorf("the spool of a pull killed long ago is still there")
	}
	if _, err := os.Stat(running); err != nil {
		t.Errorf("the spool of a pull running now was removed: %v", err)
	}

	status, _ := runVigilEnv(t, env, "db", "status", "--db-dir", client)
	if !strings.Contains(status, "version "+version) || !strings.Contains(status, "pulled from "+host+"/vigil/db:latest (manifest sha256:") {
		t.Errorf("vigil db status:\n%s", status)
	}
	js, _ := runVigilEnv(t, env, "db", "status", "--db-dir", client, "--json")
	var st struct {
		Version string
		Origin  dbOrigin
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil || st.Version != version || !st.Origin.Pulled || st.Origin.Reference != host+"/vigil/db:latest" {
		t.Errorf("vigil db status --json: %+v, %v\n%s", st, err, js)
	}
	again, _ := runVigilEnv(t, env, "db", "pull", "--db-dir", client)
	if !strings.Contains(again, "version "+version+" is the one held") {
		t.Errorf("pulling again:\n%s", again)
	}
	// Without the token the server refuses it, and says so.
	noToken := map[string]string{"HOME": env["HOME"], "VIGIL_SERVER": env["VIGIL_SERVER"]}
	if code, _, errs := runVigilCode(noToken, "db", "pull", "--db-dir", t.TempDir()); code == 0 || !strings.Contains(errs, "UNAUTHORIZED") {
		t.Errorf("pull without a token: exit %d\n%s", code, errs)
	}

	// A scan that pulls first, into an empty cache.
	scanDB := t.TempDir()
	report, _ := runVigilEnv(t, env, "scan", "dir:"+testenv.Shared(t, "os/alpine-3.7.3"), "--db-dir", scanDB,
		"--db-repository", host+"/vigil/db:latest", "--format", "json", "--allow-partial-coverage")
	var rep struct {
		Database struct{ Version string }
		Findings []json.RawMessage
	}
	if err := json.Unmarshal([]byte(report), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Database.Version != version || len(rep.Findings) == 0 {
		t.Errorf("scan --db-repository: database %q (want %s), %d findings", rep.Database.Version, version, len(rep.Findings))
	}
	if _, err := os.Stat(filepath.Join(scanDB, "vulndb.sqlite")); err != nil {
		t.Error(err)
	}
}

// TestDBPullBar: the progress bar is drawn on a terminal only.
func TestDBPullBar(t *testing.T) {
	var off, on strings.Builder
	for _, c := range []struct {
		w        *strings.Builder
		terminal bool
	}{{&off, false}, {&on, true}} {
		b := newPullBar(c.w, c.terminal, "vigil/db")
		b.report(0, 4<<20)
		b.report(4<<20, 4<<20)
		b.done()
	}
	if off.Len() != 0 {
		t.Errorf("not a terminal, yet drawn: %q", off.String())
	}
	if s := on.String(); !strings.Contains(s, "pulling vigil/db [") || !strings.Contains(s, "4.0 MiB / 4.0 MiB") || !strings.HasSuffix(s, "\r\033[K") {
		t.Errorf("on a terminal: %q", s)
	}
}
