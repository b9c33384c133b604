package registry

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vigilsec/vigil/internal/testenv"
)

// pushLog records what OnPush was told.
type pushLog struct {
	mu     sync.Mutex
	pushes []Pushed
}

func (l *pushLog) onPush(_ context.Context, p Pushed) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pushes = append(l.pushes, p)
	return nil
}

func (l *pushLog) find(d string) (Pushed, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.pushes {
		if p.Digest == d {
			return p, true
		}
	}
	return Pushed{}, false
}

// openRegistry serves a registry that lets every request through, for
// the clients that are run without credentials.
func openRegistry(t *testing.T, log *pushLog) *testRegistry {
	t.Helper()
	o := Options{Authorize: func(*http.Request, string, string) error { return nil }}
	if log != nil {
		o.OnPush = log.onPush
	}
	return startRegistry(t, o)
}

// pushRandomImage pushes a generated image and returns its digest.
func pushRandomImage(t *testing.T, tr *testRegistry, repoTag string) string {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tr.ref(t, repoTag), img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// run runs a client tool in home, which is also its HOME, so that it reads
// no configuration but its own and finds files by relative names.
func run(t *testing.T, home, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, tool), args...)
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", tool, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// referrersOf asks the referrers API directly.
func referrersOf(t *testing.T, tr *testRegistry, repo, subject, query string) (*http.Response, ocispec.Index) {
	t.Helper()
	resp, body := tr.do(t, http.MethodGet, "/v2/"+repo+"/referrers/"+subject+query, pushToken, "", nil)
	var idx ocispec.Index
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &idx); err != nil {
			t.Fatalf("referrers of %s: %v: %s", subject, err, body)
		}
	}
	return resp, idx
}

func artifactTypes(ds []ocispec.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ArtifactType)
	}
	slices.Sort(out)
	return out
}

