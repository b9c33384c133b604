package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/catalog"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/testenv"
)

// fullDisk is the real store with one write failing, as a full disk makes
// it fail.
type fullDisk struct{ store.Store }

func (fullDisk) PutInventory(context.Context, string, []byte) error {
	return errors.New("store: put inventory: database or disk is full")
}

// layoutImages opens a built test image's layout for any digest asked.
type layoutImages struct{ dir string }

func (l layoutImages) Image(ctx context.Context, _, _ string) (*image.Image, error) {
	return image.Open(ctx, "oci:"+l.dir)
}

// TestFailureRecorded: a scan that fails on a store write, not on the
// image, still marks the image FAILED with the reason, rather than
// leaving it SCANNING with the reason only in the log.
func TestFailureRecorded(t *testing.T) {
	ctx := context.Background()
	real := openStore(t)
	st := fullDisk{real}
	digest := "sha256:ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	if err := real.RecordPush(ctx, store.Push{Repository: "team/app", Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Tag: "1.0", At: time.Now().UTC(), Job: &store.Job{Kind: store.JobScan, Repository: "team/app", Digest: digest}}); err != nil {
		t.Fatal(err)
	}
	a, err := analyze.New(catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(st, nil)
	w.Analyzer, w.Images = a, layoutImages{testenv.Image(t, "alpine-3.10.3")}
	job, err := real.ClaimJob(ctx, w.Owner, time.Minute)
	if err != nil || job == nil {
		t.Fatalf("claim: %v %v", job, err)
	}
	w.Do(ctx, job)
	im, err := real.Image(ctx, "team/app", digest)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status %s %s %q", im.ScanStatus, im.ScanReason, im.ScanMessage)
	if im.ScanStatus != store.ScanFailed || im.ScanReason != "INTERNAL_ERROR" || !strings.Contains(im.ScanMessage, "disk is full") {
		t.Errorf("after the failed scan: %s %s %q", im.ScanStatus, im.ScanReason, im.ScanMessage)
	}
	evs, err := real.Events(ctx, store.EventQuery{DetailType: "Inspector2 Coverage", Limit: 10})
	if err != nil || len(evs) == 0 || !strings.Contains(string(evs[len(evs)-1].Envelope), "INTERNAL_ERROR") {
		t.Errorf("no INACTIVE coverage event: %v %v", evs, err)
	}
}
