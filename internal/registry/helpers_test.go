package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vigilsec/vigil/internal/testenv"
)

// Test credentials, checked by testAuthorize: the push token may do
// anything, the pull token only pull, the scoped token pull and push to
// team/* only.
const (
	pushToken   = "push-token"
	pullToken   = "pull-token"
	scopedToken = "scoped-token"
)

// authCall is one call of Options.Authorize.
type authCall struct{ action, repository string }

// testAuth is a small token policy standing in for Vigil's; it records
// what it was asked.
type testAuth struct {
	mu    sync.Mutex
	calls []authCall
}

func (a *testAuth) authorize(r *http.Request, action, repository string) error {
	a.mu.Lock()
	a.calls = append(a.calls, authCall{action, repository})
	a.mu.Unlock()
	_, token, ok := r.BasicAuth()
	switch {
	case !ok:
		return ErrUnauthenticated
	case token == pushToken:
		return nil
	case token == pullToken && action == "pull":
		return nil
	case token == scopedToken && action != "delete" && (repository == "" || strings.HasPrefix(repository, "team/")):
		return nil
	case token == pullToken || token == scopedToken:
		return ErrForbidden
	}
	return ErrUnauthenticated
}

func (a *testAuth) reset() []authCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.calls
	a.calls = nil
	return c
}

// testRegistry is a registry served over HTTP for a test.
type testRegistry struct {
	*Registry
	srv  *httptest.Server
	host string // "127.0.0.1:PORT"
	auth *testAuth
}

// startRegistry serves a registry with o's hooks, a filesystem root in a
// temporary directory unless o names storage, and testAuth unless o has
// an Authorize.
func startRegistry(t *testing.T, o Options) *testRegistry {
	t.Helper()
	if o.FilesystemRoot == "" && o.S3 == nil {
		o.FilesystemRoot = t.TempDir()
	}
	if o.Secret == "" {
		o.Secret = "test-secret"
	}
	tr := &testRegistry{auth: &testAuth{}}
	if o.Authorize == nil {
		o.Authorize = tr.auth.authorize
	}
	r, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	tr.Registry = r
	tr.srv = httptest.NewServer(r)
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

// ref names repo:tagOrDigest in the test registry.
func (tr *testRegistry) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(tr.host+"/"+s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// remoteOpts are ggcr options with push credentials.
func remoteOpts(token string) []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: "u", Password: token})}
}

// layoutImage opens the one image of a test image's OCI layout with ggcr.
func layoutImage(t *testing.T, imageName string) (v1.Image, string) {
	t.Helper()
	dir := testenv.Image(t, imageName)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("%s: index.json lists %d manifests, want 1", dir, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, dir
}

// blobPath is where an OCI layout keeps a blob.
func blobPath(dir string, h v1.Hash) string {
	return filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
}

// sha256Hex digests a stream.
func sha256Hex(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// sameStream reports where two streams first differ, or "" when they are
// byte-identical.
func sameStream(a, b io.Reader) (string, error) {
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	var off int64
	for {
		na, ea := io.ReadFull(a, ba)
		nb, eb := io.ReadFull(b, bb)
		if ea != nil && !errors.Is(ea, io.EOF) && !errors.Is(ea, io.ErrUnexpectedEOF) {
			return "", ea
		}
		if eb != nil && !errors.Is(eb, io.EOF) && !errors.Is(eb, io.ErrUnexpectedEOF) {
			return "", eb
		}
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return fmt.Sprintf("streams differ within bytes %d..%d", off, off+int64(max(na, nb))), nil
		}
		if na < len(ba) || nb < len(bb) {
			return "", nil
		}
		off += int64(na)
	}
}

// sameAsFile checks that r holds exactly the content of the file p.
func sameAsFile(t *testing.T, r io.Reader, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	diff, err := sameStream(r, f)
	if err != nil {
		t.Fatal(err)
	}
	if diff != "" {
		t.Errorf("%s: %s", p, diff)
	}
}

// do sends a request to the test registry with Basic credentials (none
// when token is "") and returns the response with its body read.
func (tr *testRegistry) do(t *testing.T, method, path, token, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, tr.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.SetBasicAuth("u", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// syncWriter is a writer safe for the concurrent logging of handlers.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// upload pushes a blob with a POST and a PUT, as the distribution spec's
// monolithic upload does.
func (tr *testRegistry) upload(t *testing.T, repo, digest string, data []byte) {
	t.Helper()
	resp, body := tr.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", pushToken, "", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload: %s %s", resp.Status, body)
	}
	loc := resp.Header.Get("Location")
	loc = loc[strings.Index(loc, "/v2/"):]
	resp, body = tr.do(t, http.MethodPut, loc+"&digest="+digest, pushToken, "application/octet-stream", data)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("finishing an upload: %s %s", resp.Status, body)
	}
}