// oras discover --format json, as oras 1.3 prints it.
type orasDiscovery struct {
	Referrers []struct {
		Digest       string            `json:"digest"`
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"referrers"`
}

func discover(t *testing.T, home, ref string, args ...string) orasDiscovery {
	t.Helper()
	out := run(t, home, "oras", append([]string{"discover", "--plain-http", "--format", "json", ref}, args...)...)
	var d orasDiscovery
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("oras discover: %v: %s", err, out)
	}
	return d
}

// TestReferrersOras attaches artifacts to an image with oras (which uses
// the referrers API when the registry serves it), discovers them with
// oras and regctl, filters them by artifactType and deletes one with crane.
func TestReferrersOras(t *testing.T) {
	log := &pushLog{}
	tr := openRegistry(t, log)
	home := t.TempDir()
	subject := pushRandomImage(t, tr, "team/app:1.0")
	ref := tr.host + "/team/app:1.0"

	sbom := filepath.Join(home, "sbom.cdx.json")
	vex := filepath.Join(home, "vex.json")
	os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`), 0o600)
	os.WriteFile(vex, []byte(`{"@context":"https://openvex.dev/ns/v0.2.0"}`), 0o600)
	run(t, home, "oras", "attach", "--plain-http", "--artifact-type", "application/vnd.cyclonedx+json",
		"-a", "org.example.kind=sbom", ref, "sbom.cdx.json:application/vnd.cyclonedx+json")
	run(t, home, "oras", "attach", "--plain-http", "--artifact-type", "application/openvex+json",
		"-a", "org.example.kind=vex", ref, "vex.json:application/openvex+json")

	d := discover(t, home, ref)
	if len(d.Referrers) != 2 {
		t.Fatalf("oras discover lists %d referrers, want 2: %+v", len(d.Referrers), d)
	}
	byType := map[string]string{}
	for _, r := range d.Referrers {
		byType[r.ArtifactType] = r.Digest
		want := map[string]string{"application/vnd.cyclonedx+json": "sbom", "application/openvex+json": "vex"}[r.ArtifactType]
		if got := r.Annotations["org.example.kind"]; got != want {
			t.Errorf("referrer %s (%s): annotation org.example.kind = %q, want %q", r.Digest, r.ArtifactType, got, want)
		}
		p, ok := log.find(r.Digest)
		if !ok {
			t.Errorf("referrer %s was not reported to OnPush", r.Digest)
		} else if p.Subject != subject {
			t.Errorf("OnPush of %s: Subject %q, want %q", r.Digest, p.Subject, subject)
		}
	}
	if p, _ := log.find(subject); p.Subject != "" {
		t.Errorf("the image itself was reported with Subject %q", p.Subject)
	}
	// No tag-schema index: oras found the API.
	resp, _ := tr.do(t, http.MethodHead, "/v2/team/app/manifests/"+strings.Replace(subject, ":", "-", 1), pushToken, "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a tag-schema index exists (%s): oras did not use the referrers API", resp.Status)
	}

	// Filtering, by oras and regctl and on the wire.
	if d := discover(t, home, ref, "--artifact-type", "application/openvex+json"); len(d.Referrers) != 1 ||
		d.Referrers[0].Digest != byType["application/openvex+json"] {
		t.Errorf("oras discover --artifact-type application/openvex+json: %+v", d)
	}
	run(t, home, "regctl", "registry", "set", "--tls", "disabled", tr.host)
	out := run(t, home, "regctl", "artifact", "list", "--filter-artifact-type", "application/vnd.cyclonedx+json",
		"--format", "{{jsonPretty .Manifest}}", ref)
	var idx ocispec.Index
	if err := json.Unmarshal([]byte(out), &idx); err != nil {
		t.Fatalf("regctl artifact list: %v: %s", err, out)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest.String() != byType["application/vnd.cyclonedx+json"] {
		t.Errorf("regctl artifact list --filter-artifact-type: %+v", idx.Manifests)
	}
	resp, idx = referrersOf(t, tr, "team/app", subject, "?artifactType=application/openvex%2Bjson")
	if resp.Header.Get("OCI-Filters-Applied") != "artifactType" || resp.Header.Get("Content-Type") != ocispec.MediaTypeImageIndex {
		t.Errorf("filtered referrers: OCI-Filters-Applied %q, Content-Type %q", resp.Header.Get("OCI-Filters-Applied"), resp.Header.Get("Content-Type"))
	}
	if got := artifactTypes(idx.Manifests); !slices.Equal(got, []string{"application/openvex+json"}) {
		t.Errorf("filtered referrers: %v", got)
	}
	resp, _ = referrersOf(t, tr, "team/app", subject, "")
	if resp.Header.Get("OCI-Filters-Applied") != "" {
		t.Errorf("unfiltered referrers say OCI-Filters-Applied: %q", resp.Header.Get("OCI-Filters-Applied"))
	}

	// Deleting a referrer takes it off the list.
	run(t, home, "crane", "delete", "--insecure", tr.host+"/team/app@"+byType["application/openvex+json"])
	if d := discover(t, home, ref); len(d.Referrers) != 1 || d.Referrers[0].ArtifactType != "application/vnd.cyclonedx+json" {
		t.Errorf("after deleting the OpenVEX referrer, oras discover lists %+v", d.Referrers)
	}
}

