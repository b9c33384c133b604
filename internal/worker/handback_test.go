package worker_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
	"github.com/vigilsec/vigil/internal/worker"
)

// stalledImages is an image source whose every image takes until the
// scan is cancelled to open, like a large image still streaming in; it
// says which worker opened it.
type stalledImages struct {
	owner  string
	opened chan<- string
}

func (s stalledImages) Image(ctx context.Context, _, _ string) (*image.Image, error) {
	s.opened <- s.owner
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestStopHandsJobBack is the README's shutdown promise: a worker that
// stops (SIGTERM cancels its context) hands its running job back at once,
// and a second worker, in another process sharing the store, takes it
// within a second — not after the 30-second lease runs out.
func TestStopHandsJobBack(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "vigil.db")
	open := func() store.Store {
		st, err := sqlite.Open(ctx, file)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	// Two handles on one database, as two processes have.
	st1, st2 := open(), open()
	digest := "sha256:ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	if err := st1.RecordPush(ctx, store.Push{Repository: "team/app", Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Tag: "1.0", At: time.Now().UTC(), Job: &store.Job{Kind: store.JobScan, Repository: "team/app", Digest: digest}}); err != nil {
		t.Fatal(err)
	}
	opened := make(chan string, 4)
	start := func(st store.Store, owner string) (context.CancelFunc, <-chan error) {
		w := newWorker(st, nil)
		w.Owner, w.Lease, w.Poll = owner, 30*time.Second, 0 // the defaults of vigil serve and vigil worker
		w.Images = stalledImages{owner: owner, opened: opened}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		return cancel, done
	}
	stop1, done1 := start(st1, "first")
	select {
	case who := <-opened:
		if who != "first" {
			t.Fatalf("%s took the job, want first", who)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first worker never took the job")
	}
	stop2, done2 := start(st2, "second")
	defer func() {
		stop2()
		<-done2
	}()
	stop1()
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// The promise is a second; worker.DefaultPoll is what keeps it.
	const promise = time.Second
	select {
	case who := <-opened:
		if who != "second" {
			t.Fatalf("%s took the job, want second", who)
		}
		if d := time.Since(stopped); d > promise {
			t.Errorf("the second worker took the job %v after the first stopped, want within %v", d, promise)
		}
	case <-time.After(promise):
		running, _ := st2.Jobs(ctx, "running", 10)
		t.Fatalf("the second worker did not take the job within %v of the first stopping; running: %+v", promise, running)
	}
	if worker.DefaultPoll >= promise {
		t.Errorf("DefaultPoll %v cannot keep a %v promise", worker.DefaultPoll, promise)
	}
}
