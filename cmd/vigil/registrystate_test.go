package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/vigilsec/vigil/internal/testenv"
)

// regServer is a `vigil serve` with the alpine feeds, for the registry
// state tests.
type regServer struct {
	srv   *serveProc
	addr  string
	token string
	c     apiClient
}

func startRegServer(t *testing.T, feeds ...string) *regServer {
	t.Helper()
	root := t.TempDir()
	data, dbDir := filepath.Join(root, "data"), filepath.Join(root, "db")
	if len(feeds) > 0 {
		importFeeds(t, dbDir, feeds...)
	}
	addr := freeAddr(t)
	srv := startServe(t, data, dbDir, addr)
	token := adminToken(t, data)
	return &regServer{srv: srv, addr: addr, token: token, c: apiClient{base: addr, token: token}}
}

// env points the vigil command line at the server.
func (s *regServer) env() []string {
	return []string{"VIGIL_SERVER=http://" + s.addr, "VIGIL_TOKEN=" + s.token}
}

func (s *regServer) push(t *testing.T, img v1.Image, ref string) string {
	t.Helper()
	r, err := name.ParseReference(s.addr+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "vigil", Password: s.token})); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := img.Digest()
	return d.String()
}

// fullImage is the API's image, children included.
type fullImage struct {
	Repository  string   `json:"repository"`
	Digest      string   `json:"digest"`
	Tags        []string `json:"tags"`
	Platform    string   `json:"platform"`
	PushedAt    string   `json:"pushedAt"`
	ScanStatus  string   `json:"scanStatus"`
	ScanReason  string   `json:"scanReason"`
	ScanMessage string   `json:"scanMessage"`
	Counts      struct {
		Total int `json:"TOTAL"`
	} `json:"counts"`
	Children []struct {
		Digest   string     `json:"digest"`
		Platform string     `json:"platform"`
		Image    *fullImage `json:"image"`
	} `json:"children"`
}

func (s *regServer) images(t *testing.T, query string) []fullImage {
	t.Helper()
	var page struct {
		Images []fullImage `json:"images"`
	}
	s.c.get(t, "/api/v1/images?maxResults=1000&"+query, &page)
	return page.Images
}

