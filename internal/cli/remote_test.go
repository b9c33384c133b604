package cli

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store"
)

// remote runs the command line against a test server with the role's
// token in $VIGIL_TOKEN and the server in $VIGIL_SERVER.
type remote struct {
	t   *testing.T
	srv *apitest.Server
	env map[string]string
}

func newRemote(t *testing.T) *remote {
	s := apitest.New(t)
	return &remote{t: t, srv: s, env: map[string]string{"HOME": t.TempDir(), "VIGIL_SERVER": s.URL}}
}

func (r *remote) as(role string) *remote {
	env := map[string]string{}
	for k, v := range r.env {
		env[k] = v
	}
	env["VIGIL_TOKEN"] = r.srv.Tokens[role]
	return &remote{t: r.t, srv: r.srv, env: env}
}

// run runs vigil and fails the test unless it exits 0.
func (r *remote) run(args ...string) (stdout, stderr string) {
	r.t.Helper()
	code, out, errs := runRemote(r.env, args...)
	if code != 0 {
		r.t.Fatalf("vigil %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out, errs
}

// runRemote runs the command line in-process.
func runRemote(env map[string]string, args ...string) (int, string, string) {
	return runVigilCode(env, args...)
}

func lines(s string) []string {
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

func TestRemoteImages(t *testing.T) {
	r := newRemote(t).as(store.RoleReadOnly)
	out, _ := r.run("images", "list")
	ls := lines(out)
	if len(ls) != 5 || !strings.HasPrefix(ls[0], "REPOSITORY") {
		t.Fatalf("table:\n%s", out)
	}
	// team/app:1.0 has one critical, one high and one medium finding.
	var app10 string
	for _, l := range ls {
		if strings.HasPrefix(l, "team/app ") && strings.Contains(l, " 1.0 ") {
			app10 = l
		}
	}
	if f := strings.Fields(app10); len(f) < 10 || strings.Join(f[3:10], " ") != "COMPLETE 1 1 1 0 0 3" {
		t.Errorf("team/app:1.0 row %q", app10)
	}
	// The image not scanned yet has no counts, rather than zeros.
	for _, l := range ls {
		if f := strings.Fields(l); f[0] == "team/web" && strings.Join(f[3:10], " ") != "PENDING - - - - - -" {
			t.Errorf("team/web row %q", l)
		}
	}
	out, _ = r.run("images", "list", "--json", "--repository", "team/app")
	var page struct {
		Images []store.Image
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Images) != 2 || page.Images[0].Tags[0] != "latest" {
		t.Errorf("JSON %+v", page)
	}
	out, errs := r.run("images", "list", "--limit", "1")
	if len(lines(out)) != 2 || !strings.Contains(errs, "more images") {
		t.Errorf("--limit 1:\n%s\n%s", out, errs)
	}
}

func TestRemoteFindings(t *testing.T) {
	r := newRemote(t).as(store.RoleReadOnly)
	count := func(args ...string) int {
		t.Helper()
		out, _ := r.run(append([]string{"findings", "list", "--json"}, args...)...)
		var p struct{ Findings []json.RawMessage }
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return len(p.Findings)
	}
	cases := []struct {
		args []string
		want int
	}{
		{nil, 7},
		{[]string{"--severity", "critical"}, 3},
		{[]string{"--severity", "HIGH,MEDIUM"}, 3},
		{[]string{"--severity", "HIGH", "--severity", "MEDIUM", "--repository", "team/db"}, 1},
		{[]string{"--repository", "team/a*"}, 5},
		{[]string{"--tag", "latest"}, 2},
		{[]string{"--package", "libssl3"}, 2},
		{[]string{"--vulnerability", "GO-*"}, 1},
		{[]string{"--status", "suppressed"}, 0},
		{[]string{"--filter-json", `{"inspectorScore":[{"lowerInclusive":7}]}`}, 5},
		{[]string{"--filter-json", `{"fixAvailable":[{"comparison":"EQUALS","value":"YES"}]}`, "--repository", "team/app"}, 3},
		{[]string{"--limit", "4"}, 4},
	}
	for _, c := range cases {
		if got := count(c.args...); got != c.want {
			t.Errorf("findings list %v: %d findings, want %d", c.args, got, c.want)
		}
	}
	dir := t.TempDir()
	filterFile := filepath.Join(dir, "filter.json")
	if err := os.WriteFile(filterFile, []byte(`{"severity":[{"comparison":"EQUALS","value":"UNTRIAGED"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := count("--filter-json", "@"+filterFile); got != 1 {
		t.Errorf("--filter-json @file: %d", got)
	}

	out, _ := r.run("findings", "list", "--severity", "CRITICAL")
	ls := lines(out)
	if len(ls) != 4 {
		t.Fatalf("table:\n%s", out)
	}
	for _, l := range ls[1:] {
		f := strings.Fields(l)
		if f[1] != "CRITICAL" || f[2] != "9.8" || f[4] != "CVE-2023-45853" || f[5] != "zlib1g" || f[6] != "1:1.2.13.dfsg-1" || f[7] != "-" {
			t.Errorf("row %q", l)
		}
	}
	out, _ = r.run("findings", "list", "--sort", "inspector_score", "--order", "asc", "--severity", "HIGH,MEDIUM,CRITICAL")
	ls = lines(out)
	if !strings.Contains(ls[1], "MEDIUM") || !strings.Contains(ls[len(ls)-1], "CRITICAL") {
		t.Errorf("ascending by score:\n%s", out)
	}

	// One finding, by id and by ARN.
	want := r.srv.Fixture.Images[2].Findings[0]
	out, _ = r.run("findings", "get", want.ID)
	if !strings.Contains(out, "Vulnerability:") || !strings.Contains(out, want.VulnerabilityID) || !strings.Contains(out, "team/db@") {
		t.Errorf("get:\n%s", out)
	}
	arn := "arn:aws:inspector2:" + apitest.Region + ":" + apitest.Account + ":finding/" + want.ID
	out, _ = r.run("findings", "get", arn, "--json")
	var f struct{ FindingArn string }
	if err := json.Unmarshal([]byte(out), &f); err != nil || f.FindingArn != arn {
		t.Errorf("get --json by ARN: %v\n%s", err, out)
	}
}

func TestRemoteAggregate(t *testing.T) {
	r := newRemote(t).as(store.RoleReadOnly)
	out, _ := r.run("findings", "aggregate", "--by", "repository")
	rows := map[string][]string{}
	for _, l := range lines(out)[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	// REPOSITORY IMAGES CRITICAL HIGH MEDIUM LOW UNTRIAGED TOTAL
	if strings.Join(rows["team/app"], " ") != "team/app 2 2 1 1 0 1 5" || strings.Join(rows["team/db"], " ") != "team/db 1 1 1 0 0 0 2" || len(rows) != 2 {
		t.Errorf("by repository:\n%s", out)
	}
	out, _ = r.run("findings", "aggregate", "--by", "package", "--json", "--repository", "team/db")
	var p struct {
		AggregationType string
		Responses       []store.Aggregate
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.AggregationType != "PACKAGE" || len(p.Responses) != 2 {
		t.Errorf("by package in team/db: %+v", p)
	}
	for _, by := range []string{"image", "layer", "title", "type"} {
		out, _ := r.run("findings", "aggregate", "--by", by)
		if len(lines(out)) < 2 {
			t.Errorf("--by %s:\n%s", by, out)
		}
	}
}

func TestRemoteSuppress(t *testing.T) {
	r := newRemote(t).as(store.RoleAdmin)
	out, _ := r.run("findings", "suppress", "--name", "zlib minizip", "--reason", "minizip is not built",
		"--vulnerability", "CVE-2023-45853", "--repository", "team/db", "--expires", "2099-01-01")
	if !strings.Contains(out, "created suppression rule") {
		t.Fatalf("suppress: %s", out)
	}
	rules, err := r.srv.Store.Rules(context.Background())
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules %+v, %v", rules, err)
	}
	rule := rules[0]
	if rule.Name != "zlib minizip" || rule.ExpiresAt.Year() != 2099 || len(rule.Filter.VulnerabilityID) != 1 || rule.Filter.EcrImageRepositoryName[0].Value != "team/db" {
		t.Errorf("stored rule %+v", rule)
	}
	out, _ = r.run("findings", "list", "--status", "SUPPRESSED", "--json")
	var p struct{ Findings []struct{ Status string } }
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Findings) != 1 {
		t.Errorf("suppressed findings: %v\n%s", err, out)
	}
	out, _ = r.run("suppressions", "list")
	if !strings.Contains(out, rule.ID) || !strings.Contains(out, "zlib minizip") || !strings.Contains(out, "CVE-2023-45853") {
		t.Errorf("suppressions list:\n%s", out)
	}
	r.run("suppressions", "delete", rule.ID)
	out, _ = r.run("suppressions", "list", "--json")
	if strings.Contains(out, rule.ID) {
		t.Errorf("rule still listed:\n%s", out)
	}
	out, _ = r.run("findings", "list", "--status", "SUPPRESSED", "--json")
	if strings.Contains(out, "SUPPRESSED") {
		t.Errorf("a finding is still suppressed:\n%s", out)
	}
}

func TestRemoteEvents(t *testing.T) {
	r := newRemote(t).as(store.RoleReadOnly)
	out, errs := r.run("events", "list", "--type", "Inspector2 Scan")
	if ls := lines(out); len(ls) != 4 || !strings.Contains(ls[1], "Inspector2 Scan") || !strings.Contains(ls[1], "aws.inspector2") {
		t.Errorf("scan events:\n%s", out)
	}
	if !strings.HasPrefix(errs, "last seq: ") {
		t.Errorf("stderr %q", errs)
	}
	last := strings.TrimSpace(strings.TrimPrefix(errs, "last seq: "))
	out, _ = r.run("events", "list", "--after", last, "--json")
	var p struct {
		Events []struct {
			DetailType string `json:"detail-type"`
		}
		LastSeq int64
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	// After the last scan: team/web's push and coverage events.
	if len(p.Events) != 2 || p.Events[0].DetailType != "ECR Image Action" {
		t.Errorf("events after %s: %+v", last, p)
	}
	out, _ = r.run("events", "list", "--limit", "3", "--json")
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Events) != 3 {
		t.Errorf("--limit 3: %d events, %v", len(p.Events), err)
	}
}

func TestRemoteTokens(t *testing.T) {
	r := newRemote(t).as(store.RoleAdmin)
	out, errs := r.run("tokens", "create", "ci", "--role", "pipeline")
	secret := strings.TrimSpace(out)
	if !strings.HasPrefix(secret, "vgl_") || strings.Contains(errs, secret) || !strings.Contains(errs, "shown only now") {
		t.Fatalf("create: stdout %q stderr %q", out, errs)
	}
	tok, err := r.srv.Store.TokenByHash(context.Background(), auth.Hash(secret))
	if err != nil || tok.Name != "ci" || tok.Role != store.RolePipeline {
		t.Fatalf("stored %+v, %v", tok, err)
	}
	// The new token works, from a file too.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": r.env["HOME"]}
	if code, _, errs := runRemote(env, "images", "list", "--server", r.srv.URL, "--token-file", file); code != 0 {
		t.Errorf("with --token-file: exit %d: %s", code, errs)
	}
	if code, _, errs := runRemote(env, "tokens", "list", "--server", r.srv.URL, "--token", secret); code != ExitError || !strings.Contains(errs, "403") {
		t.Errorf("pipeline listing tokens: exit %d: %s", code, errs)
	}
	out, _ = r.run("tokens", "list")
	if !strings.Contains(out, tok.ID) || !strings.Contains(out, "pipeline") || strings.Contains(out, secret) || strings.Contains(out, tok.Hash) {
		t.Errorf("list:\n%s", out)
	}
	r.run("tokens", "delete", tok.ID)
	if code, _, errs := runRemote(env, "images", "list", "--server", r.srv.URL, "--token-file", file); code != ExitError || !strings.Contains(errs, "401") {
		t.Errorf("deleted token: exit %d: %s", code, errs)
	}
	out, _ = r.run("tokens", "create", "auditor", "--role", "read-only", "--json")
	var created struct {
		Token  struct{ Name, Role string }
		Secret string
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Token.Role != "read-only" || !strings.HasPrefix(created.Secret, "vgl_") {
		t.Errorf("create --json: %v\n%s", err, out)
	}
}

func TestRemoteErrors(t *testing.T) {
	r := newRemote(t)
	ro := r.as(store.RoleReadOnly)
	cases := []struct {
		env  map[string]string
		args []string
		code int
		want string
	}{
		{r.env, []string{"images", "list"}, ExitError, "401"},
		{ro.env, []string{"tokens", "list"}, ExitError, "403 FORBIDDEN"},
		{ro.env, []string{"findings", "suppress", "--name", "x", "--reason", "y", "--severity", "LOW"}, ExitError, "may not"},
		{ro.env, []string{"findings", "get", "nope"}, ExitError, "not a finding id"},
		{ro.env, []string{"findings", "get", strings.Repeat("a", 32)}, ExitError, "not found"},
		{ro.env, []string{"findings", "list", "--filter-json", `{"severty":[]}`}, ExitUsage, "severty"},
		{ro.env, []string{"findings", "list", "--filter-json", "@/does/not/exist"}, ExitError, "filter-json"},
		{ro.env, []string{"findings", "list", "--repository", "*"}, ExitUsage, "empty value"},
		{ro.env, []string{"findings", "list", "--sort", "color"}, ExitError, "sortCriteria.field"},
		{ro.env, []string{"findings", "aggregate"}, ExitUsage, "--by"},
		{ro.env, []string{"findings", "aggregate", "--by", "cve"}, ExitUsage, "--by"},
		{ro.env, []string{"findings", "suppress", "--name", "x"}, ExitUsage, "--reason"},
		{ro.env, []string{"findings", "suppress", "--name", "x", "--reason", "y", "--expires", "soon"}, ExitUsage, "--expires"},
		{ro.env, []string{"findings", "get"}, ExitUsage, "argument"},
		{ro.env, []string{"tokens", "create", "x", "--role", "root"}, ExitUsage, "--role"},
		{ro.env, []string{"images", "list", "--server", "localhost:5000"}, ExitUsage, "not an http"},
		{ro.env, []string{"images", "list", "--token", "a", "--token-file", "b"}, ExitUsage, "not both"},
		{ro.env, []string{"events", "list", "--after", "-1"}, ExitUsage, "--after"},
		{ro.env, []string{"findings"}, ExitUsage, "subcommand"},
	}
	for _, c := range cases {
		code, _, errs := runRemote(c.env, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("vigil %s: exit %d, want %d with %q:\n%s", strings.Join(c.args, " "), code, c.code, c.want, errs)
		}
		if strings.Contains(errs, r.srv.Tokens[store.RoleReadOnly]) {
			t.Errorf("vigil %s printed the token", strings.Join(c.args, " "))
		}
	}
	// The server defaults to $VIGIL_SERVER; without it, localhost:5000.
	env := map[string]string{"HOME": r.env["HOME"], "VIGIL_SERVER": "http://127.0.0.1:1"}
	if code, _, errs := runRemote(env, "images", "list"); code != ExitError || !strings.Contains(errs, url.PathEscape("127.0.0.1:1")) {
		t.Errorf("unreachable server: exit %d: %s", code, errs)
	}
}

func TestParseExpiry(t *testing.T) {
	now := apitest.Now
	cases := map[string]string{
		"2026-12-31T10:00:00Z": "2026-12-31T10:00:00Z",
		"2026-12-31":           "2026-12-31T00:00:00Z",
		"30d":                  "2026-04-01T12:00:00Z",
		"36h":                  "2026-03-04T00:00:00Z",
	}
	for in, want := range cases {
		got, err := parseExpiry(in, now)
		if err != nil || got.UTC().Format("2006-01-02T15:04:05Z") != want {
			t.Errorf("%s: %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-5d", "tomorrow", "-1h", "99999999d"} {
		if _, err := parseExpiry(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
