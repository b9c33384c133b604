package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ggremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/testenv"
)

// TestTagMutabilityImmutable sets a repository's imageTagMutability with
// `vigil repositories set-tag-mutability` against a real server, then pushes
// with go-containerregistry and retags with crane: a tag of an IMMUTABLE
// repository cannot be moved to another image (400 TAG_INVALID naming the
// tag and repository, the tag still naming its image), the same image may
// be pushed under it again, new tags are free, the tags an
// IMMUTABLE_WITH_EXCLUSION filter matches stay mutable, and only an admin
// may change the setting.
func TestTagMutabilityImmutable(t *testing.T) {
	crane := testenv.Tool(t, "crane")
	hs, host, admin, pipeline := repositoryServer(t)
	vigil := func(token string, args ...string) (int, string, string) {
		home := t.TempDir()
		return runVigilCode(map[string]string{"VIGIL_CACHE_DIR": home, "HOME": home, "VIGIL_TOKEN": token},
			append(args, "--server", hs.URL)...)
	}
	const repo = "team/app"
	img := func() v1.Image {
		im, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	push := func(tag string, im v1.Image) error {
		ref, err := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return ggremote.Write(ref, im, ggremote.WithAuth(&authn.Basic{Username: "vigil", Password: admin}))
	}
	dockerConfig := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte("vigil:" + admin))}}})
	if err := os.WriteFile(filepath.Join(dockerConfig, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	craneRun := func(args ...string) (string, error) {
		cmd := exec.Command(crane, append(args, "--insecure")...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dockerConfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	digestOf := func(tag string) string {
		out, err := craneRun("digest", host+"/"+repo+":"+tag)
		if err != nil {
			t.Fatalf("crane digest %s: %v\n%s", tag, err, out)
		}
		return strings.TrimSpace(out)
	}
	digest := func(im v1.Image) string {
		d, err := im.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	// refused checks that err is the registry's 400 TAG_INVALID for tag.
	refused := func(what string, err error, tag string) {
		t.Helper()
		var te *transport.Error
		if !errors.As(err, &te) {
			t.Fatalf("%s: %v, want a registry error", what, err)
		}
		if te.StatusCode != http.StatusBadRequest || len(te.Errors) != 1 || te.Errors[0].Code != transport.ErrorCode("TAG_INVALID") ||
			!strings.Contains(te.Errors[0].Message, "'"+tag+"'") || !strings.Contains(te.Errors[0].Message, "'"+repo+"'") {
			t.Errorf("%s: status %d, errors %+v; want 400 TAG_INVALID naming %s and %s", what, te.StatusCode, te.Errors, tag, repo)
		}
	}

	a, bImg := img(), img()
	if err := push("v1", a); err != nil {
		t.Fatal(err)
	}

	// Only an admin changes the setting.
	if code, _, errs := vigil(pipeline, "repositories", "set-tag-mutability", repo, "IMMUTABLE"); code == 0 || !strings.Contains(errs, "403") {
		t.Errorf("a pipeline token set the tag mutability: exit %d\n%s", code, errs)
	}
	if err := push("v1", bImg); err != nil {
		t.Fatalf("a MUTABLE repository refused moving a tag: %v", err)
	}
	if got := digestOf("v1"); got != digest(bImg) {
		t.Fatalf("v1 names %s after moving it to %s", got, digest(bImg))
	}
	if err := push("v1", a); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := vigil(admin, "repositories", "set-tag-mutability", repo, "immutable"); code != 0 || !strings.Contains(errs, repo+": IMMUTABLE") {
		t.Fatalf("set-tag-mutability IMMUTABLE: exit %d\n%s", code, errs)
	}
	code, out, errs := vigil(pipeline, "repositories", "get-tag-mutability", repo, "--json")
	var got apiclient.TagMutability
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.Mutability != "IMMUTABLE" || got.RepositoryName != repo {
		t.Errorf("get-tag-mutability: exit %d %+v\n%s%s", code, got, out, errs)
	}

	refused("remote.Write of another image to v1", push("v1", bImg), "v1")
	if out, err := craneRun("tag", host+"/"+repo+"@"+digest(bImg), "v1"); err == nil || !strings.Contains(out, "TAG_INVALID") {
		t.Errorf("crane tag moved an immutable tag (err %v):\n%s", err, out)
	}
	// A PUT by digest naming the tag as a parameter moves it too.
	raw, _ := bImg.RawManifest()
	mt, _ := bImg.MediaType()
	req, _ := http.NewRequest("PUT", hs.URL+"/v2/"+repo+"/manifests/"+digest(bImg)+"?tag=v1", strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", string(mt))
	req.SetBasicAuth("vigil", admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "TAG_INVALID") {
		t.Errorf("PUT …/manifests/%s?tag=v1: %d %s", digest(bImg), resp.StatusCode, body)
	}
	if got := digestOf("v1"); got != digest(a) {
		t.Errorf("v1 names %s after refused moves, want %s", got, digest(a))
	}
	// The same image again, and a new tag, are no moves.
	if err := push("v1", a); err != nil {
		t.Errorf("pushing v1's own image again: %v", err)
	}
	if out, err := craneRun("tag", host+"/"+repo+"@"+digest(a), "v1"); err != nil {
		t.Errorf("crane tag of v1's own image: %v\n%s", err, out)
	}
	if err := push("v2", bImg); err != nil {
		t.Errorf("pushing a new tag: %v", err)
	}

	// IMMUTABLE_WITH_EXCLUSION: dev-* moves, the rest does not.
	if err := push("dev-1", a); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := vigil(admin, "repositories", "set-tag-mutability", repo, "IMMUTABLE_WITH_EXCLUSION", "--exclude", "dev-*"); code != 0 ||
		!strings.Contains(errs, "IMMUTABLE_WITH_EXCLUSION (excluding dev-*)") {
		t.Fatalf("set-tag-mutability IMMUTABLE_WITH_EXCLUSION: exit %d\n%s", code, errs)
	}
	if err := push("dev-1", bImg); err != nil {
		t.Errorf("moving an excluded tag: %v", err)
	}
	if got := digestOf("dev-1"); got != digest(bImg) {
		t.Errorf("dev-1 names %s, want %s", got, digest(bImg))
	}
	refused("moving v2 under IMMUTABLE_WITH_EXCLUSION", push("v2", a), "v2")
	// Filters ECR refuses are refused before the request.
	if code, _, errs := vigil(admin, "repositories", "set-tag-mutability", repo, "IMMUTABLE_WITH_EXCLUSION", "--exclude", "dev/*"); code != 2 ||
		!strings.Contains(errs, "dev/*") {
		t.Errorf("a filter outside ECR's pattern: exit %d\n%s", code, errs)
	}

	// Back to MUTABLE: tags move again.
	if code, _, errs := vigil(admin, "repositories", "set-tag-mutability", repo, "MUTABLE"); code != 0 {
		t.Fatalf("set-tag-mutability MUTABLE: exit %d\n%s", code, errs)
	}
	if err := push("v1", bImg); err != nil {
		t.Errorf("moving a tag of a MUTABLE repository: %v", err)
	}
}

// repositoryServer starts a real server, with no vulnerability database,
// and returns it with its host, the admin token and a pipeline token.
func repositoryServer(t *testing.T) (hs *httptest.Server, host, admin, pipeline string) {
	t.Helper()
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DBDir: t.TempDir(),
		TempDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	file, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	admin = strings.TrimSpace(string(b))
	hs = httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	host = strings.TrimPrefix(hs.URL, "http://")
	c, err := apiclient.New(hs.URL, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, "ci", store.RolePipeline)
	if err != nil {
		t.Fatal(err)
	}
	return hs, host, admin, tok.Secret
}

// lifecycleExampleA is the policy of "Filtering on multiple rules" in
// AWS's "Examples of lifecycle policies in Amazon ECR"
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html).
const lifecycleExampleA = `{
  "rules": [
    {"rulePriority": 1, "description": "Rule 1",
     "selection": {"tagStatus": "tagged", "tagPrefixList": ["prod"], "countType": "imageCountMoreThan", "countNumber": 1},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "Rule 2",
     "selection": {"tagStatus": "tagged", "tagPrefixList": ["beta"], "countType": "imageCountMoreThan", "countNumber": 1},
     "action": {"type": "expire"}}
  ]
}`

// TestLifecyclePreviewAWSExample pushes the repositories of the page's
// examples A and B to a real server with go-containerregistry, in the
// order of their push times, and checks that `vigil repositories lifecycle
// preview` names exactly the images the page says are expired (A: image
// A; B: images A and B), with the rule that expires them, and that the
// preview expires nothing.
func TestLifecyclePreviewAWSExample(t *testing.T) {
	hs, host, admin, pipeline := repositoryServer(t)
	const repo = "team/lifecycle"
	auth := ggremote.WithAuth(&authn.Basic{Username: "vigil", Password: admin})
	push := func(im v1.Image, tags ...string) string {
		t.Helper()
		for _, tag := range tags {
			ref, err := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := ggremote.Write(ref, im, auth); err != nil {
				t.Fatalf("push %s: %v", tag, err)
			}
		}
		d, _ := im.Digest()
		return d.String()
	}
	img := func() v1.Image {
		im, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policyFile, []byte(lifecycleExampleA), 0o600); err != nil {
		t.Fatal(err)
	}
	preview := func() apiclient.LifecyclePreview {
		t.Helper()
		home := t.TempDir()
		code, out, errs := runVigilCode(map[string]string{"VIGIL_CACHE_DIR": home, "HOME": home, "VIGIL_TOKEN": pipeline},
			"repositories", "lifecycle", "preview", repo, "--policy", "@"+policyFile, "--json", "--server", hs.URL)
		var p apiclient.LifecyclePreview
		if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
			t.Fatalf("lifecycle preview: exit %d\n%s%s", code, out, errs)
		}
		return p
	}
	expired := func(p apiclient.LifecyclePreview) map[string]int {
		m := map[string]int{}
		for _, r := range p.PreviewResults {
			if r.Action.Type != "EXPIRE" {
				t.Errorf("action %q", r.Action.Type)
			}
			m[r.ImageDigest] = r.AppliedRulePriority
		}
		if p.Summary.ExpiringImageTotalCount != len(p.PreviewResults) || p.Status != "COMPLETE" {
			t.Errorf("summary %+v, status %s, for %d results", p.Summary, p.Status, len(p.PreviewResults))
		}
		return m
	}
	// Example A: A [beta-1 prod-1], B [beta-2 prod-2], C [beta-3], pushed in that order.
	a := push(img(), "beta-1", "prod-1")
	b := push(img(), "beta-2", "prod-2")
	cImg := img()
	c := push(cImg, "beta-3")
	got := expired(preview())
	if len(got) != 1 || got[a] != 1 {
		t.Errorf("example A: expired %v, want only image A (%s) by rule 1; B is %s, C %s", got, a, b, c)
	}
	// Example B: C is also tagged prod-3.
	push(cImg, "prod-3")
	got = expired(preview())
	if len(got) != 2 || got[a] != 1 || got[b] != 1 {
		t.Errorf("example B: expired %v, want images A (%s) and B (%s) by rule 1", got, a, b)
	}
	// A preview expires nothing.
	ref, _ := name.ParseReference(host+"/"+repo+":prod-1", name.Insecure)
	if _, err := ggremote.Head(ref, auth); err != nil {
		t.Errorf("image A after the previews: %v", err)
	}
	// Applying it: only an admin deletes; then exactly A and B are gone.
	apply := func(token string) (int, string) {
		home := t.TempDir()
		code, _, errs := runVigilCode(map[string]string{"VIGIL_CACHE_DIR": home, "HOME": home, "VIGIL_TOKEN": token},
			"repositories", "lifecycle", "apply", repo, "--policy", "@"+policyFile, "--server", hs.URL)
		return code, errs
	}
	if code, errs := apply(pipeline); code == 0 || !strings.Contains(errs, "DENIED") || !strings.Contains(errs, "0 of 2 image(s) expired") {
		t.Errorf("apply with a pipeline token: exit %d\n%s", code, errs)
	}
	if code, errs := apply(admin); code != 0 || !strings.Contains(errs, "2 of 2 image(s) expired") {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	for tag, want := range map[string]bool{"beta-1": false, "prod-1": false, "beta-2": false, "prod-2": false, "beta-3": true, "prod-3": true} {
		ref, _ := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
		_, err := ggremote.Head(ref, auth)
		if (err == nil) != want {
			t.Errorf("after apply, %s: %v (want present: %v)", tag, err, want)
		}
	}
	cl, err := apiclient.New(hs.URL, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	page, err := cl.Images(context.Background(), apiclient.ImageQuery{Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Images) != 1 || page.Images[0].Digest != c {
		t.Errorf("images after apply: %+v, want only C (%s)", page.Images, c)
	}
	if got := expired(preview()); len(got) != 0 {
		t.Errorf("preview after apply: %v", got)
	}
	// Each expired image is announced as ECR announces a deletion: an
	// "ECR Image Action" DELETE per tag it had.
	evs, err := cl.Events(context.Background(), apiclient.EventQuery{DetailType: "ECR Image Action", MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	for _, e := range evs.Events {
		var d struct {
			ActionType string `json:"action-type"`
			Digest     string `json:"image-digest"`
			Tag        string `json:"image-tag"`
		}
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if d.ActionType == "DELETE" {
			deleted[d.Digest+" "+d.Tag] = true
		}
	}
	want := map[string]bool{a + " beta-1": true, a + " prod-1": true, b + " beta-2": true, b + " prod-2": true}
	if len(deleted) != len(want) {
		t.Errorf("DELETE events %v, want %v", deleted, want)
	}
	for k := range want {
		if !deleted[k] {
			t.Errorf("no DELETE event for %s (have %v)", k, deleted)
		}
	}
	// The manifests an index lists are not untagged images to expire:
	// of an index and two untagged images, "keep one untagged image"
	// names the older of the two alone.
	const untaggedPolicy = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	idxRef, _ := name.ParseReference(host+"/"+repo+":multi", name.Insecure)
	if err := ggremote.WriteIndex(idxRef, idx, auth); err != nil {
		t.Fatal(err)
	}
	byDigest := func(im v1.Image) string {
		t.Helper()
		d, _ := im.Digest()
		ref, _ := name.ParseReference(host+"/"+repo+"@"+d.String(), name.Insecure)
		if err := ggremote.Write(ref, im, auth); err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	older := byDigest(img())
	byDigest(img())
	pv, err := cl.PreviewLifecyclePolicy(context.Background(), repo, untaggedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if got := expired(*pv); len(got) != 1 || got[older] != 1 {
		t.Errorf("untagged preview beside an index: %v, want only %s", got, older)
	}
	// A policy ECR refuses is refused, naming the rule.
	home := t.TempDir()
	code, _, errs := runVigilCode(map[string]string{"VIGIL_CACHE_DIR": home, "HOME": home, "VIGIL_TOKEN": pipeline},
		"repositories", "lifecycle", "preview", repo, "--server", hs.URL, "--policy",
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)
	if code == 0 || !strings.Contains(errs, "rulePriority 1") || !strings.Contains(errs, "tagPrefixList") {
		t.Errorf("an invalid policy: exit %d\n%s", code, errs)
	}
}
