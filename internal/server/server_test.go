package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/catalog"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// testServer runs a real server on a loopback port with its own data
// directory and vulnerability database.
type testServer struct {
	URL, Host string
	Token     string
	srv       *server.Server
	dbDir     string
	stop      func()
}

func startServer(t testing.TB, dbDir string, feeds ...string) *testServer {
	t.Helper()
	return startServerIn(t, t.TempDir(), dbDir, feeds...)
}

// startServerIn starts a server on the data directory data: a new one, or
// one a stopped server left (whose admin token is read back).
func startServerIn(t testing.TB, data, dbDir string, feeds ...string) *testServer {
	t.Helper()
	ctx := context.Background()
	if dbDir == "" {
		dbDir = t.TempDir()
		if len(feeds) > 0 {
			importFeeds(t, dbDir, feeds...)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Config{
		Addr: ln.Addr().String(), DataDir: data, Workers: 2, DBDir: dbDir,
		DBCheck: 200 * time.Millisecond, Lease: 5 * time.Second, TempDir: t.TempDir(),
		Log: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	file, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	if file == "" {
		file = filepath.Join(data, "initial-admin-token")
	}
	tok, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx, ln) }()
	ts := &testServer{URL: "http://" + ln.Addr().String(), Host: ln.Addr().String(), Token: strings.TrimSpace(string(tok)), srv: srv, dbDir: dbDir}
	var once sync.Once
	ts.stop = func() { once.Do(func() { stopServer(t, cancel, done, srv) }) }
	t.Cleanup(ts.stop)
	return ts
}

func stopServer(t testing.TB, cancel func(), done chan error, srv *server.Server) {
	{
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		srv.Close()
	}
}

func importFeeds(t testing.TB, dbDir string, feeds ...string) {
	t.Helper()
	d, err := vulndb.NewDir(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range feeds {
		paths = append(paths, testenv.Shared(t, f))
	}
	if _, err := d.Import(context.Background(), paths, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// push copies a test image into the server with go-containerregistry.
func (ts *testServer) push(t testing.TB, imageName, repoTag string) string {
	t.Helper()
	return testenv.Push(t, ts.Host, repoTag, ts.Token, imageName)
}

func (ts *testServer) api(t testing.TB, method, path string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+ts.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

type findingsPage struct {
	Findings []struct {
		FindingArn                  string `json:"findingArn"`
		Status                      string `json:"status"`
		Severity                    string `json:"severity"`
		PackageVulnerabilityDetails struct {
			VulnerabilityID    string `json:"vulnerabilityId"`
			VulnerablePackages []struct {
				Name string `json:"name"`
			} `json:"vulnerablePackages"`
		} `json:"packageVulnerabilityDetails"`
	} `json:"findings"`
	NextToken string `json:"nextToken"`
}

// findings lists an image's findings ("package vuln status").
func (ts *testServer) findings(t *testing.T, repo, digest string) []string {
	t.Helper()
	var page findingsPage
	filter := map[string]any{
		"ecrImageRepositoryName": []map[string]string{{"comparison": "EQUALS", "value": repo}},
		"ecrImageHash":           []map[string]string{{"comparison": "EQUALS", "value": digest}},
	}
	if code := ts.api(t, "POST", "/api/v1/findings/list", map[string]any{"filterCriteria": filter, "maxResults": 100}, &page); code != 200 {
		t.Fatalf("findings/list: %d", code)
	}
	var out []string
	for _, f := range page.Findings {
		pkg := ""
		if ps := f.PackageVulnerabilityDetails.VulnerablePackages; len(ps) > 0 {
			pkg = ps[0].Name
		}
		out = append(out, fmt.Sprintf("%s %s %s", pkg, f.PackageVulnerabilityDetails.VulnerabilityID, f.Status))
	}
	sort.Strings(out)
	return out
}

type imageDetail struct {
	ScanStatus string         `json:"scanStatus"`
	ScanReason string         `json:"scanReason"`
	Counts     map[string]int `json:"counts"`
}

func (ts *testServer) waitScan(t testing.TB, repo, digest string) imageDetail {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var im imageDetail
		code := ts.api(t, "GET", "/api/v1/images/detail?repository="+repo+"&digest="+digest, nil, &im)
		if code == 200 && im.ScanStatus != "PENDING" && im.ScanStatus != "SCANNING" {
			return im
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s@%s: scan did not finish", repo, digest)
	return imageDetail{}
}

type eventsPage struct {
	Events []struct {
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	} `json:"events"`
}

func (ts *testServer) events(t *testing.T) eventsPage {
	t.Helper()
	var page eventsPage
	if code := ts.api(t, "GET", "/api/v1/events?maxResults=1000", nil, &page); code != 200 {
		t.Fatalf("events: %d", code)
	}
	return page
}

// TestPushScanFindings pushes a real image and follows it through the
// scan to its findings and events.
func TestPushScanFindings(t *testing.T) {
	ts := startServer(t, "", "vulndb/alpine-secdb")
	digest := ts.push(t, "alpine-3.7.3", "team/alpine:3.7")
	im := ts.waitScan(t, "team/alpine", digest)
	if im.ScanStatus != "COMPLETE" || im.ScanReason != "SUCCESSFUL" {
		t.Fatalf("scan %+v", im)
	}
	want := []string{"musl CVE-2019-14697 ACTIVE", "musl-utils CVE-2019-14697 ACTIVE"}
	if got := ts.findings(t, "team/alpine", digest); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("findings %v, want %v", got, want)
	}
	if im.Counts["TOTAL"] != 2 {
		t.Errorf("counts %v", im.Counts)
	}
	types := map[string]int{}
	for _, e := range ts.events(t).Events {
		types[e.DetailType]++
		if e.DetailType == "Inspector2 Scan" {
			var d struct {
				ScanStatus     string         `json:"scan-status"`
				RepositoryName string         `json:"repository-name"`
				Counts         map[string]int `json:"finding-severity-counts"`
				ImageDigest    string         `json:"image-digest"`
			}
			json.Unmarshal(e.Detail, &d)
			if d.ScanStatus != "INITIAL_SCAN_COMPLETE" || d.ImageDigest != digest || d.Counts["TOTAL"] != 2 ||
				d.RepositoryName != "arn:aws:ecr:local:000000000000:repository/team/alpine" || len(e.Resources) != 1 || e.Resources[0] != d.RepositoryName {
				t.Errorf("scan event %s %v", e.Detail, e.Resources)
			}
		}
	}
	for typ, n := range map[string]int{"ECR Image Action": 1, "Inspector2 Scan": 1, "Inspector2 Finding": 2, "Inspector2 Coverage": 2} {
		if types[typ] != n {
			t.Errorf("%d %q events, want %d (all: %v)", types[typ], typ, n, types)
		}
	}
}

// TestReevaluation changes the vulnerability database under a running
// server: findings appear for an image scanned clean, then close when the
// database no longer lists them, without the image being pushed again.
func TestReevaluation(t *testing.T) {
	dbDir := t.TempDir()
	importFeeds(t, dbDir, "vulndb/debian/DSA") // nothing for Alpine
	ts := startServer(t, dbDir)
	digest := ts.push(t, "alpine-3.7.3", "team/alpine:3.7")
	if im := ts.waitScan(t, "team/alpine", digest); im.ScanStatus != "COMPLETE" || im.Counts["TOTAL"] != 0 {
		t.Fatalf("first scan %+v", im)
	}
	// A database with the Alpine secdb: the server notices and
	// re-evaluates the stored inventory.
	time.Sleep(20 * time.Millisecond)
	importFeeds(t, dbDir, "vulndb/alpine-secdb")
	waitFor(t, func() bool { return len(ts.findings(t, "team/alpine", digest)) == 2 })
	want := "musl CVE-2019-14697 ACTIVE,musl-utils CVE-2019-14697 ACTIVE"
	if got := strings.Join(ts.findings(t, "team/alpine", digest), ","); got != want {
		t.Errorf("after the update: %s", got)
	}
	// A database without it again (a fresh one, swapped in): the findings
	// close.
	fresh := t.TempDir()
	importFeeds(t, fresh, "vulndb/debian/DSA")
	time.Sleep(20 * time.Millisecond)
	copyFile(t, filepath.Join(fresh, "vulndb.sqlite"), filepath.Join(dbDir, "vulndb.sqlite"))
	waitFor(t, func() bool {
		return strings.Join(ts.findings(t, "team/alpine", digest), ",") == "musl CVE-2019-14697 CLOSED,musl-utils CVE-2019-14697 CLOSED"
	})
	rescans := 0
	for _, e := range ts.events(t).Events {
		if e.DetailType == "Inspector2 Scan" && strings.Contains(string(e.Detail), "RESCAN_COMPLETE") {
			rescans++
		}
	}
	if rescans != 2 {
		t.Errorf("%d RESCAN_COMPLETE events, want 2", rescans)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("condition not met within 30 s")
}

// TestScanWaitsForDatabase pushes an image to a server that has no
// vulnerability database yet: the scan fails, saying why, and completes
// from the stored inventory once a database arrives.
func TestScanWaitsForDatabase(t *testing.T) {
	dbDir := t.TempDir()
	ts := startServer(t, dbDir)
	digest := ts.push(t, "alpine-3.7.3", "team/alpine:3.7")
	im := ts.waitScan(t, "team/alpine", digest)
	if im.ScanStatus != "FAILED" || im.ScanReason != "INTERNAL_ERROR" {
		t.Fatalf("without a database: %+v", im)
	}
	importFeeds(t, dbDir, "vulndb/alpine-secdb")
	waitFor(t, func() bool { return ts.waitScan(t, "team/alpine", digest).ScanStatus == "COMPLETE" })
	want := "musl CVE-2019-14697 ACTIVE,musl-utils CVE-2019-14697 ACTIVE"
	if got := strings.Join(ts.findings(t, "team/alpine", digest), ","); got != want {
		t.Errorf("findings %s, want %s", got, want)
	}
	var coverage []string
	initial := 0
	for _, e := range ts.events(t).Events {
		switch e.DetailType {
		case "Inspector2 Coverage":
			var d struct {
				ScanStatus struct{ StatusCodeValue, Reason string } `json:"scanStatus"`
			}
			json.Unmarshal(e.Detail, &d)
			coverage = append(coverage, d.ScanStatus.StatusCodeValue+" "+d.ScanStatus.Reason)
		case "Inspector2 Scan":
			if strings.Contains(string(e.Detail), `"INITIAL_SCAN_COMPLETE"`) {
				initial++
			}
		}
	}
	if want := "ACTIVE PENDING_INITIAL_SCAN,INACTIVE INTERNAL_ERROR,ACTIVE SUCCESSFUL"; strings.Join(coverage, ",") != want {
		t.Errorf("coverage events %v, want %s", coverage, want)
	}
	if initial != 1 {
		t.Errorf("%d INITIAL_SCAN_COMPLETE events, want 1", initial)
	}
}

// TestLayersAnalysedOnUpload uploads an image's layers without its
// manifest: the server analyses each as it arrives, and keeps the result
// under the layer's diff-id, where the scan of a later manifest finds it.
func TestLayersAnalysedOnUpload(t *testing.T) {
	ts := startServer(t, "", "vulndb/alpine-secdb")
	p, err := layout.FromPath(testenv.Image(t, "debian-bullseye-app"))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	m, _ := idx.IndexManifest()
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	repo, _ := name.NewRepository(ts.Host+"/team/app", name.Insecure)
	// The config first: it is queued before the layers, so it has been
	// looked at by the time they are done.
	rawCfg, _ := img.RawConfigFile()
	for _, l := range append([]v1.Layer{static.NewLayer(rawCfg, types.OCIConfigJSON)}, layers...) {
		if err := remote.WriteLayer(repo, l, remote.WithAuth(&authn.Basic{Username: "vigil", Password: ts.Token})); err != nil {
			t.Fatal(err)
		}
	}
	a, err := analyze.New(catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		diffID, _ := l.DiffID()
		waitFor(t, func() bool {
			b, err := ts.srv.Store().GetLayer(context.Background(), diffID.String()+"/"+a.Version())
			return err == nil && b != nil
		})
	}
	// The config blob is not a layer: nothing is kept for it.
	cfg, _ := img.ConfigName()
	if b, _ := ts.srv.Store().GetLayer(context.Background(), "blob/"+cfg.String()+"/"+a.Version()); b != nil {
		t.Errorf("the config blob was analysed as a layer")
	}
}

// testLog logs to stderr for tests and only warnings for benchmarks,
// whose output is their measurements.
func testLog(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if _, ok := t.(*testing.B); ok {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// TestSuppressionExpires: a suppression rule's findings become ACTIVE
// again when the rule expires, without a rescan.
func TestSuppressionExpires(t *testing.T) {
	ts := startServer(t, "", "vulndb/alpine-secdb")
	digest := ts.push(t, "alpine-3.7.3", "team/alpine:3.7")
	ts.waitScan(t, "team/alpine", digest)
	expires := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	rule := map[string]any{"name": "soon", "reason": "fixed upstream next week", "expiresAt": expires,
		"filterCriteria": map[string]any{"vulnerabilityId": []map[string]string{{"comparison": "EQUALS", "value": "CVE-2019-14697"}}}}
	if code := ts.api(t, "POST", "/api/v1/suppressions", rule, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if got := strings.Join(ts.findings(t, "team/alpine", digest), ","); got != "musl CVE-2019-14697 SUPPRESSED,musl-utils CVE-2019-14697 SUPPRESSED" {
		t.Fatalf("while the rule lasts: %s", got)
	}
	waitFor(t, func() bool {
		return strings.Join(ts.findings(t, "team/alpine", digest), ",") == "musl CVE-2019-14697 ACTIVE,musl-utils CVE-2019-14697 ACTIVE"
	})
}
