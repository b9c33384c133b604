package server_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/store"
)

// TestExpiryTimer: an image whose rescan duration ran out goes INACTIVE
// on the server's own timer, with no database present to change.
func TestExpiryTimer(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Config{
		Addr: ln.Addr().String(), DataDir: t.TempDir(), Workers: 1, DBDir: t.TempDir(),
		ExpiryCheck: 100 * time.Millisecond, NoAuth: true, Log: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Store()
	const repo, digest = "team/old", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	pushed := time.Now().UTC().Add(-20 * 24 * time.Hour)
	if err := st.RecordPush(ctx, store.Push{Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json", Tag: "1", At: pushed}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateImage(ctx, store.ImageUpdate{Repository: repo, Digest: digest, ScanStatus: store.ScanComplete, ScanReason: events.ReasonSuccessful, ScannedAt: pushed}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRescanDuration(ctx, repo, "DAYS_14", "PUSH"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx, ln) }()
	defer stopServer(t, cancel, done, srv)
	deadline := time.Now().Add(30 * time.Second)
	for {
		im, err := st.Image(ctx, repo, digest)
		if err != nil {
			t.Fatal(err)
		}
		if im.ScanStatus == store.ScanInactive {
			if im.ScanReason != events.ReasonExpired {
				t.Errorf("reason %s, want %s", im.ScanReason, events.ReasonExpired)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("image still %s %s, want INACTIVE", im.ScanStatus, im.ScanReason)
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs, err := st.Events(ctx, store.EventQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		found = found || (e.DetailType == events.InspectorCoverage && strings.Contains(string(e.Envelope), `"`+events.ReasonExpired+`"`))
	}
	if !found {
		t.Error("no Coverage event for the expired image")
	}
}