// waitScanned waits until the image's scan has ended, and returns it.
func (s *regServer) waitScanned(t *testing.T, repo, digest string) fullImage {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for _, im := range s.images(t, "repository="+repo) {
			if im.Digest == digest && im.ScanStatus != "PENDING" && im.ScanStatus != "SCANNING" {
				return im
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s@%s not scanned within 2 minutes\n%s", repo, digest, s.srv.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type checkResult struct {
	Decision, Reason, ScanStatus, Digest string
	Ready                                bool
	Findings                             []gateFinding
	Counts                               struct {
		Total int `json:"TOTAL"`
	}
}

func (s *regServer) check(t *testing.T, image string) checkResult {
	t.Helper()
	var c checkResult
	s.c.get(t, "/api/v1/gate/check?image="+image, &c)
	return c
}

// readyCheck is the gate's verdict once the image's scan (a push of a
// known digest scans it again) has ended.
func (s *regServer) readyCheck(t *testing.T, image string) checkResult {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c := s.check(t, image)
		if c.Ready || time.Now().After(deadline) {
			return c
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// imageActions are the "ECR Image Action" details recorded so far.
type imageAction struct {
	Result            string `json:"result"`
	RepositoryName    string `json:"repository-name"`
	ImageDigest       string `json:"image-digest"`
	ActionType        string `json:"action-type"`
	ImageTag          string `json:"image-tag"`
	ManifestMediaType string `json:"manifest-media-type"`
}

func (s *regServer) imageActions(t *testing.T) []imageAction {
	t.Helper()
	var out []imageAction
	for _, e := range s.c.events(t) {
		if e.DetailType != "ECR Image Action" {
			continue
		}
		var a imageAction
		if err := json.Unmarshal(e.Detail, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// console signs in to the console with the admin token and returns the
// page at path.
func (s *regServer) console(t *testing.T, path string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	base := "http://" + s.addr
	resp, err := c.PostForm(base+"/signin", url.Values{"token": {s.token}, "next": {path}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("console %s: %d\n%s", path, resp.StatusCode, b)
	}
	return string(b)
}

// runTool runs a client with its own home and configuration.
func runTool(t *testing.T, home string, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"XDG_RUNTIME_DIR="+home, "REGISTRY_AUTH_FILE="+filepath.Join(home, "auth.json"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// deleter deletes a reference with one real client.
type deleter struct {
	name string
	// del deletes ref (host/repo:tag or host/repo@digest).
	del func(t *testing.T, ref string) (string, error)
}

func deleters(t *testing.T, s *regServer) []deleter {
	t.Helper()
	crane := testenv.Tool(t, "crane")
	skopeo := testenv.Tool(t, "skopeo")
	regctl := testenv.Tool(t, "regctl")
	craneHome, regctlHome, skopeoHome := t.TempDir(), t.TempDir(), t.TempDir()
	if out, err := runTool(t, craneHome, crane, "auth", "login", s.addr, "-u", "vigil", "-p", s.token); err != nil {
		t.Fatalf("crane auth login: %v\n%s", err, out)
	}
	// It pings the registry, which refuses it before the login: the
	// setting is kept all the same.
	runTool(t, regctlHome, regctl, "registry", "set", "--tls", "disabled", s.addr)
	if out, err := runTool(t, regctlHome, regctl, "registry", "login", s.addr, "-u", "vigil", "-p", s.token); err != nil {
		t.Fatalf("regctl registry login: %v\n%s", err, out)
	}
	return []deleter{
		{"crane", func(t *testing.T, ref string) (string, error) {
			return runTool(t, craneHome, crane, "delete", "--insecure", ref)
		}},
		{"regctl", func(t *testing.T, ref string) (string, error) {
			if strings.Contains(ref, "@") {
				return runTool(t, regctlHome, regctl, "manifest", "delete", ref)
			}
			return runTool(t, regctlHome, regctl, "tag", "delete", ref)
		}},
		{"skopeo", func(t *testing.T, ref string) (string, error) {
			return runTool(t, skopeoHome, skopeo, "--insecure-policy", "--tmpdir", skopeoHome, "delete", "--tls-verify=false",
				"--creds", "vigil:"+s.token, "docker://"+ref)
		}},
	}
}

// TestDeleteTagWithClients deletes a tag with crane, regctl and skopeo
// against a real `vigil serve`: the tag leaves the API at once, an "ECR
// Image Action" DELETE names it, and the gate, which approved the tag
// before, now rejects it (check and request) saying it was deleted.
// crane and regctl delete the tag only (DELETE …/manifests/TAG), so the
// image stays, untagged; skopeo deletes the manifest the tag names, so
// the image goes too.
func TestDeleteTagWithClients(t *testing.T) {
	s := startRegServer(t, "vulndb/alpine-secdb")
	img := testenv.LayoutImage(t, "alpine-3.10.3")
	for _, d := range deleters(t, s) {
		t.Run(d.name, func(t *testing.T) {
			repo := "team/" + d.name
			digest := s.push(t, img, repo+":v1")
			s.push(t, img, repo+":keep")
			if im := s.waitScanned(t, repo, digest); im.ScanStatus != "COMPLETE" {
				t.Fatalf("scan %s: %+v", im.ScanStatus, im)
			}
			// The shared secdb has no v3.20 branch: the image is approved
			// only by a policy that allows partial coverage.
			s.c.do(t, "PUT", "/api/v1/gate/policies/"+d.name, map[string]any{"repository": repo, "maxCritical": 100, "maxHigh": 100, "maxMedium": 100, "maxLow": 100, "maxUntriaged": 100, "allowPartialCoverage": true}, nil)
			if c := s.readyCheck(t, repo+":v1"); c.Decision != "Approved" {
				t.Fatalf("before the deletion the gate says %+v", c)
			}
			if out, err := d.del(t, s.addr+"/"+repo+":v1"); err != nil {
				t.Fatalf("%s delete: %v\n%s", d.name, err, out)
			}

			// Gone from the API at once.
			if ims := s.images(t, "repository="+repo+"&tag=v1"); len(ims) != 0 {
				t.Errorf("the API still lists %s:v1: %+v", repo, ims)
			}
			ims := s.images(t, "repository="+repo)
			switch d.name {
			case "skopeo": // the manifest went, with both its tags
				if len(ims) != 0 {
					t.Errorf("after skopeo delete the API lists %+v", ims)
				}
			default: // the tag went, the image stays
				if len(ims) != 1 || ims[0].Digest != digest || strings.Join(ims[0].Tags, ",") != "keep" {
					t.Errorf("after %s tag delete the API lists %+v, want %s with tag keep only", d.name, ims, digest)
				}
			}

			page := s.console(t, "/repositories/"+repo)
			if strings.Contains(page, ">v1<") {
				t.Errorf("the console still shows %s:v1", repo)
			}

			// The DELETE event, as ECR sends it.
			var got []imageAction
			for _, a := range s.imageActions(t) {
				if a.ActionType == "DELETE" && a.RepositoryName == repo {
					got = append(got, a)
				}
			}
			found := false
			for _, a := range got {
				found = found || a.ImageTag == "v1" && a.ImageDigest == digest && a.Result == "SUCCESS" &&
					a.ManifestMediaType == string(types.OCIManifestSchema1)
			}
			if !found {
				t.Errorf("no ECR Image Action DELETE for %s:v1 (%s): %+v", repo, digest, got)
			}

			// The gate refuses the deleted tag, and says why.
			c := s.check(t, repo+":v1")
			if c.Decision != "Rejected" || !strings.Contains(c.Reason, "deleted") || !strings.Contains(c.Reason, repo+":v1") || c.ScanStatus != "DELETED" {
				t.Errorf("gate check after the deletion: %+v", c)
			}
			cli := startVigil(t, s.env(), "gate", "check", s.addr+"/"+repo+":v1")
			if code := cli.wait(t, 30*time.Second); code != 3 || !strings.Contains(cli.stdout.String(), "deleted") {
				t.Errorf("vigil gate check after the deletion: exit %d\n%s%s", code, cli.stdout.String(), cli.stderr.String())
			}
			var req struct {
				Decision *struct{ Decision, Reason, Trigger string } `json:"decision"`
			}
			s.c.do(t, "POST", "/api/v1/gate/requests", map[string]any{"image": repo + ":v1", "pipeline": "deploy"}, &req)
			if req.Decision == nil || req.Decision.Decision != "Rejected" || !strings.Contains(req.Decision.Reason, "deleted") {
				t.Errorf("gate request after the deletion: %+v", req.Decision)
			}
			// The tag pushed again is judged again.
			s.push(t, img, repo+":v1")
			if c := s.readyCheck(t, repo+":v1"); c.Decision != "Approved" {
				t.Errorf("after pushing the tag again the gate says %+v", c)
			}
		})
	}
}

// index builds an index of two pushed images, giving each a platform.
func index(t *testing.T, a, b v1.Image) v1.ImageIndex {
	t.Helper()
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: a, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: b, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
}

// TestIndexState pushes a two-image index to a real `vigil serve`: the
// API lists it with its images (platform, scan status, counts); deleting
// one of its images by digest is refused with a 409 naming the index, by
// crane, regctl, skopeo and plain HTTP alike; the gate judges the index by
// its images (or the one of the platform asked for); deleting the index
// removes it and lets its images go.
func TestIndexState(t *testing.T) {
	s := startRegServer(t, "vulndb/alpine-secdb")
	old, cur := testenv.LayoutImage(t, "alpine-3.7.3"), testenv.LayoutImage(t, "alpine-3.10.3")
	idx := index(t, old, cur)
	ref, _ := name.ParseReference(s.addr+"/team/multi:1", name.Insecure)
	if err := remote.WriteIndex(ref, idx, remote.WithAuth(&authn.Basic{Username: "vigil", Password: s.token})); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	oldDigest, _ := old.Digest()
	curDigest, _ := cur.Digest()
	oldIm := s.waitScanned(t, "team/multi", oldDigest.String())
	curIm := s.waitScanned(t, "team/multi", curDigest.String())
	if oldIm.ScanStatus != "COMPLETE" || curIm.ScanStatus != "COMPLETE" || oldIm.Counts.Total == 0 {
		t.Fatalf("the index's images: %+v %+v", oldIm, curIm)
	}

	// Shown with its images.
	var shown *fullImage
	for _, im := range s.images(t, "repository=team/multi") {
		if im.Digest == idxDigest.String() {
			shown = &im
		}
	}
	if shown == nil || len(shown.Children) != 2 {
		t.Fatalf("the index as listed: %+v", shown)
	}
	for i, want := range []struct {
		digest, platform string
		total            int
	}{{oldDigest.String(), "linux/amd64", oldIm.Counts.Total}, {curDigest.String(), "linux/arm64", curIm.Counts.Total}} {
		c := shown.Children[i]
		if c.Digest != want.digest || c.Platform != want.platform || c.Image == nil || c.Image.ScanStatus != "COMPLETE" || c.Image.Counts.Total != want.total {
			t.Errorf("child %d: %+v (image %+v), want %+v", i, c, c.Image, want)
		}
	}

	// And so in the console.
	page := s.console(t, "/images/team/multi@"+idxDigest.String())
	for _, want := range []string{"Images of this index", "linux/amd64", "linux/arm64", oldDigest.String(), curDigest.String()} {
		if !strings.Contains(page, want) {
			t.Errorf("the console's page of the index lacks %q", want)
		}
	}

	// An image the index lists cannot be deleted.
	for _, d := range deleters(t, s) {
		out, err := d.del(t, s.addr+"/team/multi@"+oldDigest.String())
		if err == nil || !strings.Contains(out, idxDigest.String()) {
			t.Errorf("%s deleting an image of the index: %v\n%s", d.name, err, out)
		}
	}
	req, _ := http.NewRequest("DELETE", "http://"+s.addr+"/v2/team/multi/manifests/"+oldDigest.String(), nil)
	req.SetBasicAuth("vigil", s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), `"code":"DENIED"`) ||
		!strings.Contains(string(body), idxDigest.String()) || !strings.Contains(string(body), "ImageReferencedByManifestList") {
		t.Errorf("DELETE of an index's image: %d %s", resp.StatusCode, body)
	}
	if len(s.images(t, "repository=team/multi")) != 3 {
		t.Errorf("a refused deletion removed something")
	}

	// The gate judges the index by its images.
	s.c.do(t, "PUT", "/api/v1/gate/policies/multi", map[string]any{"repository": "team/multi", "maxCritical": 0, "maxHigh": 0, "maxMedium": 0, "maxLow": 0, "maxUntriaged": 0}, nil)
	oldCheck := s.check(t, "team/multi@"+oldDigest.String())
	if oldCheck.Decision != "Rejected" || len(oldCheck.Findings) == 0 {
		t.Fatalf("the old image alone: %+v", oldCheck)
	}
	whole := s.check(t, "team/multi:1")
	if whole.Decision != "Rejected" || !strings.Contains(whole.Reason, "linux/amd64") || len(whole.Findings) != len(oldCheck.Findings) {
		t.Errorf("the index: %s %q with %d findings, want Rejected naming linux/amd64 with the old image's %d",
			whole.Decision, whole.Reason, len(whole.Findings), len(oldCheck.Findings))
	}
	var arm checkResult
	s.c.get(t, "/api/v1/gate/check?platform=linux/arm64&image=team/multi:1", &arm)
	curCheck := s.check(t, "team/multi@"+curDigest.String())
	if arm.Decision != curCheck.Decision || len(arm.Findings) != len(curCheck.Findings) {
		t.Errorf("the index for linux/arm64: %+v, the arm64 image alone %+v", arm, curCheck)
	}
	var none checkResult
	s.c.get(t, "/api/v1/gate/check?platform=linux/s390x&image=team/multi:1", &none)
	if none.Decision != "Rejected" || !strings.Contains(none.Reason, "linux/s390x") {
		t.Errorf("the index for a platform it lacks: %+v", none)
	}
	cli := startVigil(t, s.env(), "gate", "check", "--platform", "linux/amd64", "team/multi:1")
	if code := cli.wait(t, 30*time.Second); code != 3 || !strings.Contains(cli.stdout.String(), "linux/amd64") || !strings.Contains(cli.stdout.String(), oldCheck.Findings[0].VulnerabilityID) {
		t.Errorf("vigil gate check --platform linux/amd64: exit %d\n%s%s", code, cli.stdout.String(), cli.stderr.String())
	}
	// Lenient about coverage too: the arm64 image is Alpine 3.20, which
	// the shared secdb does not cover.
	s.c.do(t, "PUT", "/api/v1/gate/policies/multi", map[string]any{"repository": "team/multi", "maxCritical": 1000, "maxHigh": 1000, "maxMedium": 1000, "maxLow": 1000, "maxUntriaged": 1000, "allowPartialCoverage": true}, nil)
	if c := s.check(t, "team/multi:1"); c.Decision != "Approved" {
		t.Errorf("the index under a lenient policy: %+v", c)
	}

	// Deleting the index by digest removes it (and its tag); then its
	// images may go.
	crane := testenv.Tool(t, "crane")
	home := t.TempDir()
	runTool(t, home, crane, "auth", "login", s.addr, "-u", "vigil", "-p", s.token)
	if out, err := runTool(t, home, crane, "delete", "--insecure", s.addr+"/team/multi@"+idxDigest.String()); err != nil {
		t.Fatalf("crane delete of the index: %v\n%s", err, out)
	}
	if ims := s.images(t, "repository=team/multi"); len(ims) != 2 {
		t.Errorf("after deleting the index the API lists %d images", len(ims))
	}
	if c := s.check(t, "team/multi@"+idxDigest.String()); c.Decision != "Rejected" || !strings.Contains(c.Reason, "deleted") || c.ScanStatus != "DELETED" {
		t.Errorf("gate check of the deleted index: %+v", c)
	}
	if out, err := runTool(t, home, crane, "delete", "--insecure", s.addr+"/team/multi@"+oldDigest.String()); err != nil {
		t.Errorf("crane delete of a former child: %v\n%s", err, out)
	}
}

// TestPushedAt checks a finding's awsEcrContainerImage.pushedAt against
// the push time, not the time the image was built, in the API (epoch
// seconds) and in its Inspector2 Finding event (EventBridge's string).
func TestPushedAt(t *testing.T) {
	s := startRegServer(t, "vulndb/alpine-secdb")
	img := testenv.LayoutImage(t, "alpine-3.7.3")
	cfg, _ := img.ConfigFile()
	before := time.Now().Truncate(time.Millisecond)
	digest := s.push(t, img, "team/when:1")
	im := s.waitScanned(t, "team/when", digest)
	pushed, err := time.Parse(time.RFC3339Nano, im.PushedAt)
	if err != nil || im.ScanStatus != "COMPLETE" {
		t.Fatalf("image %+v: %v", im, err)
	}
	if pushed.Before(before.Add(-time.Second)) || cfg.Created.Time.After(before.Add(-24*time.Hour)) {
		t.Fatalf("pushed %s, built %s: the test needs an image built well before it is pushed", pushed, cfg.Created.Time)
	}
	var page struct {
		Findings []struct {
			FindingArn string `json:"findingArn"`
			Resources  []struct {
				Details struct {
					AwsEcrContainerImage struct {
						PushedAt json.Number `json:"pushedAt"`
					} `json:"awsEcrContainerImage"`
				} `json:"details"`
			} `json:"resources"`
		} `json:"findings"`
	}
	s.c.do(t, "POST", "/api/v1/findings/list", map[string]any{"maxResults": 10, "filterCriteria": map[string]any{
		"ecrImageHash": []map[string]string{{"comparison": "EQUALS", "value": digest}}}}, &page)
	if len(page.Findings) == 0 {
		t.Fatal("no findings")
	}
	for _, f := range page.Findings {
		v, err := f.Resources[0].Details.AwsEcrContainerImage.PushedAt.Float64()
		if err != nil || math.Abs(v-float64(pushed.UnixMilli())/1000) > 0.001 {
			t.Errorf("finding %s: pushedAt %s, pushed at %s (%.3f), built %s", f.FindingArn, f.Resources[0].Details.AwsEcrContainerImage.PushedAt,
				pushed, float64(pushed.UnixMilli())/1000, cfg.Created.Time)
		}
	}
	// In the Inspector2 Finding events every timestamp is EventBridge's
	// string form.
	wantPushed := pushed.UTC().Format("Mon Jan 02 15:04:05.000 MST 2006")
	n := 0
	for _, e := range s.c.events(t) {
		if e.DetailType != "Inspector2 Finding" {
			continue
		}
		n++
		var d struct {
			FirstObservedAt any `json:"firstObservedAt"`
			Resources       []struct {
				Details struct {
					AwsEcrContainerImage struct {
						PushedAt any `json:"pushedAt"`
					} `json:"awsEcrContainerImage"`
				} `json:"details"`
			} `json:"resources"`
			PackageVulnerabilityDetails map[string]any `json:"packageVulnerabilityDetails"`
		}
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if got := d.Resources[0].Details.AwsEcrContainerImage.PushedAt; got != wantPushed {
			t.Errorf("event %s: pushedAt %v, want %q", e.ID, got, wantPushed)
		}
		for _, k := range []string{"vendorCreatedAt", "vendorUpdatedAt"} {
			if v, ok := d.PackageVulnerabilityDetails[k]; ok {
				if _, isString := v.(string); !isString {
					t.Errorf("event %s: %s is %v, not a string", e.ID, k, v)
				}
			}
		}
		if _, isString := d.FirstObservedAt.(string); !isString {
			t.Errorf("event %s: firstObservedAt %v", e.ID, d.FirstObservedAt)
		}
	}
	if n == 0 {
		t.Error("no Inspector2 Finding events")
	}
}

// TestHostileManifests sends `vigil serve` manifests and references the
// distribution library would answer with a 500: every one gets a 4xx
// with the distribution spec's error code.
func TestHostileManifests(t *testing.T) {
	s := startRegServer(t)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	sum := sha256.Sum256(cfg)
	cfgDigest := "sha256:" + hex.EncodeToString(sum[:])
	send := func(method, path, contentType string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, "http://"+s.addr+path, bytes.NewReader(body))
		req.SetBasicAuth("vigil", s.token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The config blob, uploaded with a POST and a PUT.
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/v2/team/odd/blobs/uploads/", nil)
	req.SetBasicAuth("vigil", s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	loc = loc[strings.Index(loc, "/v2/"):]
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if code, body := send("PUT", loc+sep+"digest="+cfgDigest, "application/octet-stream", cfg); code != http.StatusCreated {
		t.Fatalf("uploading the config: %d %s", code, body)
	}
	manifest := func(layer string) []byte {
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}`, cfgDigest, len(cfg), layer))
	}
	layer := func(digest, extra string) string {
		return `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + digest + `","size":32` + extra + `}`
	}
	hexA := strings.Repeat("a", 64)
	huge := append(manifest(""), bytes.Repeat([]byte(" "), 5<<20)...)
	const mt = "application/vnd.oci.image.manifest.v1+json"
	for _, c := range []struct {
		name, method, path string
		body               []byte
		status             int
		code               string
	}{
		{"layer digest invalid", "PUT", "/v2/team/odd/manifests/a", manifest(layer("sha256:zz", "")), 400, "DIGEST_INVALID"},
		{"layer digest of an unknown algorithm", "PUT", "/v2/team/odd/manifests/b", manifest(layer("md5:"+hexA[:32], "")), 400, "DIGEST_INVALID"},
		{"config digest invalid", "PUT", "/v2/team/odd/manifests/c", []byte(`{"schemaVersion":2,"mediaType":"` + mt + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1234","size":3},"layers":[]}`), 400, "DIGEST_INVALID"},
		{"index child digest invalid", "PUT", "/v2/team/odd/manifests/d", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"` + mt + `","digest":"sha256:zz","size":3}]}`), 400, "DIGEST_INVALID"},
		{"non-distributable layer with urls", "PUT", "/v2/team/odd/manifests/e", manifest(`{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"sha256:` + hexA + `","size":32,"urls":["https://example.com/layer"]}`), 400, "MANIFEST_INVALID"},
		{"layer with urls", "PUT", "/v2/team/odd/manifests/f", manifest(layer("sha256:"+hexA, `,"urls":["https://example.com/layer"]`)), 400, "MANIFEST_INVALID"},
		{"layer not uploaded", "PUT", "/v2/team/odd/manifests/g", manifest(layer("sha256:"+hexA, "")), 400, "MANIFEST_BLOB_UNKNOWN"},
		{"manifest over 4 MiB", "PUT", "/v2/team/odd/manifests/h", huge, 413, "MANIFEST_INVALID"},
		{"put to an invalid digest", "PUT", "/v2/team/odd/manifests/sha256:zz", manifest(""), 400, "DIGEST_INVALID"},
		{"put to a digest of an unknown algorithm", "PUT", "/v2/team/odd/manifests/foo:" + hexA, manifest(""), 400, "DIGEST_INVALID"},
		{"put to a digest that is not the content's", "PUT", "/v2/team/odd/manifests/sha256:" + hexA, manifest(""), 400, "DIGEST_INVALID"},
		{"get by an invalid digest", "GET", "/v2/team/odd/manifests/sha256:zz", nil, 400, "DIGEST_INVALID"},
		{"get a blob of an unknown algorithm", "GET", "/v2/team/odd/blobs/md5:" + hexA[:32], nil, 400, "DIGEST_INVALID"},
		{"delete by an invalid digest", "DELETE", "/v2/team/odd/manifests/sha256:zz", nil, 400, "DIGEST_INVALID"},
		{"not JSON", "PUT", "/v2/team/odd/manifests/i", []byte("not json"), 400, "MANIFEST_INVALID"},
	} {
		ct := ""
		if c.method == "PUT" {
			ct = mt
			if strings.Contains(string(c.body), "image.index") {
				ct = "application/vnd.oci.image.index.v1+json"
			}
		}
		code, body := send(c.method, c.path, ct, c.body)
		var e struct {
			Errors []struct{ Code string } `json:"errors"`
		}
		json.Unmarshal([]byte(body), &e)
		if code != c.status || len(e.Errors) == 0 || e.Errors[0].Code != c.code {
			if len(body) > 400 {
				body = body[:400]
			}
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.status, c.code)
		}
	}
	if ims := s.images(t, "repository=team/odd"); len(ims) != 0 {
		t.Errorf("refused manifests were recorded: %+v", ims)
	}
	if strings.Contains(s.srv.tail(), "level=ERROR") {
		t.Errorf("the server logged errors for requests refused as bad input:\n%s", s.srv.tail())
	}
}

// TestFailureSaysWhy starts `vigil serve` without a vulnerability database:
// it warns at start, naming the commands that install one; an image pushed
// then fails its scan, and the API and `vigil images list` say why.
func TestFailureSaysWhy(t *testing.T) {
	s := startRegServer(t)
	log := s.srv.tail()
	if !strings.Contains(log, "no vulnerability database") || !strings.Contains(log, "vigil db update") || !strings.Contains(log, "vigil db import") {
		t.Errorf("no start-up warning naming the fix:\n%s", log)
	}
	digest := s.push(t, testenv.LayoutImage(t, "alpine-3.10.3"), "team/nodb:1")
	im := s.waitScanned(t, "team/nodb", digest)
	if im.ScanStatus != "FAILED" || im.ScanReason != "INTERNAL_ERROR" || !strings.Contains(im.ScanMessage, "no vulnerability database") {
		t.Errorf("the failed image in the API: %+v", im)
	}
	if page := s.console(t, "/repositories/team/nodb"); !strings.Contains(page, "no vulnerability database") {
		t.Errorf("the console's repository page does not say why the scan failed")
	}
	list := startVigil(t, []string{"VIGIL_SERVER=http://" + s.addr, "VIGIL_TOKEN=" + s.token}, "images", "list", "--repository", "team/nodb")
	if code := list.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("vigil images list: %d\n%s", code, list.stderr.String())
	}
	out := list.stdout.String()
	if !strings.Contains(out, "REASON") || !strings.Contains(out, "INTERNAL_ERROR: vulndb: no vulnerability database") || !strings.Contains(out, "vigil db update") {
		t.Errorf("vigil images list does not say why the scan failed:\n%s", out)
	}
}
