package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/bus"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/store"
)

// TestConfigRules: rules and policies from the configuration file are
// written at start, replaced at the next, and removed when the file no
// longer has them; the built-in gate rule is made once, and stays deleted
// once an admin deletes it. A configured webhook receives, signed, the
// events of a real push.
func TestConfigRules(t *testing.T) {
	var mu sync.Mutex
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := bus.Verify("config-secret", r.Header.Get(bus.HeaderSignature), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook: %v", err)
		}
		var e struct {
			DetailType string `json:"detail-type"`
		}
		json.Unmarshal(body, &e)
		mu.Lock()
		got = append(got, e.DetailType)
		mu.Unlock()
	}))
	defer rcv.Close()
	ctx := context.Background()
	data, dbDir := t.TempDir(), t.TempDir()
	importFeeds(t, dbDir, "vulndb/alpine-secdb")
	pushes := store.EventRule{Name: "pushes", EventPattern: json.RawMessage(`{"source":["aws.ecr"]}`),
		Targets: []store.Target{{ID: "hook", Type: store.TargetWebhook, URL: rcv.URL, Secret: "config-secret"}}}
	scans := store.EventRule{Name: "scans", EventPattern: json.RawMessage(`{"detail-type":["Inspector2 Scan"]}`),
		Targets: []store.Target{{ID: "log", Type: store.TargetLog}}}
	zero := 0
	open := func(rules []store.EventRule, policies []store.GatePolicy) *server.Server {
		t.Helper()
		srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: data, DBDir: dbDir, Workers: 1, TempDir: t.TempDir(),
			Rules: rules, GatePolicies: policies, BusPoll: 20 * time.Millisecond, Log: testLog(t),
			EgressAllow: []string{"127.0.0.1/32"}}) // the receiver's address, refused by default
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	names := func(srv *server.Server) map[string]string {
		rs, err := srv.Store().EventRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rs {
			out[r.Name] = r.ManagedBy
		}
		return out
	}
	srv := open([]store.EventRule{pushes, scans}, []store.GatePolicy{{Name: "team", Repository: "team/*", MaxCritical: &zero}})
	if n := names(srv); len(n) != 3 || n["pushes"] != "config" || n["scans"] != "config" || n[server.GateRuleName] != "builtin" {
		t.Fatalf("rules at the first start: %v", n)
	}
	if p, err := srv.Store().GatePolicy(ctx, "team"); err != nil || p.OnTimeout != "REJECT" {
		t.Fatalf("policy %+v %v", p, err)
	}
	// Serve, and push: the webhook gets the ECR Image Action.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	file, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx, ln) }()
	ts := &testServer{URL: "http://" + ln.Addr().String(), Host: ln.Addr().String(), Token: readToken(t, file)}
	digest := ts.push(t, "alpine-3.7.3", "team/alpine:3.7")
	ts.waitScan(t, "team/alpine", digest)
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && got[0] == "ECR Image Action"
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	srv.Close()

	// The next start's file has only "scans", changed.
	scans.Description = "changed"
	srv = open([]store.EventRule{scans}, nil)
	if n := names(srv); len(n) != 2 || n["scans"] != "config" || n[server.GateRuleName] != "builtin" {
		t.Fatalf("rules at the second start: %v", n)
	}
	if r, err := srv.Store().EventRule(ctx, "scans"); err != nil || r.Description != "changed" {
		t.Fatalf("scans %+v %v", r, err)
	}
	if err := srv.Store().DeleteEventRule(ctx, server.GateRuleName); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv = open(nil, nil)
	defer srv.Close()
	if n := names(srv); len(n) != 0 {
		t.Fatalf("rules at the third start: %v (the built-in rule came back, or a configured one stayed)", n)
	}
	// A bad rule in the file stops the start, naming it.
	bad := store.EventRule{Name: "bad", EventPattern: json.RawMessage(`{"detail":{"n":[{"numeric":["<"]}]}}`)}
	if _, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DBDir: dbDir, Rules: []store.EventRule{bad}, Log: testLog(t)}); err == nil {
		t.Error("a server started with an invalid rule")
	}
	// So does a webhook the egress policy refuses, naming its URL and why.
	_, err = server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DBDir: dbDir, Rules: []store.EventRule{pushes}, Log: testLog(t)})
	if err == nil || !strings.Contains(err.Error(), rcv.URL) || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a server with a webhook to %s and no allow-list: %v", rcv.URL, err)
	}
	_, err = server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DBDir: dbDir, EgressAllow: []string{"10.0.0.0/33"}, Log: testLog(t)})
	if err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("a server with a bad allow-list entry: %v", err)
	}
}

func readToken(t *testing.T, file string) string {
	t.Helper()
	if file == "" {
		t.Fatal("no token file")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
