package registry

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ociErrors is the OCI error body.
type ociErrors struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e ociErrors
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an OCI error body: %q (%v)", body, err)
	}
	return e.Errors[0].Code
}

func TestAuthorize(t *testing.T) {
	tr := startRegistry(t, Options{})
	img, _ := layoutImage(t, "alpine-3.20.3")
	if err := remote.Write(tr.ref(t, "team/app:1"), img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	d := mustDigest(t, img).String()
	// An upload in progress, for the upload routes.
	resp, body := tr.do(t, http.MethodPost, "/v2/team/app/blobs/uploads/", pushToken, "", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload: %s %s", resp.Status, body)
	}
	upload := resp.Header.Get("Location")
	upload = upload[strings.Index(upload, "/v2/"):]
	tr.auth.reset()

	routes := []struct {
		name, method, path string
		action, repository string
	}{
		{"base", "GET", "/v2/", "pull", ""},
		{"base without slash", "GET", "/v2", "pull", ""},
		{"catalog", "GET", "/v2/_catalog", "pull", ""},
		{"tags list", "GET", "/v2/team/app/tags/list", "pull", "team/app"},
		{"manifest get", "GET", "/v2/team/app/manifests/1", "pull", "team/app"},
		{"manifest head", "HEAD", "/v2/team/app/manifests/" + d, "pull", "team/app"},
		{"manifest put", "PUT", "/v2/team/app/manifests/2", "push", "team/app"},
		{"manifest delete", "DELETE", "/v2/team/app/manifests/" + d, "delete", "team/app"},
		{"blob get", "GET", "/v2/team/app/blobs/" + layer.String(), "pull", "team/app"},
		{"blob head", "HEAD", "/v2/team/app/blobs/" + layer.String(), "pull", "team/app"},
		{"blob delete", "DELETE", "/v2/team/app/blobs/" + layer.String(), "delete", "team/app"},
		{"upload post", "POST", "/v2/team/app/blobs/uploads/", "push", "team/app"},
		{"upload patch", "PATCH", upload, "push", "team/app"},
		{"upload put", "PUT", upload, "push", "team/app"},
		{"upload get", "GET", upload, "pull", "team/app"},
		{"upload delete", "DELETE", upload, "push", "team/app"},
		{"referrers", "GET", "/v2/team/app/referrers/" + d, "pull", "team/app"},
		{"nested name", "GET", "/v2/a/b/c/tags/list", "pull", "a/b/c"},
		{"unknown route", "GET", "/v2/team/app/nonsense", "pull", ""},
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			resp, body := tr.do(t, rt.method, rt.path, "", "", nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("without credentials: %s, want 401", resp.Status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="vigil"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if got := resp.Header.Values("Docker-Distribution-API-Version"); len(got) != 1 || got[0] != "registry/2.0" {
				t.Errorf("Docker-Distribution-API-Version %q", got)
			}
			if rt.method != "HEAD" {
				if code := errorCode(t, body); code != "UNAUTHORIZED" {
					t.Errorf("error code %s, want UNAUTHORIZED", code)
				}
			}
			calls := tr.auth.reset()
			if len(calls) != 1 || calls[0] != (authCall{rt.action, rt.repository}) {
				t.Errorf("Authorize called with %v, want [{%s %s}]", calls, rt.action, rt.repository)
			}

			resp, body = tr.do(t, rt.method, rt.path, pullToken, "", nil)
			tr.auth.reset()
			if rt.action == "pull" {
				if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
					t.Errorf("pull principal refused a read: %s %s", resp.Status, body)
				}
				if got := resp.Header.Values("Docker-Distribution-API-Version"); len(got) != 1 {
					t.Errorf("Docker-Distribution-API-Version %q from the library", got)
				}
				return
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("pull principal: %s %s, want 403", resp.Status, body)
			}
			if code := errorCode(t, body); code != "DENIED" {
				t.Errorf("error code %s, want DENIED", code)
			}
		})
	}

	// The refusals changed nothing: the image is whole.
	if _, err := remote.Image(tr.ref(t, "team/app:1"), remoteOpts(pullToken)...); err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		h, _ := l.Digest()
		resp, _ := tr.do(t, "HEAD", "/v2/team/app/blobs/"+h.String(), pullToken, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("layer %s: %s after refused requests", h, resp.Status)
		}
	}
}

func TestAuthorizeMount(t *testing.T) {
	tr := startRegistry(t, Options{})
	img, _ := layoutImage(t, "alpine-3.20.3")
	if err := remote.Write(tr.ref(t, "secret/app:1"), img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	mount := "/v2/team/app/blobs/uploads/?mount=" + layer.String() + "&from="

	// The scoped principal may push to team/app but not read secret/app,
	// so it may not mount from there.
	tr.auth.reset()
	resp, body := tr.do(t, "POST", mount+"secret/app", scopedToken, "", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("mount from an unreadable repository: %s %s, want 403", resp.Status, body)
	}
	if calls := tr.auth.reset(); len(calls) != 2 || calls[1] != (authCall{"pull", "secret/app"}) {
		t.Errorf("Authorize calls %v, want push team/app then pull secret/app", calls)
	}
	// Nor by naming the repository in a form body, which the library
	// also reads.
	resp, body = tr.do(t, "POST", "/v2/team/app/blobs/uploads/?mount="+layer.String(), scopedToken,
		"application/x-www-form-urlencoded", []byte("from=secret/app"))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("mount from an unreadable repository named in the body: %s %s, want 403", resp.Status, body)
	}
	resp, body = tr.do(t, "POST", mount+"secret/app", pushToken, "", nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("mount by a principal that may: %s %s, want 201", resp.Status, body)
	}
}

func TestAuthorizeOtherError(t *testing.T) {
	tr := startRegistry(t, Options{Authorize: func(*http.Request, string, string) error {
		return errBackend
	}})
	resp, body := tr.do(t, "GET", "/v2/", pushToken, "", nil)
	if resp.StatusCode != http.StatusInternalServerError || errorCode(t, body) != "UNKNOWN" {
		t.Errorf("failing Authorize: %s %s, want 500 UNKNOWN", resp.Status, body)
	}
	if strings.Contains(string(body), errBackend.Error()) {
		t.Errorf("the cause reached the client: %s", body)
	}
}

func TestUnsupportedMethod(t *testing.T) {
	tr := startRegistry(t, Options{})
	resp, body := tr.do(t, "OPTIONS", "/v2/", pushToken, "", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || errorCode(t, body) != "UNSUPPORTED" {
		t.Errorf("OPTIONS: %s %s, want 405 UNSUPPORTED", resp.Status, body)
	}
}
