package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// TestMain lets the test binary be the vigil binary: with
// VIGIL_TEST_MAIN=1 it runs main with its arguments, so that tests can
// start, kill and restart real `vigil serve` processes.
func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// serveProc is a `vigil serve` child process.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	log  string
	done chan struct{} // closed when the process has exited
	err  error
}

func startServe(t *testing.T, data, dbDir, addr string, extra ...string) *serveProc {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--data", data, "--addr", addr, "--db-dir", dbDir,
		"--cache-dir", filepath.Join(data, "..", "cache"), "--job-lease", "2s", "--workers", "2"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VIGIL_TEST_MAIN=1", "HOME="+filepath.Join(data, ".."))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, addr: addr, log: logFile, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("vigil serve exited: %v\n%s", p.err, p.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("vigil serve did not come up\n%s", p.tail())
	return nil
}

func (p *serveProc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// kill9 kills the server without warning: no shutdown code runs.
func (p *serveProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type apiClient struct {
	base, token string
}

func (c apiClient) get(t *testing.T, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type imageRow struct {
	Repository string   `json:"repository"`
	Digest     string   `json:"digest"`
	Tags       []string `json:"tags"`
	ScanStatus string   `json:"scanStatus"`
	ScanReason string   `json:"scanReason"`
}

func (c apiClient) images(t *testing.T) []imageRow {
	t.Helper()
	var all []imageRow
	next := ""
	for {
		var page struct {
			Images    []imageRow `json:"images"`
			NextToken string     `json:"nextToken"`
		}
		c.get(t, "/api/v1/images?maxResults=1000&nextToken="+next, &page)
		all = append(all, page.Images...)
		if page.NextToken == "" {
			return all
		}
		next = page.NextToken
	}
}

type eventRow struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

func (c apiClient) events(t *testing.T) []eventRow {
	t.Helper()
	var all []eventRow
	after := int64(0)
	for {
		var page struct {
			Events  []eventRow `json:"events"`
			LastSeq int64      `json:"lastSeq"`
		}
		c.get(t, fmt.Sprintf("/api/v1/events?maxResults=1000&after=%d", after), &page)
		all = append(all, page.Events...)
		if len(page.Events) == 0 {
			return all
		}
		after = page.LastSeq
	}
}

type pushed struct {
	repo, tag string
	digest    v1.Hash
}

// TestKillDuringPushesAndScans kills `vigil serve` with SIGKILL while
// clients are pushing real images and workers are scanning them, then
// restarts it on the same data directory: every push the registry
// acknowledged is still there and pullable, every event recorded before
// the kill is still recorded, and every image, including those whose scan
// was cut short, ends scanned.
func TestKillDuringPushesAndScans(t *testing.T) {
	names := []string{"debian-bullseye-app", "alpine-3.7.3", "debian-bookworm-minbase", "alpine-3.20.3", "alpine-3.10.3"}
	imgs := make([]v1.Image, len(names))
	for i, n := range names {
		imgs[i] = testenv.LayoutImage(t, n)
	}
	root := t.TempDir()
	data, dbDir := filepath.Join(root, "data"), filepath.Join(root, "db")
	importFeeds(t, dbDir, "vulndb/alpine-secdb", "vulndb/debian")
	addr := freeAddr(t)
	srv := startServe(t, data, dbDir, addr)
	token := adminToken(t, data)
	c := apiClient{base: addr, token: token}
	if bytes.Contains([]byte(srv.tail()), []byte(token)) {
		t.Fatal("the admin token was written to the log")
	}

	// Three clients push one image after another into fresh
	// repositories until the server dies under them.
	var (
		mu    sync.Mutex
		acked []pushed
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	opts := []remote.Option{
		remote.WithAuth(&authn.Basic{Username: "vigil", Password: token}),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				img := imgs[(w+i)%len(imgs)]
				repo, tag := fmt.Sprintf("crash/c%d-%d", w, i), fmt.Sprintf("v%d", i)
				ref, err := name.ParseReference(addr+"/"+repo+":"+tag, name.Insecure)
				if err != nil {
					t.Error(err)
					return
				}
				if err := remote.Write(ref, img, opts...); err != nil {
					return // the server is gone: this push was never acknowledged
				}
				dg, _ := img.Digest()
				mu.Lock()
				acked = append(acked, pushed{repo, tag, dg})
				mu.Unlock()
			}
		}()
	}

	// Kill once pushes have been acknowledged and a scan is running,
	// keeping the last event list seen before the kill.
	var before []eventRow
	deadline := time.Now().Add(90 * time.Second)
	scanning := ""
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		before = c.events(t)
		scanning = ""
		for _, im := range c.images(t) {
			if im.ScanStatus == "SCANNING" {
				scanning = im.Repository + "@" + im.Digest
			}
		}
		if n >= 4 && scanning != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if scanning == "" {
		t.Fatalf("no scan was seen running\n%s", srv.tail())
	}
	srv.kill9(t)
	close(stop)
	wg.Wait()
	t.Logf("killed with %d pushes acknowledged, %d events recorded, %s being scanned", len(acked), len(before), scanning)

	srv = startServe(t, data, dbDir, addr)
	// Everything settles: no image is left pending or half scanned.
	var final []imageRow
	deadline = time.Now().Add(120 * time.Second)
	for {
		final = c.images(t)
		settled := true
		for _, im := range final {
			if im.ScanStatus == "PENDING" || im.ScanStatus == "SCANNING" {
				settled = false
			}
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scans did not finish after the restart: %+v\n%s", final, srv.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	byRef := map[string]imageRow{}
	for _, im := range final {
		if im.ScanStatus != "COMPLETE" {
			t.Errorf("%s@%s ended %s (%s)", im.Repository, im.Digest, im.ScanStatus, im.ScanReason)
		}
		for _, tag := range im.Tags {
			byRef[im.Repository+":"+tag] = im
		}
	}
	after := c.events(t)
	ids := map[string]bool{}
	for _, e := range after {
		ids[e.ID] = true
	}
	for _, e := range before {
		if !ids[e.ID] {
			t.Errorf("event %s (%s) recorded before the kill is gone", e.ID, e.DetailType)
		}
	}
	type key struct{ typ, repo, digest, tag string }
	seen := map[key]bool{}
	for _, e := range after {
		var dt struct {
			Repo   string `json:"repository-name"`
			Digest string `json:"image-digest"`
			Tag    string `json:"image-tag"`
			Status string `json:"scan-status"`
		}
		json.Unmarshal(e.Detail, &dt)
		switch e.DetailType {
		case "ECR Image Action":
			seen[key{"push", dt.Repo, dt.Digest, dt.Tag}] = true
		case "Inspector2 Scan":
			if dt.Status == "INITIAL_SCAN_COMPLETE" {
				seen[key{"scan", strings.TrimPrefix(dt.Repo, "arn:aws:ecr:local:000000000000:repository/"), dt.Digest, ""}] = true
			}
		}
	}
	pullOpts := []remote.Option{remote.WithAuth(&authn.Basic{Username: "vigil", Password: token})}
	for _, p := range acked {
		im, ok := byRef[p.repo+":"+p.tag]
		if !ok || im.Digest != p.digest.String() {
			t.Errorf("acknowledged push %s:%s (%s) is not stored: %+v", p.repo, p.tag, p.digest, im)
			continue
		}
		if !seen[key{"push", p.repo, p.digest.String(), p.tag}] {
			t.Errorf("no ECR Image Action event for %s:%s", p.repo, p.tag)
		}
		if !seen[key{"scan", p.repo, p.digest.String(), ""}] {
			t.Errorf("no INITIAL_SCAN_COMPLETE event for %s@%s", p.repo, p.digest)
		}
		ref, _ := name.ParseReference(addr+"/"+p.repo+":"+p.tag, name.Insecure)
		desc, err := remote.Head(ref, pullOpts...)
		if err != nil || desc.Digest != p.digest {
			t.Errorf("pulling %s:%s after the restart: %v, %v", p.repo, p.tag, desc, err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no push was acknowledged")
	}
	t.Logf("after the restart: %d images, %d events, all scanned", len(final), len(after))
}

// importFeeds builds the vulnerability database in dir from shared feeds.
func importFeeds(t *testing.T, dir string, feeds ...string) {
	t.Helper()
	d, err := vulndb.NewDir(dir)
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

// adminToken reads the admin token a first `vigil serve` wrote.
func adminToken(t *testing.T, data string) string {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(data, "initial-admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(tok))
}
