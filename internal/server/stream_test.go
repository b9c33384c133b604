package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/catalog"
	"github.com/vigilsec/vigil/internal/testenv"
)

// upload speaks the distribution API's blob upload by hand: POST, then
// one PATCH per chunk, then PUT with the digest. between runs after each
// PATCH is accepted.
func (ts *testServer) upload(t *testing.T, repo string, data []byte, digest string, chunks int, between func(i int)) {
	t.Helper()
	do := func(method, url string, body []byte, hdr map[string]string, want int) *http.Response {
		t.Helper()
		if !strings.HasPrefix(url, "http") {
			url = "http://" + ts.Host + url
		}
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("vigil", ts.Token)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
		return resp
	}
	loc := do("POST", "/v2/"+repo+"/blobs/uploads/", nil, nil, http.StatusAccepted).Header.Get("Location")
	size := (len(data) + chunks - 1) / chunks
	for i := 0; i < chunks; i++ {
		from, to := i*size, min((i+1)*size, len(data))
		hdr := map[string]string{"Content-Type": "application/octet-stream"}
		if chunks > 1 {
			hdr["Content-Range"] = fmt.Sprintf("%d-%d", from, to-1)
		}
		loc = do("PATCH", loc, data[from:to], hdr, http.StatusAccepted).Header.Get("Location")
		if between != nil {
			between(i)
		}
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	do("PUT", loc+sep+"digest="+digest, nil, nil, http.StatusCreated)
}

// TestLayersAnalysedWhileStreaming: a layer uploaded in one PATCH is
// analysed as its bytes arrive, so its result is there before the
// client has even finished the upload with its PUT; a layer uploaded in
// chunks is analysed once complete, with the same result; a config blob
// is not analysed.
func TestLayersAnalysedWhileStreaming(t *testing.T) {
	ts := startServer(t, "", "vulndb/alpine-secdb")
	img := testenv.LayoutImage(t, "debian-bullseye-app")
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	a, err := analyze.New(catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	st := ts.srv.Store()
	ctx := context.Background()
	cached := func(diffID v1.Hash) bool {
		b, err := st.GetLayer(ctx, diffID.String()+"/"+a.Version())
		return err == nil && b != nil
	}
	blobRecord := func(digest v1.Hash) string {
		b, _ := st.GetLayer(ctx, "blob/"+digest.String()+"/"+a.Version())
		return string(b)
	}
	read := func(l v1.Layer) ([]byte, v1.Hash, v1.Hash) {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := l.Digest()
		diffID, _ := l.DiffID()
		return data, d, diffID
	}

	// The largest layer, in one PATCH: analysed before the PUT.
	data, digest, diffID := read(layers[0])
	ts.upload(t, "team/app", data, digest.String(), 1, func(int) {
		waitFor(t, func() bool { return cached(diffID) })
	})
	waitFor(t, func() bool { return blobRecord(digest) == diffID.String() })

	// Another layer in three chunks: the first chunk alone is no layer;
	// the complete blob is analysed after its PUT, by the warmer.
	data, digest, diffID = read(layers[len(layers)-1])
	ts.upload(t, "team/app", data, digest.String(), 3, func(i int) {
		if cached(diffID) {
			t.Errorf("chunk %d: the layer is analysed before it is complete", i)
		}
	})
	waitFor(t, func() bool { return cached(diffID) && blobRecord(digest) == diffID.String() })

	// The config is not a layer.
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigName()
	ts.upload(t, "team/app", raw, cfg.String(), 1, nil)
	if r := blobRecord(cfg); r != "" {
		t.Errorf("the config blob was analysed as a layer: %s", r)
	}

	// The image pushed whole now scans from the cached layers.
	pushed := ts.push(t, "debian-bullseye-app", "team/app:1")
	ts.waitScan(t, "team/app", pushed)
}
