package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestStorageParameters(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b")
	tests := []struct {
		name    string
		o       Options
		driver  string
		want    configuration.Parameters
		wantErr string
	}{
		{"none", Options{}, "", nil, "no storage"},
		{"both", Options{FilesystemRoot: root, S3: &S3Options{Bucket: "b"}}, "", nil, "both"},
		{"filesystem", Options{FilesystemRoot: root}, "filesystem", configuration.Parameters{"rootdirectory": root}, ""},
		{"s3 without bucket", Options{S3: &S3Options{Region: "eu-west-1"}}, "", nil, "bucket"},
		{"s3 without region or endpoint", Options{S3: &S3Options{Bucket: "b"}}, "", nil, "region"},
		{"aws", Options{S3: &S3Options{Bucket: "b", Region: "eu-west-1", Secure: true}}, "s3", configuration.Parameters{
			"bucket": "b", "region": "eu-west-1", "regionendpoint": "", "forcepathstyle": false, "secure": true, "rootdirectory": "",
		}, ""},
		{"compatible", Options{S3: &S3Options{Bucket: "b", Endpoint: "http://minio:9000", ForcePathStyle: true, AccessKey: "k", SecretKey: "s", RootDirectory: "/r"}}, "s3", configuration.Parameters{
			"bucket": "b", "region": "us-east-1", "regionendpoint": "http://minio:9000", "forcepathstyle": true, "secure": false,
			"rootdirectory": "/r", "accesskey": "k", "secretkey": "s",
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, driver, err := storageParameters(tc.o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if driver != tc.driver || len(p) != len(tc.want) {
				t.Fatalf("%s %v, want %s %v", driver, p, tc.driver, tc.want)
			}
			for k, v := range tc.want {
				if p[k] != v {
					t.Errorf("%s = %v, want %v", k, p[k], v)
				}
			}
		})
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Errorf("filesystem root not created: %v", err)
	}
}

func TestNewNeedsSecret(t *testing.T) {
	if _, err := New(context.Background(), Options{FilesystemRoot: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "Secret") {
		t.Errorf("New without a secret: %v", err)
	}
}

// TestUploadNeedsSecret checks that upload state signed by one secret is
// refused by a registry with another, and accepted by one sharing it.
func TestUploadNeedsSecret(t *testing.T) {
	root := t.TempDir()
	a := startRegistry(t, Options{FilesystemRoot: root, Secret: "one"})
	b := startRegistry(t, Options{FilesystemRoot: root, Secret: "two"})
	c := startRegistry(t, Options{FilesystemRoot: root, Secret: "one"})
	resp, body := a.do(t, "POST", "/v2/team/app/blobs/uploads/", pushToken, "", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload: %s %s", resp.Status, body)
	}
	loc := resp.Header.Get("Location")
	path := loc[strings.Index(loc, "/v2/"):]
	if resp, body := b.do(t, "PATCH", path, pushToken, "application/octet-stream", []byte("x")); resp.StatusCode == http.StatusAccepted {
		t.Errorf("a registry with another secret accepted the upload state: %s %s", resp.Status, body)
	}
	if resp, body := c.do(t, "PATCH", path, pushToken, "application/octet-stream", []byte("x")); resp.StatusCode != http.StatusAccepted {
		t.Errorf("a registry sharing the secret: %s %s, want 202", resp.Status, body)
	}
}

// TestLibraryLog checks that the library's errors reach the slog logger
// without the upload state in the query string.
func TestLibraryLog(t *testing.T) {
	var buf bytes.Buffer
	var mu syncWriter
	mu.w = &buf
	tr := startRegistry(t, Options{Logger: slog.New(slog.NewJSONHandler(&mu, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	resp, _ := tr.do(t, "PATCH", "/v2/team/app/blobs/uploads/6b3d5a2f-0000-4000-8000-000000000000?_state=SECRETSTATE", pushToken, "", []byte("x"))
	if resp.StatusCode < 400 {
		t.Fatalf("bogus upload: %s", resp.Status)
	}
	routeLibraryLogs(nil) // stop logging into buf before reading it
	out := mu.String()
	if !strings.Contains(out, `"http.request.uri":"/v2/team/app/blobs/uploads/6b3d5a2f`) {
		t.Errorf("the library's error was not logged with its path:\n%s", out)
	}
	if strings.Contains(out, "SECRETSTATE") || strings.Contains(out, pushToken) {
		t.Errorf("the log holds the query string or credentials:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		// A client's mistake (a 4xx answer) is logged at debug level;
		// anything else the library says is at least a warning.
		st, _ := rec["http.response.status"].(string)
		clientError := strings.HasPrefix(st, "4") && len(st) == 3
		switch {
		case rec["level"] == "INFO", rec["level"] == "DEBUG" && !clientError:
			t.Errorf("below warn: %s", line)
		case clientError && rec["level"] != "DEBUG":
			t.Errorf("a client error logged above debug: %s", line)
		}
	}
}

// An artifact that is not a container image is pushed and reported, but
// is not an image to scan.
func TestArtifact(t *testing.T) {
	rec := &recorder{}
	tr := startRegistry(t, rec.options())
	const helm = "application/vnd.cncf.helm.config.v1+json"
	art := mutate.ConfigMediaType(empty.Image, helm)
	if err := remote.Write(tr.ref(t, "team/chart:1"), art, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	if len(rec.calls().pushes) != 1 {
		t.Fatalf("OnPush called %d times", len(rec.calls().pushes))
	}
	p := rec.calls().pushes[0]
	if p.ArtifactType != helm || p.Platform != "" || p.ConfigDigest == "" || len(p.Layers) != 0 {
		t.Errorf("OnPush got %+v", p)
	}
	if _, err := tr.Image(context.Background(), "team/chart", p.Digest); err == nil || !strings.Contains(err.Error(), "not a container image") {
		t.Errorf("Image of an artifact: %v", err)
	}
}