// TestReferrersTagSchema: a client that keeps the referrers in a
// "sha256-HEX" tag (the tag schema) and one that uses the API see the
// same list, and deleting a referrer updates both.
func TestReferrersTagSchema(t *testing.T) {
	tr := openRegistry(t, nil)
	home := t.TempDir()
	subject := pushRandomImage(t, tr, "team/app:1.0")
	ref := tr.host + "/team/app:1.0"
	tag := "sha256-" + strings.TrimPrefix(subject, "sha256:")
	sig := filepath.Join(home, "sig.json")
	os.WriteFile(sig, []byte(`{"signature":"x"}`), 0o600)

	run(t, home, "oras", "attach", "--plain-http", "--distribution-spec", "v1.1-referrers-tag",
		"--artifact-type", "application/vnd.example.signature", ref, "sig.json")
	tagged := func() []string {
		out := run(t, home, "crane", "manifest", "--insecure", tr.host+"/team/app:"+tag)
		var idx ocispec.Index
		if err := json.Unmarshal([]byte(out), &idx); err != nil {
			t.Fatalf("crane manifest %s: %v: %s", tag, err, out)
		}
		return artifactTypes(idx.Manifests)
	}
	if got := tagged(); !slices.Equal(got, []string{"application/vnd.example.signature"}) {
		t.Fatalf("the tag-schema index oras pushed lists %v", got)
	}
	run(t, home, "oras", "attach", "--plain-http", "--distribution-spec", "v1.1-referrers-api",
		"--artifact-type", "application/vnd.cyclonedx+json", ref, "sig.json")

	both := []string{"application/vnd.cyclonedx+json", "application/vnd.example.signature"}
	if got := tagged(); !slices.Equal(got, both) {
		t.Errorf("after a push through the API, the tag-schema index lists %v, want %v", got, both)
	}
	var d orasDiscovery
	for _, spec := range []string{"v1.1-referrers-tag", "v1.1-referrers-api"} {
		d = discover(t, home, ref, "--distribution-spec", spec)
		var got []string
		for _, r := range d.Referrers {
			got = append(got, r.ArtifactType)
		}
		slices.Sort(got)
		if !slices.Equal(got, both) {
			t.Errorf("oras discover --distribution-spec %s: %v, want %v", spec, got, both)
		}
	}

	// A referrer known only from the tag (pushed before the registry
	// served the API, so never recorded) is listed by the API too.
	if err := os.RemoveAll(filepath.Join(tr.opts.FilesystemRoot, "vigil", "referrers")); err != nil {
		t.Fatal(err)
	}
	if _, idx := referrersOf(t, tr, "team/app", subject, ""); !slices.Equal(artifactTypes(idx.Manifests), both) {
		t.Errorf("with only the tag-schema index to go by, the API lists %v, want %v", artifactTypes(idx.Manifests), both)
	}

	for _, r := range d.Referrers {
		if r.ArtifactType == "application/vnd.example.signature" {
			run(t, home, "crane", "delete", "--insecure", tr.host+"/team/app@"+r.Digest)
		}
	}
	if got := tagged(); !slices.Equal(got, []string{"application/vnd.cyclonedx+json"}) {
		t.Errorf("after deleting the signature, the tag-schema index lists %v", got)
	}
	if _, idx := referrersOf(t, tr, "team/app", subject, ""); !slices.Equal(artifactTypes(idx.Manifests), []string{"application/vnd.cyclonedx+json"}) {
		t.Errorf("after deleting the signature, the API lists %v", artifactTypes(idx.Manifests))
	}
}

