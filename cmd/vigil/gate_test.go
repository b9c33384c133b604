package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vigilsec/vigil/internal/testenv"
)

func (c apiClient) do(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// vigil runs the vigil command line in a process of its own.
type vigilRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	code           int
}

func startVigil(t *testing.T, env []string, args ...string) *vigilRun {
	t.Helper()
	r := &vigilRun{cmd: exec.Command(os.Args[0], args...), done: make(chan struct{})}
	r.cmd.Env = append(append(os.Environ(), "VIGIL_TEST_MAIN=1", "HOME="+t.TempDir()), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := r.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code = -1
		}
		close(r.done)
	}()
	t.Cleanup(func() { r.cmd.Process.Kill(); <-r.done })
	return r
}

func (r *vigilRun) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(within):
		t.Fatalf("vigil %v still running after %s\nstdout:\n%s\nstderr:\n%s", r.cmd.Args[1:], within, r.stdout.String(), r.stderr.String())
		return -1
	}
}

func (r *vigilRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

type gateFinding struct {
	FindingArn      string `json:"findingArn"`
	VulnerabilityID string `json:"vulnerabilityId"`
	PackageName     string `json:"packageName"`
	Rule            string `json:"rule"`
}

// TestGatePipeline is the deployment gate end to end, on the real app
// image and the real `vigil` processes a pipeline runs: `vigil gate wait`
// registers before the image exists, the image is pushed, its scan
// completes, the built-in rule routes the Inspector2 Scan event to the
// gate, and the rejection arrives naming every finding that caused it;
// under a policy that tolerates them the same image is approved. A scan
// that fails, an image Vigil cannot scan and a push that never comes are
// rejected with their reason, never left hanging.
func TestGatePipeline(t *testing.T) {
	app := testenv.LayoutImage(t, "debian-bullseye-app")
	root := t.TempDir()
	data, dbDir := filepath.Join(root, "data"), filepath.Join(root, "db")
	importFeeds(t, dbDir, "vulndb/debian", "vulndb/osv/Go", "vulndb/osv/PyPI")
	addr := freeAddr(t)
	srv := startServe(t, data, dbDir, addr)
	token := adminToken(t, data)
	c := apiClient{base: addr, token: token}
	env := []string{"VIGIL_SERVER=http://" + addr, "VIGIL_TOKEN=" + token}
	pushOpts := []remote.Option{remote.WithAuth(&authn.Basic{Username: "vigil", Password: token})}
	push := func(img v1.Image, ref string) string {
		t.Helper()
		r, err := name.ParseReference(addr+"/"+ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r, img, pushOpts...); err != nil {
			t.Fatal(err)
		}
		dg, _ := img.Digest()
		return dg.String()
	}

	// The team's policy: nothing untriaged. Offline, the Go advisories
	// of the app image carry no CVSS score, so its findings are
	// UNTRIAGED.
	c.do(t, "PUT", "/api/v1/gate/policies/strict", map[string]any{"repository": "team/app", "maxCritical": 0, "maxHigh": 0, "maxUntriaged": 0}, nil)

	wait := startVigil(t, env, "gate", "wait", addr+"/team/app:1.0", "--pipeline", "app-deploy", "--stage", "prod", "--action", "approve", "--timeout", "3m")
	time.Sleep(500 * time.Millisecond)
	if wait.exited() {
		t.Fatalf("gate wait ended before the image was pushed: %d\n%s%s", wait.code, wait.stdout.String(), wait.stderr.String())
	}
	digest := push(app, "team/app:1.0")
	if code := wait.wait(t, 2*time.Minute); code != 3 {
		t.Fatalf("gate wait exited %d, want 3 (Rejected)\nstdout:\n%s\nstderr:\n%s", code, wait.stdout.String(), wait.stderr.String())
	}
	out := wait.stdout.String()
	if !strings.HasPrefix(out, "Rejected: team/app@"+digest) || !strings.Contains(out, "policy strict") {
		t.Errorf("gate wait printed:\n%s", out)
	}
	// The rejection names exactly the image's active findings.
	var page struct {
		Findings []struct {
			FindingArn                  string `json:"findingArn"`
			Severity                    string `json:"severity"`
			PackageVulnerabilityDetails struct {
				VulnerabilityID string `json:"vulnerabilityId"`
			} `json:"packageVulnerabilityDetails"`
		} `json:"findings"`
	}
	c.do(t, "POST", "/api/v1/findings/list", map[string]any{"maxResults": 100, "filterCriteria": map[string]any{
		"ecrImageHash":  []map[string]string{{"comparison": "EQUALS", "value": digest}},
		"findingStatus": []map[string]string{{"comparison": "EQUALS", "value": "ACTIVE"}},
	}}, &page)
	if len(page.Findings) == 0 {
		t.Fatal("the app image has no findings: the test cannot show a rejection")
	}
	var want []string
	for _, f := range page.Findings {
		want = append(want, f.FindingArn)
		if !strings.Contains(out, f.PackageVulnerabilityDetails.VulnerabilityID) {
			t.Errorf("gate wait's output does not name %s", f.PackageVulnerabilityDetails.VulnerabilityID)
		}
	}
	var decisions struct {
		Decisions []struct {
			Decision, Policy, Reason, Trigger, RequestID string
			Findings                                     []gateFinding
		} `json:"decisions"`
	}
	c.do(t, "GET", "/api/v1/gate/decisions?repository=team/app&digest="+digest, nil, &decisions)
	if len(decisions.Decisions) != 1 {
		t.Fatalf("%d decisions", len(decisions.Decisions))
	}
	dec := decisions.Decisions[0]
	var got []string
	for _, f := range dec.Findings {
		got = append(got, f.FindingArn)
		if f.Rule != "maxUntriaged" {
			t.Errorf("finding %s broke %s", f.VulnerabilityID, f.Rule)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if dec.Decision != "Rejected" || dec.Policy != "strict" || dec.Trigger != "scan" || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("decision %+v\nfindings %v\nwant     %v", dec, got, want)
	}
	// The Inspector2 Scan event reached the gate through the rule.
	scanEvent := ""
	for _, e := range c.events(t) {
		if e.DetailType == "Inspector2 Scan" && strings.Contains(string(e.Detail), digest) {
			scanEvent = e.ID
		}
	}
	// The decision may be made by the gate's own reconciliation before
	// the bus delivers the event; the delivery follows.
	var dl struct {
		Deliveries []struct {
			Rule, Target, State string
		} `json:"deliveries"`
	}
	polled := time.Now()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.do(t, "GET", "/api/v1/deliveries?eventId="+scanEvent, nil, &dl)
		if len(dl.Deliveries) == 1 && dl.Deliveries[0].State == "delivered" || time.Now().After(deadline) {
			break
		}
	}
	if len(dl.Deliveries) != 1 || dl.Deliveries[0].Rule != "vigil-gate" || dl.Deliveries[0].Target != "gate" || dl.Deliveries[0].State != "delivered" {
		t.Errorf("deliveries of the scan event %s: %+v", scanEvent, dl.Deliveries)
	}
	t.Logf("the scan event was delivered to the gate %v after the decision was read", time.Since(polled).Round(time.Millisecond))

	// A policy that tolerates them, and the npm packages that this
	// database (no npm feed) cannot assess: the same image is approved,
	// at once.
	c.do(t, "PUT", "/api/v1/gate/policies/strict", map[string]any{"repository": "team/app", "maxCritical": 0, "maxHigh": 0, "maxUntriaged": 20, "allowPartialCoverage": true}, nil)
	ok := startVigil(t, env, "gate", "wait", "team/app:1.0", "--pipeline", "app-deploy", "--timeout", "1m")
	if code := ok.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("gate wait exited %d, want 0 (Approved)\n%s%s", code, ok.stdout.String(), ok.stderr.String())
	}
	if !strings.HasPrefix(ok.stdout.String(), "Approved: team/app@"+digest) {
		t.Errorf("gate wait printed:\n%s", ok.stdout.String())
	}
	check := startVigil(t, env, "gate", "check", "team/app@"+digest)
	if code := check.wait(t, 30*time.Second); code != 0 || !strings.HasPrefix(check.stdout.String(), "Approved") {
		t.Errorf("gate check: %d %s%s", code, check.stdout.String(), check.stderr.String())
	}

	// Counting only reachable findings: of the app binary's Go findings
	// only CVE-2021-38561 (language.Parse, which main calls) is in code
	// the binary contains, so it alone is named.
	c.do(t, "PUT", "/api/v1/gate/policies/strict", map[string]any{"repository": "team/app", "maxUntriaged": 0, "reachableOnly": true}, nil)
	reach := startVigil(t, env, "gate", "check", "team/app@"+digest)
	if code := reach.wait(t, 30*time.Second); code != 3 {
		t.Fatalf("gate check with reachableOnly: %d %s%s", code, reach.stdout.String(), reach.stderr.String())
	}
	if out := reach.stdout.String(); !strings.Contains(out, "CVE-2021-38561") || strings.Contains(out, "CVE-2022-32149") || !strings.Contains(out, "reachable") {
		t.Errorf("gate check with reachableOnly printed:\n%s", out)
	}

	// A scan that fails: a layer that is not a tar stream.
	junk := make([]byte, 4096)
	rand.Read(junk)
	broken, err := mutate.AppendLayers(empty.Image, static.NewLayer(junk, types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	broken = mutate.MediaType(broken, types.OCIManifestSchema1)
	broken = mutate.ConfigMediaType(broken, types.OCIConfigJSON)
	failing := startVigil(t, env, "gate", "wait", "team/broken:1", "--pipeline", "p", "--timeout", "2m")
	time.Sleep(300 * time.Millisecond)
	push(broken, "team/broken:1")
	if code := failing.wait(t, time.Minute); code != 3 || !strings.Contains(failing.stdout.String(), "the scan failed") {
		t.Errorf("a failed scan: exit %d\n%s%s", code, failing.stdout.String(), failing.stderr.String())
	}
	// An artifact Vigil cannot scan.
	chart := mutate.ConfigMediaType(empty.Image, "application/vnd.cncf.helm.config.v1+json")
	push(chart, "team/chart:1")
	unsupported := startVigil(t, env, "gate", "wait", "team/chart:1", "--pipeline", "p", "--timeout", "1m")
	if code := unsupported.wait(t, 30*time.Second); code != 3 || !strings.Contains(unsupported.stdout.String(), "cannot scan") {
		t.Errorf("an unsupported image: exit %d\n%s%s", code, unsupported.stdout.String(), unsupported.stderr.String())
	}
	// A push that never comes: rejected at the deadline, with its own
	// exit code.
	late := startVigil(t, env, "gate", "wait", "team/never:1", "--pipeline", "p", "--timeout", "3s")
	if code := late.wait(t, 40*time.Second); code != 5 || !strings.Contains(late.stdout.String(), "timed out") {
		t.Errorf("a timeout: exit %d\n%s%s", code, late.stdout.String(), late.stderr.String())
	}
	if strings.Contains(srv.tail(), token) {
		t.Error("the token reached the server's log")
	}
}
