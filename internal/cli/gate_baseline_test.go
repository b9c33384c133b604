package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/store"
)

// TestBaselineGateFlags: `vigil gate policies put --new-findings-only`
// stores the policy field and the list shows it; `vigil gate check`
// passes --stage and --db-version to the server, whose answers name the
// stage compared with and refuse a version that is malformed or not kept.
func TestBaselineGateFlags(t *testing.T) {
	r := newRemote(t).as(store.RoleAdmin)
	r.run("gate", "policies", "put", "changes", "--repository", "team/app", "--max-critical", "0", "--new-findings-only", "--allow-partial-coverage")
	out, _ := r.run("gate", "policies", "list", "--json")
	var ps struct {
		Policies []store.GatePolicy `json:"policies"`
	}
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps.Policies) != 1 || !ps.Policies[0].NewFindingsOnly {
		t.Fatalf("policies %+v", ps.Policies)
	}
	table, _ := r.run("gate", "policies", "list")
	if ls := lines(table); len(ls) < 2 || !strings.Contains(ls[0], "NEW ONLY") || !strings.Contains(ls[1], "true") {
		t.Errorf("policies table:\n%s", table)
	}

	code, out, errs := runRemote(r.env, "gate", "check", "team/app:1.0", "--stage", "prod")
	if (code != 0 && code != ExitRejected) || !strings.Contains(out, `no other image of team/app was approved for stage "prod"`) ||
		!strings.Contains(out, "database version "+apitest.DBVersion) {
		t.Errorf("gate check --stage prod: exit %d\n%s%s", code, out, errs)
	}
	// A decision names the database version too.
	code, _, errs = runRemote(r.env, "gate", "wait", "team/app:1.0", "--pipeline", "deploy", "--stage", "prod", "--timeout", "10s")
	if code != 0 && code != ExitRejected {
		t.Fatalf("gate wait: exit %d\n%s", code, errs)
	}
	decisions, _ := r.run("gate", "decisions", "--image", "team/app")
	if ls := lines(decisions); len(ls) < 2 || !strings.Contains(ls[0], "DB VERSION") || !strings.Contains(ls[1], apitest.DBVersion) {
		t.Errorf("gate decisions:\n%s", decisions)
	}
	for _, c := range []struct{ version, want string }{
		{"latest", `dbVersion "latest" is not a database version`},
		{"20261204T183257Z-3f2a9c1b7e4d", "database version not kept"},
	} {
		code, out, errs := runRemote(r.env, "gate", "check", "team/app:1.0", "--db-version", c.version)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("--db-version %s: exit %d, want 1 and %q\n%s%s", c.version, code, c.want, out, errs)
		}
	}
}

// TestBaselineConfigFile: the configuration file's gate policies take
// newFindingsOnly and db.keepVersions reaches the server.
func TestBaselineConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.yaml")
	yaml := "db:\n  keepVersions: 9\ngate:\n  policies:\n    - {name: changes, repository: 'team/*', maxCritical: 0, newFindingsOnly: true}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a := &app{env: Env{Getenv: func(string) string { return "" }}, cfg: cfg}
	sc, err := a.serverConfig(&serverFlags{data: t.TempDir(), dbDir: t.TempDir()}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.GatePolicies) != 1 || !sc.GatePolicies[0].NewFindingsOnly || sc.KeepDBVersions != 9 {
		t.Errorf("policies %+v, keep %d", sc.GatePolicies, sc.KeepDBVersions)
	}
}