// TestReferrersRequests: what the API answers to requests that name no
// referrers or are wrong.
func TestReferrersRequests(t *testing.T) {
	tr := startRegistry(t, Options{})
	pushRandomImage(t, tr, "team/app:1.0")
	missing := digest.FromString("nothing").String()
	for _, repo := range []string{"team/app", "team/none"} {
		resp, idx := referrersOf(t, tr, repo, missing, "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ocispec.MediaTypeImageIndex ||
			idx.SchemaVersion != 2 || idx.Manifests == nil || len(idx.Manifests) != 0 {
			t.Errorf("%s: referrers of a missing subject: %s %q %+v", repo, resp.Status, resp.Header.Get("Content-Type"), idx)
		}
	}
	resp, body := tr.do(t, http.MethodGet, "/v2/team/app/referrers/sha256:nothex", pushToken, "", nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "DIGEST_INVALID") {
		t.Errorf("a subject that is not a digest: %s %s", resp.Status, body)
	}
	resp, body = tr.do(t, http.MethodPut, "/v2/team/app/referrers/"+missing, pushToken, "", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(body), "UNSUPPORTED") {
		t.Errorf("PUT on the referrers API: %s %s", resp.Status, body)
	}
	resp, _ = tr.do(t, http.MethodGet, "/v2/team/app/referrers/"+missing, "", "", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("referrers without credentials: %s", resp.Status)
	}
	resp, _ = tr.do(t, http.MethodGet, "/v2/other/app/referrers/"+missing, scopedToken, "", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("referrers of a repository outside the token's scope: %s", resp.Status)
	}
}

// TestReferrersSubjectHeader: a manifest PUT with a subject is answered
// with OCI-Subject, also when the subject is not (yet) in the repository,
// and is listed under it once the subject arrives.
func TestReferrersSubjectHeader(t *testing.T) {
	tr := startRegistry(t, Options{})
	empty := []byte("{}")
	emptyDigest := digest.FromBytes(empty).String()
	tr.upload(t, "team/app", emptyDigest, empty)
	subject := digest.FromString("an image pushed later").String()
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig",` +
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + emptyDigest + `","size":2},` +
		`"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + emptyDigest + `","size":2}],` +
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + subject + `","size":100},` +
		`"annotations":{"org.example":"yes"}}`)
	md := digest.FromBytes(m).String()
	resp, body := tr.do(t, http.MethodPut, "/v2/team/app/manifests/"+md, pushToken, ocispec.MediaTypeImageManifest, m)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("OCI-Subject") != subject {
		t.Fatalf("PUT with a subject: %s, OCI-Subject %q: %s", resp.Status, resp.Header.Get("OCI-Subject"), body)
	}
	_, idx := referrersOf(t, tr, "team/app", subject, "")
	if len(idx.Manifests) != 1 {
		t.Fatalf("referrers: %+v", idx.Manifests)
	}
	got := idx.Manifests[0]
	if got.Digest.String() != md || got.Size != int64(len(m)) || got.MediaType != ocispec.MediaTypeImageManifest ||
		got.ArtifactType != "application/vnd.example.sig" || got.Annotations["org.example"] != "yes" {
		t.Errorf("referrer descriptor: %+v", got)
	}
	resp, _ = tr.do(t, http.MethodPut, "/v2/team/app/manifests/plain", pushToken, ocispec.MediaTypeImageManifest,
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"`+emptyDigest+`","size":2},"layers":[]}`))
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("OCI-Subject") != "" {
		t.Errorf("PUT without a subject: %s, OCI-Subject %q", resp.Status, resp.Header.Get("OCI-Subject"))
	}
}

func sha512Digest(b []byte) string {
	h := sha512.Sum512(b)
	return "sha512:" + hex.EncodeToString(h[:])
}

// TestReferrersSHA512 pushes an image with regctl, rewritten to sha512
// digests (blobs, config, manifest), copies it to another repository
// (which mounts its blobs by sha512), pulls it back by its sha512 digest
// and deletes it by that digest.
func TestReferrersSHA512(t *testing.T) {
	log := &pushLog{}
	tr := openRegistry(t, log)
	home := t.TempDir()
	pushRandomImage(t, tr, "team/app:256")
	run(t, home, "regctl", "registry", "set", "--tls", "disabled", tr.host)
	run(t, home, "regctl", "image", "mod", tr.host+"/team/app:256", "--digest-algo", "sha512", "--create", "512")
	raw := run(t, home, "regctl", "manifest", "get", "--format", "raw-body", tr.host+"/team/app:512")
	d512 := sha512Digest([]byte(raw))
	if !strings.Contains(raw, `"digest":"sha512:`) {
		t.Fatalf("regctl did not rewrite the manifest's descriptors to sha512: %s", raw)
	}
	resp, body := tr.do(t, http.MethodGet, "/v2/team/app/manifests/"+d512, pushToken, "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != d512 || string(body) != raw {
		t.Fatalf("GET by %s: %s, Docker-Content-Digest %q", d512, resp.Status, resp.Header.Get("Docker-Content-Digest"))
	}
	// A GET by the tag regctl pushed with ?digest=sha512 answers with it.
	resp, _ = tr.do(t, http.MethodHead, "/v2/team/app/manifests/512", pushToken, "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != d512 {
		t.Errorf("HEAD by tag 512: %s, Docker-Content-Digest %q, want %s", resp.Status, resp.Header.Get("Docker-Content-Digest"), d512)
	}
	// The push is recorded under the manifest's sha256 digest, as Vigil
	// keeps every image.
	if _, ok := log.find(digest.FromString(raw).String()); !ok {
		t.Errorf("the sha512 push was not reported to OnPush by its sha256 digest")
	}
	var m ocispec.Manifest
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	for _, l := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		resp, _ := tr.do(t, http.MethodHead, "/v2/team/app/blobs/"+l.Digest.String(), pushToken, "", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != l.Digest.String() {
			t.Errorf("HEAD blob %s: %s, Docker-Content-Digest %q", l.Digest, resp.Status, resp.Header.Get("Docker-Content-Digest"))
		}
	}
	// regctl verifies every blob's sha512 as it copies.
	run(t, home, "regctl", "image", "copy", tr.host+"/team/app@"+d512, tr.host+"/team/copy:512")
	for _, l := range m.Layers {
		resp, _ := tr.do(t, http.MethodGet, "/v2/team/copy/blobs/"+l.Digest.String(), pushToken, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET copied blob %s: %s", l.Digest, resp.Status)
		}
	}
	// A sha512 digest that is not the body's is refused.
	resp, body = tr.do(t, http.MethodPut, "/v2/team/app/manifests/x?digest="+sha512Digest([]byte("other")), pushToken, ocispec.MediaTypeImageManifest, []byte(raw))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "DIGEST_INVALID") {
		t.Errorf("PUT with a wrong sha512 digest: %s %s", resp.Status, body)
	}
	resp, body = tr.do(t, http.MethodDelete, "/v2/team/app/manifests/"+d512, pushToken, "", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE by %s: %s %s", d512, resp.Status, body)
	}
	for _, d := range []string{d512, digest.FromString(raw).String(), "512"} {
		if resp, _ := tr.do(t, http.MethodGet, "/v2/team/app/manifests/"+d, pushToken, "", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s after deleting by sha512: %s", d, resp.Status)
		}
	}
}

