package registry

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fakeS3 serves an in-memory S3 API (gofakes3) with one bucket.
func fakeS3(t *testing.T, bucket string) (*httptest.Server, *s3mem.Backend) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return srv, backend
}

func TestS3(t *testing.T) {
	s3srv, backend := fakeS3(t, "vigil")
	s3 := &S3Options{
		Bucket: "vigil", Region: "us-east-1", Endpoint: s3srv.URL, ForcePathStyle: true,
		AccessKey: "AKIDTEST", SecretKey: "secret", RootDirectory: "/registry",
	}
	rec := &recorder{}
	o := rec.options()
	o.S3 = s3
	tr := startRegistry(t, o)
	img, dir := layoutImage(t, "alpine-3.20.3")
	ref := tr.ref(t, "team/app:1")
	if err := remote.Write(ref, img, remoteOpts(pushToken)...); err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, ref, img, dir)
	checkImage(t, tr.Registry, "team/app", img)
	if len(rec.calls().pushes) != 1 || !equalPushed(rec.calls().pushes[0], wantPushed(t, img, "team/app", "1")) {
		t.Errorf("OnPush got %+v", rec.calls().pushes)
	}

	// The blobs are in the bucket, under the root directory.
	objs, err := backend.ListBucket("vigil", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	layers, _ := img.Layers()
	want, _ := layers[0].Digest()
	found := false
	for _, o := range objs.Contents {
		n++
		if !strings.HasPrefix(o.Key, "registry/") {
			t.Errorf("object %s outside the root directory", o.Key)
		}
		if strings.HasSuffix(o.Key, "/blobs/sha256/"+want.Hex[:2]+"/"+want.Hex+"/data") {
			found = true
		}
	}
	if n == 0 || !found {
		t.Errorf("bucket holds %d objects, layer %s found: %v", n, want, found)
	}

	// A second process sharing the bucket and secret sees the image.
	o2 := Options{S3: s3, Secret: "test-secret"}
	tr2 := startRegistry(t, o2)
	checkRoundTrip(t, tr2.ref(t, "team/app:1"), img, dir)
}

func TestS3Unreachable(t *testing.T) {
	s3srv, _ := fakeS3(t, "vigil")
	_, err := New(context.Background(), Options{Secret: "s", S3: &S3Options{
		Bucket: "missing", Endpoint: s3srv.URL, ForcePathStyle: true, AccessKey: "a", SecretKey: "b",
	}})
	if err == nil || !strings.Contains(err.Error(), "registry: s3 storage") {
		t.Errorf("New with a missing bucket: %v, want an error at startup", err)
	}
}
