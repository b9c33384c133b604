package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/store"
)

// putRuleShape is a rule as EventBridge's PutRule takes it: the pattern
// (that of the `aws events put-rule --event-pattern` example) is a string.
const putRuleShape = `{"Name":"ec2-stopping","Description":"EC2 instances stopping",` +
	`"EventPattern":"{\"source\":[\"aws.ec2\"],\"detail-type\":[\"EC2 Instance State-change Notification\"]}",` +
	`"State":"ENABLED","Targets":[{"Id":"log","Type":"log"}]}`

const putRulePattern = `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"]}`

func samePattern(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Errorf("stored pattern %s: %v", got, err)
		return false
	}
	json.Unmarshal([]byte(want), &b)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestRulesPutEventBridgeShape: `vigil rules put --file` takes a rule in
// EventBridge's PutRule shape as well as Vigil's, and refuses a malformed
// pattern string, naming what is wrong, before sending anything.
func TestRulesPutEventBridgeShape(t *testing.T) {
	r := newRemote(t).as(store.RoleAdmin)
	dir := t.TempDir()
	file := filepath.Join(dir, "rule.json")
	if err := os.WriteFile(file, []byte(putRuleShape), 0o600); err != nil {
		t.Fatal(err)
	}
	r.run("rules", "put", "--file", file)
	got, err := r.srv.Store.EventRule(context.Background(), "ec2-stopping")
	if err != nil {
		t.Fatal(err)
	}
	if !samePattern(t, got.EventPattern, putRulePattern) || got.State != "ENABLED" || got.Description != "EC2 instances stopping" || len(got.Targets) != 1 {
		t.Errorf("stored %+v (pattern %s)", got, got.EventPattern)
	}
	// The same pattern string given with --pattern.
	quoted, _ := json.Marshal(putRulePattern)
	r.run("rules", "put", "ec2-flags", "--pattern", string(quoted), "--log")
	if got, err := r.srv.Store.EventRule(context.Background(), "ec2-flags"); err != nil || !samePattern(t, got.EventPattern, putRulePattern) {
		t.Errorf("--pattern as a string: %+v, %v", got, err)
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"Name":"broken","EventPattern":"{\"source\":[\"aws.ec2\"]","State":"ENABLED"}`), 0o600)
	code, _, stderr := runRemote(r.env, "rules", "put", "--file", bad)
	if code != ExitUsage || !strings.Contains(stderr, "EventPattern") || !strings.Contains(stderr, "invalid JSON at offset 21") {
		t.Errorf("malformed pattern string: exit %d, %s", code, stderr)
	}
	if _, err := r.srv.Store.EventRule(context.Background(), "broken"); err == nil {
		t.Error("the malformed rule was stored")
	}
}

// TestConfigRuleEventBridgeShape: the configuration file's rules may be in
// EventBridge's PutRule shape; a malformed pattern string stops the start
// with an error naming the rule and the problem.
func TestConfigRuleEventBridgeShape(t *testing.T) {
	ctx := context.Background()
	open := func(yaml string) (*server.Server, error) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(file, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		a := &app{env: Env{Getenv: func(string) string { return "" }}, cfg: cfg}
		scfg, err := a.serverConfig(&serverFlags{data: t.TempDir(), dbDir: t.TempDir()}, "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		return server.New(ctx, scfg)
	}
	srv, err := open(`rules:
  - Name: ec2-stopping
    Description: EC2 instances stopping
    EventPattern: '` + putRulePattern + `'
    State: ENABLED
    Targets:
      - Id: log
        Type: log
  - Name: vigil-shape
    EventPattern: {"source": ["aws.ecr"]}
`)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got, err := srv.Store().EventRule(ctx, "ec2-stopping")
	if err != nil {
		t.Fatal(err)
	}
	if !samePattern(t, got.EventPattern, putRulePattern) || got.ManagedBy != "config" || got.Description != "EC2 instances stopping" {
		t.Errorf("stored %+v (pattern %s)", got, got.EventPattern)
	}
	if got, err := srv.Store().EventRule(ctx, "vigil-shape"); err != nil || !samePattern(t, got.EventPattern, `{"source":["aws.ecr"]}`) || got.State != "ENABLED" {
		t.Errorf("Vigil's shape: %+v, %v", got, err)
	}

	_, err = open(`rules:
  - Name: broken
    EventPattern: '{"source": ["aws.ec2"]'
`)
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "EventPattern") || !strings.Contains(err.Error(), "invalid JSON at offset 22") {
		t.Errorf("malformed pattern string: %v", err)
	}
}

// TestFindingsNotReachable: `vigil findings get` and `list` say when an
// unscored finding's code is not reachable, and get says why.
func TestFindingsNotReachable(t *testing.T) {
	r := newRemote(t).as(store.RoleReadOnly)
	ctx := context.Background()
	const why = "the binary has encoding/gob but none of its vulnerable functions (Decoder.Decode, Decoder.DecodeValue)"
	var id string
	for _, f := range r.srv.Fixture.Findings {
		if f.VulnerabilityID == "GO-2024-3106" {
			id = f.ID
		}
	}
	got, err := r.srv.Store.Finding(ctx, id)
	if err != nil || got.Score != nil {
		t.Fatalf("fixture finding %+v, %v; want an unscored one", got, err)
	}
	err = r.srv.Store.UpdateFindings(ctx, got.Repository, got.ImageDigest, func(existing []store.Finding) (store.FindingsUpdate, error) {
		for _, f := range existing {
			if f.ID == id {
				f.NotReachable = why
				return store.FindingsUpdate{Findings: []store.Finding{f}}, nil
			}
		}
		return store.FindingsUpdate{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := r.run("findings", "get", id)
	found := false
	for _, l := range lines(out) {
		if f := strings.SplitN(l, ":", 2); len(f) == 2 && f[0] == "Not reachable" && strings.TrimSpace(f[1]) == why {
			found = true
		}
	}
	if !found {
		t.Errorf("findings get:\n%s", out)
	}
	out, _ = r.run("findings", "get", id, "--json")
	var fd struct {
		NotReachable string `json:"notReachable"`
	}
	if err := json.Unmarshal([]byte(out), &fd); err != nil || fd.NotReachable != why {
		t.Errorf("findings get --json: %v\n%s", err, out)
	}
	out, _ = r.run("findings", "list")
	ls := lines(out)
	if f := strings.Fields(ls[0]); f[len(f)-1] != "REACHABLE" {
		t.Errorf("header %q", ls[0])
	}
	for _, l := range ls[1:] {
		f := strings.Fields(l)
		if want := map[bool]string{true: "no", false: "-"}[f[0] == id]; f[len(f)-1] != want {
			t.Errorf("row %q: REACHABLE %s, want %s", l, f[len(f)-1], want)
		}
	}
}