// TestReferrersTagParams: a manifest PUT by digest with tag parameters
// tags it with each, says so in OCI-Tag and reports each tag to OnPush; a
// parameter that is not a tag is refused before anything is stored.
func TestReferrersTagParams(t *testing.T) {
	log := &pushLog{}
	tr := openRegistry(t, log)
	pushRandomImage(t, tr, "team/app:base")
	resp, raw := tr.do(t, http.MethodGet, "/v2/team/app/manifests/base", pushToken, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	mt := resp.Header.Get("Content-Type")
	d := digest.FromBytes(raw).String()
	resp, body := tr.do(t, http.MethodPut, "/v2/team/app/manifests/"+d+"?tag=1.0&tag=..bad", pushToken, mt, raw)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "TAG_INVALID") {
		t.Errorf("PUT with an invalid tag parameter: %s %s", resp.Status, body)
	}
	resp, body = tr.do(t, http.MethodPut, "/v2/team/app/manifests/"+d+"?tag=1.0&tag=stable", pushToken, mt, raw)
	if resp.StatusCode != http.StatusCreated || !slices.Equal(resp.Header.Values("OCI-Tag"), []string{"1.0", "stable"}) {
		t.Fatalf("PUT with tag parameters: %s, OCI-Tag %q: %s", resp.Status, resp.Header.Values("OCI-Tag"), body)
	}
	home := t.TempDir()
	tags := strings.Fields(run(t, home, "crane", "ls", "--insecure", tr.host+"/team/app"))
	if !slices.Equal(tags, []string{"1.0", "base", "stable"}) {
		t.Errorf("crane ls: %v", tags)
	}
	log.mu.Lock()
	var pushedTags []string
	for _, p := range log.pushes {
		if p.Digest == d {
			pushedTags = append(pushedTags, p.Tag)
		}
	}
	log.mu.Unlock()
	if !slices.Equal(pushedTags, []string{"base", "", "1.0", "stable"}) {
		t.Errorf("OnPush was told of tags %q", pushedTags)
	}
}
