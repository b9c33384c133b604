package worker

import (
	"context"
	"errors"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/store"
)

// recordFailure marks an image's scan failed when a scan job ended in an
// error that did not (a store write, say, rather than the image's
// content), so that the reason is in the API and the console and the image
// does not stay SCANNING with the reason only in the log.
func (w *Worker) recordFailure(ctx context.Context, job *store.Job, cause error) {
	if job.Kind != store.JobScan {
		return
	}
	im, err := w.Store.Image(ctx, job.Repository, job.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return // deleted meanwhile: nothing to mark
	}
	if err == nil && im.ScanStatus != store.ScanInProgress && im.ScanStatus != store.ScanPending {
		return // the scan recorded its own outcome
	}
	if err == nil {
		err = w.fail(ctx, job.Repository, job.Digest, events.ReasonInternal, "", cause)
		if errors.Is(err, cause) {
			return // recorded; fail returns the cause it records
		}
	}
	w.Log.Error("recording a failed scan failed", "job", job.ID, "repository", job.Repository, "digest", job.Digest, "err", err)
}
