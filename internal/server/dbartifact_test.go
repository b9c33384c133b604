package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vigilsec/vigil/internal/dbartifact"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// dbFeeds are the real feeds the database artifact tests build from.
// (EPSS, 360,000 rows, is left to the vulndb package's partition test,
// which reads a part of it.)
var dbFeeds = []string{"vulndb/osv/Go/all.zip", "vulndb/osv/crates.io/all.zip", "vulndb/kev", "vulndb/nvd", "vulndb/alpine-secdb"}

// waitPublished waits until the server's vigil/db:latest is the version
// of the database in dbDir, and returns that version.
func (ts *testServer) waitPublished(t *testing.T, dbDir string) string {
	t.Helper()
	db, err := vulndb.Open(context.Background(), filepath.Join(dbDir, "vulndb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	want := db.Version()
	db.Close()
	ref, err := name.ParseReference(ts.Host+"/"+dbartifact.Repository+":latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		desc, err := remote.Get(ref, ts.remoteAuth())
		if err == nil && strings.Contains(string(desc.Manifest), `"`+dbartifact.AnnotationVersion+`":"`+want+`"`) {
			return want
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("vigil/db:latest never became version %s", want)
	return ""
}

func (ts *testServer) remoteAuth() remote.Option {
	return remote.WithAuth(&authn.Basic{Username: "vigil", Password: ts.Token})
}

func pullInto(t *testing.T, dir *vulndb.Dir, ref string, opts ...remote.Option) (*dbartifact.Pulled, error) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return dbartifact.Pull(context.Background(), dir, r, dbartifact.PullOptions{Remote: opts})
}

// sameContent checks that two databases export to the same partitions
// and snapshot: the same rows, digest for digest.
func sameContent(t *testing.T, got, want string) {
	t.Helper()
	ctx := context.Background()
	a, err := vulndb.ExportPartitions(ctx, got, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := vulndb.ExportPartitions(ctx, want, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Partitions) != len(b.Partitions) {
		t.Fatalf("%d partitions pulled, the server has %d", len(a.Partitions), len(b.Partitions))
	}
	for i := range a.Partitions {
		if a.Partitions[i] != b.Partitions[i] {
			t.Errorf("partition pulled %+v, the server's %+v", a.Partitions[i], b.Partitions[i])
		}
	}
	if a.Snapshot.Version != b.Snapshot.Version || a.Snapshot.Digest != b.Snapshot.Digest || len(a.Snapshot.Sources) != len(b.Snapshot.Sources) {
		t.Errorf("snapshot pulled %+v, the server's %+v", a.Snapshot, b.Snapshot)
	}
}

// rewriteZip copies an OSV all.zip without one record.
func rewriteZip(t *testing.T, from, to, drop string) {
	t.Helper()
	zr, err := zip.OpenReader(from)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	os.MkdirAll(filepath.Dir(to), 0o755)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	found := false
	for _, e := range zr.File {
		if e.Name == drop {
			found = true
			continue
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: e.Modified})
		r, _ := e.Open()
		io.Copy(w, r)
		r.Close()
	}
	zw.Close()
	if !found {
		t.Fatalf("%s has no %s", from, drop)
	}
	if err := os.WriteFile(to, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDBPull: the server publishes its database as vigil/db; a client
// pulls it in full, then, after one feed changed on the server, only the
// changed partition, and holds a database identical in content to the
// server's. A mirror in another registry (go-containerregistry's)
// serves the same artifact; a blob whose content is not its digest is
// refused, naming it, and leaves the database held usable. Neither the
// artifact nor its mirror is listed or scanned as an image.
func TestDBPull(t *testing.T) {
	ctx := context.Background()
	dbDir := t.TempDir()
	importFeeds(t, dbDir, dbFeeds...)
	ts := startServer(t, dbDir)
	defer ts.stop()
	v1 := ts.waitPublished(t, dbDir)
	serverDB := filepath.Join(dbDir, "vulndb.sqlite")
	latest := ts.Host + "/" + dbartifact.Repository + ":latest"

	// Auth: the token is needed to read it.
	client, err := vulndb.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pullInto(t, client, latest); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("pull without a token: %v", err)
	}

	full, err := pullInto(t, client, latest, ts.remoteAuth())
	if err != nil {
		t.Fatal(err)
	}
	if full.Version != v1 || full.Delta || full.Fetched != full.Partitions || full.Partitions < 4 {
		t.Errorf("full pull: %+v", full)
	}
	sameContent(t, client.DatabasePath(), serverDB)
	again, err := pullInto(t, client, latest, ts.remoteAuth())
	if err != nil || !again.Unchanged || again.Fetched != 0 {
		t.Errorf("pulling the version held: %+v, %v", again, err)
	}

	// A plain registry holding a copy (as a site mirrors it).
	mirror := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer mirror.Close()
	mirrorHost := strings.TrimPrefix(mirror.URL, "http://")
	if err := crane.Copy(latest, mirrorHost+"/security/vigil-db:latest", crane.Insecure,
		crane.WithAuth(&authn.Basic{Username: "vigil", Password: ts.Token})); err != nil {
		t.Fatal(err)
	}
	fromMirror, err := vulndb.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pullInto(t, fromMirror, mirrorHost+"/security/vigil-db:latest"); err != nil {
		t.Fatal(err)
	}
	sameContent(t, fromMirror.DatabasePath(), serverDB)

	// One feed changes on the server: the Go database loses a record.
	changed := filepath.Join(t.TempDir(), "osv", "Go", "all.zip")
	rewriteZip(t, testenv.Shared(t, "vulndb/osv/Go/all.zip"), changed, "GO-2022-0646.json")
	d, err := vulndb.NewDir(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Import(ctx, []string{changed}, time.Now()); err != nil {
		t.Fatal(err)
	}
	v2 := ts.waitPublished(t, dbDir)
	if v2 == v1 {
		t.Fatal("the version did not change")
	}

	// The mirror is refreshed, through a proxy that corrupts the one
	// blob that changed: the pull is refused, naming it, and the
	// database held stays version 1 and usable.
	if err := crane.Copy(latest, mirrorHost+"/security/vigil-db:latest", crane.Insecure,
		crane.WithAuth(&authn.Basic{Username: "vigil", Password: ts.Token})); err != nil {
		t.Fatal(err)
	}
	var goBlob string
	{
		desc, err := remote.Get(mustRef(t, latest), ts.remoteAuth())
		if err != nil {
			t.Fatal(err)
		}
		m, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		mf, err := m.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range mf.Layers {
			if l.Annotations[dbartifact.AnnotationPartition] == "advisories/osv/Go" {
				goBlob = l.Digest.String()
			}
		}
	}
	if goBlob == "" {
		t.Fatal("no Go partition in the manifest")
	}
	corrupt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		r.URL.Host, r.URL.Scheme = mirrorHost, "http"
		ggcrServe(mirror, rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		body := rec.Body.Bytes()
		if strings.HasSuffix(r.URL.Path, "/blobs/"+goBlob) && r.Method == http.MethodGet && len(body) > 100 {
			body = bytes.Clone(body)
			body[100] ^= 0xff
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer corrupt.Close()
	corruptHost := strings.TrimPrefix(corrupt.URL, "http://")
	_, err = pullInto(t, client, corruptHost+"/security/vigil-db:latest")
	if err == nil || !strings.Contains(err.Error(), goBlob) || !strings.Contains(err.Error(), "advisories/osv/Go") {
		t.Fatalf("a corrupted blob: %v; want an error naming %s and its partition", err, goBlob)
	}
	t.Logf("refused: %v", err)
	held, err := vulndb.Open(ctx, client.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	if held.Version() != v1 {
		t.Errorf("after a failed pull the database held is %s, want %s", held.Version(), v1)
	}
	if advs, err := held.Affecting(ctx, "Go", "golang.org/x/net"); err != nil || len(advs) == 0 {
		t.Errorf("the database held after a failed pull: %d advisories, %v", len(advs), err)
	}
	held.Close()
	if leftovers, _ := filepath.Glob(filepath.Join(client.Root(), ".*")); len(leftovers) != 0 {
		t.Errorf("a failed pull left %v", leftovers)
	}

	// The delta, from the server.
	delta, err := pullInto(t, client, latest, ts.remoteAuth())
	if err != nil {
		t.Fatal(err)
	}
	if delta.Version != v2 || !delta.Delta || delta.Held != v1 || delta.Fetched != 1 || delta.Bytes >= full.Bytes {
		t.Errorf("delta pull: %+v (full read %d bytes)", delta, full.Bytes)
	}
	t.Logf("full pull %d bytes, %d partitions; delta %d bytes, %d partition", full.Bytes, full.Partitions, delta.Bytes, delta.Fetched)
	sameContent(t, client.DatabasePath(), serverDB)
	db, err := vulndb.Open(ctx, client.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	if a, err := db.Advisory(ctx, "GO-2022-0646"); err != nil || a != nil {
		t.Errorf("GO-2022-0646, gone from the feed, is still held: %v %v", a, err)
	}
	in, err := db.Installed(ctx)
	db.Close()
	if err != nil || in == nil || in.Reference != mustRef(t, latest).String() || in.Version != v2 {
		t.Errorf("installed: %+v, %v", in, err)
	}

	// Pushed over HTTP into Vigil (a mirror into another server), the
	// artifact is kept but not recorded as an image.
	if err := crane.Copy(latest, ts.Host+"/mirror/vigil-db:1", crane.Insecure,
		crane.WithAuth(&authn.Basic{Username: "vigil", Password: ts.Token})); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/images?maxResults=1000", "/api/v1/repositories"} {
		var raw map[string]any
		if code := ts.api(t, "GET", path, nil, &raw); code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		if s := strings.TrimSpace(fmtJSON(raw)); strings.Contains(s, "vigil/db") || strings.Contains(s, "mirror/vigil-db") {
			t.Errorf("GET %s lists the database artifact: %s", path, s)
		}
	}
	if st, err := ts.srv.Store().Image(ctx, "mirror/vigil-db", full.Manifest); err == nil {
		t.Errorf("the mirrored artifact was recorded as an image: %+v", st)
	}
	// and it is pulled from there like any other copy.
	fromVigilMirror, err := vulndb.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := pullInto(t, fromVigilMirror, ts.Host+"/mirror/vigil-db:1", ts.remoteAuth()); err != nil || p.Version != v2 {
		t.Fatalf("pull from the copy in Vigil: %+v, %v", p, err)
	}
	sameContent(t, fromVigilMirror.DatabasePath(), serverDB)

	// A pipeline token may push images, not the database.
	var tok struct {
		Secret string `json:"secret"`
	}
	if code := ts.api(t, "POST", "/api/v1/tokens", map[string]string{"name": "ci", "role": "pipeline"}, &tok); code != 201 || tok.Secret == "" {
		t.Fatalf("creating a pipeline token: %d", code)
	}
	err = crane.Copy(mirrorHost+"/security/vigil-db:latest", ts.Host+"/vigil/db:evil", crane.Insecure,
		crane.WithAuth(&authn.Basic{Username: "vigil", Password: tok.Secret}))
	if err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("a pipeline token pushing to vigil/db: %v", err)
	}
	if err := crane.Copy(mirrorHost+"/security/vigil-db:latest", ts.Host+"/team/vigil-db:latest", crane.Insecure,
		crane.WithAuth(&authn.Basic{Username: "vigil", Password: tok.Secret})); err != nil {
		t.Errorf("a pipeline token pushing elsewhere: %v", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ggcrServe forwards a request to the mirror registry.
func ggcrServe(mirror *httptest.Server, w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, mirror.URL+r.URL.RequestURI(), r.Body)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
