package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vigilsec/vigil/internal/registry"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/web"
)

// TestImageAttachments: an artifact pushed to the registry with an image
// as its subject is listed on the image's page, under "Attached
// artifacts", with its type, digest and creation time.
func TestImageAttachments(t *testing.T) {
	reg, err := registry.New(context.Background(), registry.Options{FilesystemRoot: t.TempDir(), Secret: "test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	rs := httptest.NewServer(reg)
	t.Cleanup(rs.Close)
	e := newEnv(t, func(o *web.Options) {
		o.Attachments = func(ctx context.Context, repository, dgst string) ([]web.Attachment, error) {
			ds, err := reg.Referrers(ctx, repository, dgst, "")
			var out []web.Attachment
			for _, d := range ds {
				out = append(out, web.Attachment{Digest: d.Digest.String(), MediaType: d.MediaType, ArtifactType: d.ArtifactType, Size: d.Size, Annotations: d.Annotations})
			}
			return out, err
		}
	})
	im := e.fx.Images[0]
	put := func(method, path, contentType string, body []byte) *http.Response {
		req, _ := http.NewRequest(method, rs.URL+path, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	empty := []byte("{}")
	ed := digest.FromBytes(empty).String()
	resp := put("POST", "/v2/"+im.Repository+"/blobs/uploads/?digest="+ed, "application/octet-stream", empty)
	if resp.StatusCode != http.StatusCreated {
		// The library starts an upload instead of taking the blob at once.
		loc := resp.Header.Get("Location")
		if resp = put("PUT", loc[strings.Index(loc, "/v2/"):]+"&digest="+ed, "application/octet-stream", empty); resp.StatusCode != http.StatusCreated {
			t.Fatalf("blob upload: %s", resp.Status)
		}
	}
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.signature",` +
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + ed + `","size":2},` +
		`"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + ed + `","size":2}],` +
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + im.Digest + `","size":500},` +
		`"annotations":{"org.opencontainers.image.created":"2026-01-02T03:04:05Z"}}`)
	md := digest.FromBytes(m).String()
	if resp := put("PUT", "/v2/"+im.Repository+"/manifests/"+md, "application/vnd.oci.image.manifest.v1+json", m); resp.StatusCode != http.StatusCreated {
		t.Fatalf("artifact push: %s", resp.Status)
	}
	page := e.signIn(store.RoleReadOnly).page("/images/" + im.Repository + "@" + im.Digest)
	i := strings.Index(page, `id="attachments"`)
	if i < 0 {
		t.Fatalf("the image page has no attached artifacts")
	}
	section := page[i:]
	section = section[:strings.Index(section, "</section>")]
	for _, want := range []string{"application/vnd.example.signature", md, "2026-01-02T03:04:05Z", "a client"} {
		if !strings.Contains(section, want) {
			t.Errorf("attached artifacts do not show %q:\n%s", want, section)
		}
	}
	// An image with nothing attached has no such section.
	if other := e.signIn(store.RoleReadOnly).page("/images/" + e.fx.Images[1].Repository + "@" + e.fx.Images[1].Digest); strings.Contains(other, `id="attachments"`) {
		t.Errorf("an image without referrers shows attached artifacts")
	}
}
