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
	admin := strings.TrimSpace(string(b))
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	host := strings.TrimPrefix(hs.URL, "http://")
	c, err := apiclient.New(hs.URL, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := c.CreateToken(ctx, "ci", store.RolePipeline)
	if err != nil {
		t.Fatal(err)
	}
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
	if code, _, errs := vigil(pipeline.Secret, "repositories", "set-tag-mutability", repo, "IMMUTABLE"); code == 0 || !strings.Contains(errs, "403") {
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
	code, out, errs := vigil(pipeline.Secret, "repositories", "get-tag-mutability", repo, "--json")
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
