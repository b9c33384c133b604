package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/testenv"
)

// clientServer is a real `vigil serve` over a database built from the
// shared feeds, with a token of each role, and the cache directory whose
// database it is (for local scans to compare with).
type clientServer struct {
	url    string
	cache  string
	tokens map[string]string
}

// clientFeeds are the shared feeds the client-mode tests import: every
// ecosystem of the test images, and EPSS, KEV and NVD for scores.
func clientFeeds(t *testing.T) []string {
	var paths []string
	for _, eco := range appOSVEcosystems {
		paths = append(paths, testenv.Shared(t, "vulndb/osv/"+eco+"/all.zip"))
	}
	return append(paths, testenv.Shared(t, "vulndb/nvd/cves-page-0.json"), testenv.Shared(t, "vulndb/debian"),
		testenv.Shared(t, "vulndb/alpine-secdb"), testenv.Shared(t, "vulndb/kev"), testenv.Shared(t, "vulndb/epss"))
}

func newClientServer(t *testing.T) *clientServer {
	t.Helper()
	ctx := context.Background()
	cache := t.TempDir()
	runVigilIn(t, cache, append([]string{"db", "import"}, clientFeeds(t)...)...)
	srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DBDir: filepath.Join(cache, "db"),
		TempDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	file, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	cs := &clientServer{url: hs.URL, cache: cache, tokens: map[string]string{store.RoleAdmin: strings.TrimSpace(string(admin))}}
	c, err := apiclient.New(hs.URL, cs.tokens[store.RoleAdmin], nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{store.RolePipeline, store.RoleReadOnly} {
		nt, err := c.CreateToken(ctx, role+"-token", role)
		if err != nil {
			t.Fatal(err)
		}
		cs.tokens[role] = nt.Secret
	}
	return cs
}

// local runs vigil with the server's database as its own.
func (cs *clientServer) local(args ...string) (int, string, string) {
	return runVigilCode(map[string]string{"VIGIL_CACHE_DIR": cs.cache, "HOME": cs.cache}, args...)
}

// client runs `vigil scan --server` on a runner born empty: its own,
// empty cache directory, no database, the role's token in $VIGIL_TOKEN.
func (cs *clientServer) client(t *testing.T, role string, args ...string) (int, string, string) {
	empty := t.TempDir()
	env := map[string]string{"VIGIL_CACHE_DIR": empty, "HOME": empty}
	if role != "" {
		env["VIGIL_TOKEN"] = cs.tokens[role]
	}
	code, out, errs := runVigilCode(env, append(args, "--server", cs.url)...)
	if _, err := os.Stat(filepath.Join(empty, "db")); err == nil {
		t.Errorf("client mode made a database directory in the runner's cache")
	}
	return code, out, errs
}

// scanSBOM posts a ScanSbom request and returns the status and body.
func (cs *clientServer) scanSBOM(t *testing.T, role string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", cs.url+"/api/v1/scan/sbom", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+cs.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// findingKey names a finding by vulnerability, package (its purl holds
// name and version) and file; findingValue
// is what must be the same wherever it was scored.
func findingKey(id, purl, path string) string {
	return id + " " + purl + " " + path
}

func findingValue(score float64, severity string) string {
	return fmt.Sprintf("%.1f %s", score, severity)
}

// jsonFindings reads `vigil scan --format json` findings as key → value.
func jsonFindings(t *testing.T, out string) map[string]string {
	t.Helper()
	var doc struct {
		Findings []struct {
			ID      string `json:"id"`
			Package struct {
				PURL, Path string
			} `json:"package"`
			Score struct {
				Value    *float64 `json:"value"`
				Severity string   `json:"severity"`
			} `json:"score"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("scan JSON: %v\n%.2000s", err, out)
	}
	m := map[string]string{}
	for _, f := range doc.Findings {
		score := 0.0
		if f.Score.Value != nil {
			score = *f.Score.Value
		}
		m[findingKey(f.ID, f.Package.PURL, f.Package.Path)] = findingValue(score, f.Score.Severity)
	}
	return m
}

// sameFindings fails the test unless got and want hold the same
// findings with the same scores and severities.
func sameFindings(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("%s: missing %s (%s)", what, k, w)
		case !wok:
			t.Errorf("%s: extra %s (%s)", what, k, g)
		case g != w:
			t.Errorf("%s: %s scored %s, locally %s", what, k, g, w)
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatalf("%s: too many differences", what)
		}
	}
}

// clientImages are the real test images the modes are compared on.
var clientImages = []string{"debian-bullseye-app", "debian-bookworm-minbase", "alpine-3.7.3", "alpine-3.20.3"}

// TestClientModeSameFindings scans each real test image locally and with
// --server from a runner with no database, and holds the two to the same
// findings (vulnerability, package, version, file), scores, severities
// and coverage, and to the same exit statuses under a threshold.
func TestClientModeSameFindings(t *testing.T) {
	cs := newClientServer(t)
	for _, name := range clientImages {
		t.Run(name, func(t *testing.T) {
			src := "oci:" + testenv.Image(t, name) + ":latest"
			code, localOut, errs := cs.local("scan", src, "--format", "json", "--no-layer-cache")
			if code != 0 {
				t.Fatalf("local scan: exit %d\n%s", code, errs)
			}
			code, clientOut, errs := cs.client(t, store.RolePipeline, "scan", src, "--format", "json")
			if code != 0 {
				t.Fatalf("client scan: exit %d\n%s", code, errs)
			}
			want := jsonFindings(t, localOut)
			sameFindings(t, "client mode", jsonFindings(t, clientOut), want)
			if name == "debian-bullseye-app" && len(want) == 0 {
				t.Fatal("the app image has no findings locally; the comparison proves nothing")
			}
			var lc, cc struct {
				Coverage json.RawMessage `json:"coverage"`
				Summary  json.RawMessage `json:"summary"`
			}
			json.Unmarshal([]byte(localOut), &lc)
			json.Unmarshal([]byte(clientOut), &cc)
			if !bytes.Equal(lc.Coverage, cc.Coverage) || !bytes.Equal(lc.Summary, cc.Summary) {
				t.Errorf("coverage or summary differ:\nlocal  %s %s\nclient %s %s", lc.Coverage, lc.Summary, cc.Coverage, cc.Summary)
			}
			// Exit statuses: a threshold an image crosses or not, one
			// none crosses (0, or 6 for an image that is not fully
			// covered), and stale data (the shared KEV copy is over a
			// year old: 4, judged on the server's feed ages).
			for _, th := range [][]string{{"--fail-on", "high"}, {"--max-critical", "100000", "--max-high", "100000"}, {"--fail-on-stale-db"}} {
				lcode, _, lerr := cs.local(append([]string{"scan", src, "--no-layer-cache"}, th...)...)
				ccode, _, cerr := cs.client(t, store.RolePipeline, append([]string{"scan", src}, th...)...)
				if lcode != ccode {
					t.Errorf("%v: local exit %d, client exit %d\nlocal: %s\nclient: %s", th, lcode, ccode, lerr, cerr)
				}
				t.Logf("%v: exit %d", th, lcode)
			}
			t.Logf("%d findings", len(want))
		})
	}
}
