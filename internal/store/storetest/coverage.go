package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/vigilsec/vigil/internal/store"
)

func testImageCoverage(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	push(t, s, "team/cov", dig("c1"), "latest", base)

	if _, err := s.ImageCoverage(ctx, "team/cov", dig("c1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("before any scan: %v, want ErrNotFound", err)
	}
	if err := s.PutImageCoverage(ctx, store.ImageCoverage{Repository: "team/cov", Digest: dig("c9"), Reason: "SUCCESSFUL"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("coverage of an image not stored: %v, want ErrNotFound", err)
	}
	if err := s.PutImageCoverage(ctx, store.ImageCoverage{Repository: "team/cov", Digest: dig("c1"), Coverage: json.RawMessage("{")}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("malformed coverage: %v, want ErrInvalid", err)
	}

	cov := json.RawMessage(`{"full":false,"reason":"UNSUPPORTED_OS"}`)
	warn := json.RawMessage(`[{"layer":0,"path":"var/lib/dpkg/status","message":"too large","incomplete":"dpkg"}]`)
	must(t, s.PutImageCoverage(ctx, store.ImageCoverage{Repository: "team/cov", Digest: dig("c1"), Reason: "UNSUPPORTED_OS", Coverage: cov, Warnings: warn, UpdatedAt: base}))
	got, err := s.ImageCoverage(ctx, "team/cov", dig("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != "UNSUPPORTED_OS" || !jsonEqual(got.Coverage, cov) || !jsonEqual(got.Warnings, warn) || !got.UpdatedAt.Equal(base) {
		t.Errorf("read back %+v", got)
	}

	// A later scan replaces the record.
	must(t, s.PutImageCoverage(ctx, store.ImageCoverage{Repository: "team/cov", Digest: dig("c1"), Reason: "SUCCESSFUL", Coverage: json.RawMessage(`{"full":true}`), UpdatedAt: base.Add(1)}))
	got, err = s.ImageCoverage(ctx, "team/cov", dig("c1"))
	if err != nil || got.Reason != "SUCCESSFUL" || !jsonEqual(got.Warnings, json.RawMessage("[]")) {
		t.Errorf("after the rescan: %v %+v", err, got)
	}

	// It goes with its image.
	must(t, s.RecordDelete(ctx, "team/cov", dig("c1"), base.Add(2), nil))
	if _, err := s.ImageCoverage(ctx, "team/cov", dig("c1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the image's deletion: %v, want ErrNotFound", err)
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(ax) == string(by)
}
