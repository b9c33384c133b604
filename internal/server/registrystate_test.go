package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/server"
)

// TestGateRuleUpgraded: a built-in gate rule written by an earlier
// version, which routed only pushes, routes deletions too after a
// restart, so that the gate judges deleted images again; a rule an admin
// changed is left alone.
func TestGateRuleUpgraded(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	open := func() *server.Server {
		t.Helper()
		srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: data, DBDir: t.TempDir(), TempDir: t.TempDir(), Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	pattern := func(srv *server.Server) string {
		t.Helper()
		r, err := srv.Store().EventRule(ctx, server.GateRuleName)
		if err != nil {
			t.Fatal(err)
		}
		return string(r.EventPattern)
	}
	srv := open()
	if p := pattern(srv); !strings.Contains(p, `"DELETE"`) {
		t.Fatalf("a new installation's rule: %s", p)
	}
	old := `{"$or":[{"source":["aws.inspector2"],"detail-type":["Inspector2 Scan"]},` +
		`{"source":["aws.inspector2"],"detail-type":["Inspector2 Coverage"],"detail":{"scanStatus":{"statusCodeValue":["INACTIVE"]}}},` +
		`{"source":["aws.ecr"],"detail-type":["ECR Image Action"],"detail":{"action-type":["PUSH"]}}]}`
	r, err := srv.Store().EventRule(ctx, server.GateRuleName)
	if err != nil {
		t.Fatal(err)
	}
	r.EventPattern = json.RawMessage(old)
	if err := srv.Store().PutEventRule(ctx, *r); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv = open()
	if p := pattern(srv); !strings.Contains(p, `"DELETE"`) {
		t.Errorf("the earlier rule after a restart: %s", p)
	}
	r, _ = srv.Store().EventRule(ctx, server.GateRuleName)
	r.EventPattern = json.RawMessage(`{"source":["aws.inspector2"]}`)
	if err := srv.Store().PutEventRule(ctx, *r); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv = open()
	defer srv.Close()
	if p := pattern(srv); p != `{"source":["aws.inspector2"]}` {
		t.Errorf("an admin's rule was changed: %s", p)
	}
}
