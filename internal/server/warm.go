package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"sync"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/worker"
)

// warmer analyses layer blobs as their uploads complete, before the
// manifest that names them arrives, so that the scan a push starts finds
// every layer's result in the layer cache and only has to match. Clients
// upload layers first and the manifest last, so by the time a push is
// acknowledged most of the analysis is done.
//
// It is a cache warmer and nothing more: what it has queued is lost with
// the process, and the scan then analyses those layers itself. A blob
// already analysed (in any process sharing the store) is recognised by a
// small record from blob digest to diff-id, and not read again.
type warmer struct {
	analyzer *analyze.Analyzer
	blobs    blobOpener
	store    store.Store
	log      *slog.Logger

	queue chan blobRef
	mu    sync.Mutex
	// pending holds a channel per blob queued or being analysed, closed
	// when it is done.
	pending map[string]chan struct{}
}

type blobOpener interface {
	Blob(ctx context.Context, repository, digest string) (io.ReadCloser, int64, error)
}

type blobRef struct{ repository, digest string }

// warmQueue bounds the blobs waiting: beyond it, uploads are not
// pre-analysed (their scans analyse them).
const warmQueue = 256

func newWarmer(a *analyze.Analyzer, blobs blobOpener, st store.Store, log *slog.Logger) *warmer {
	return &warmer{analyzer: a, blobs: blobs, store: st, log: log,
		queue: make(chan blobRef, warmQueue), pending: map[string]chan struct{}{}}
}

// notify is the registry's OnBlob: it queues the blob and never blocks.
func (w *warmer) notify(repository, digest string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pending[digest]; ok {
		return
	}
	select {
	case w.queue <- blobRef{repository, digest}:
		w.pending[digest] = make(chan struct{})
	default:
	}
}

// Run analyses queued blobs, two at a time, until ctx is done.
func (w *warmer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case b := <-w.queue:
					w.analyse(ctx, b)
					w.mu.Lock()
					close(w.pending[b.digest])
					delete(w.pending, b.digest)
					w.mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

// wait returns when none of the blobs is queued or being analysed.
func (w *warmer) wait(ctx context.Context, digests []string) {
	for _, d := range digests {
		w.mu.Lock()
		ch := w.pending[d]
		w.mu.Unlock()
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

func (w *warmer) blobKey(digest string) string {
	return "blob/" + digest + "/" + w.analyzer.Version()
}

// prefixKey names the record from the hash of a blob's first prefixLen
// bytes to its digest (see streamer).
func (w *warmer) prefixKey(hexSum string) string {
	return "prefix/sha256:" + hexSum + "/" + w.analyzer.Version()
}

// known reports a blob whose layer result is in the cache. The entry is
// not read: reading the result of a layer of 25,000 packages only to
// learn that it is there would take as much memory as the scan that reads
// it next.
func (w *warmer) known(ctx context.Context, digest string) bool {
	diffID, err := w.store.GetLayer(ctx, w.blobKey(digest))
	if err != nil || diffID == nil {
		return false
	}
	ok, err := (worker.LayerCache{Store: w.store}).Has(ctx, string(diffID)+"/"+w.analyzer.Version())
	return err == nil && ok
}

// record notes that the blob digest is the layer diffID, and, when the
// blob is long enough to have one, its prefix.
func (w *warmer) record(ctx context.Context, digest, diffID, prefix string) {
	if err := w.store.PutLayer(ctx, w.blobKey(digest), []byte(diffID)); err != nil {
		w.log.Debug("recording an analysed blob", "digest", digest, "err", err)
	}
	if prefix != "" {
		if err := w.store.PutLayer(ctx, prefix, []byte(digest)); err != nil {
			w.log.Debug("recording an analysed blob's prefix", "digest", digest, "err", err)
		}
	}
}

// blobPrefix returns the prefix key of a stored blob, "" when it is
// shorter than prefixLen or cannot be read.
func (w *warmer) blobPrefix(ctx context.Context, b blobRef) string {
	rc, _, err := w.blobs.Blob(ctx, b.repository, b.digest)
	if err != nil {
		return ""
	}
	defer rc.Close()
	h := sha256.New()
	if n, err := io.CopyN(h, rc, prefixLen); err != nil || n < prefixLen {
		return ""
	}
	return w.prefixKey(hex.EncodeToString(h.Sum(nil)))
}

func (w *warmer) analyse(ctx context.Context, b blobRef) {
	if w.known(ctx, b.digest) {
		return
	}
	if !w.isLayer(ctx, b) {
		return
	}
	l := image.NewLayer(image.Layer{Digest: b.digest, Size: -1}, func(ctx context.Context) (io.ReadCloser, error) {
		rc, _, err := w.blobs.Blob(ctx, b.repository, b.digest)
		return rc, err
	})
	r, _, err := w.analyzer.AnalyzeLayer(ctx, l)
	if err != nil {
		// Not fatal to anything: the scan reads the layer itself and
		// reports what is wrong with it, against its image.
		w.log.Debug("pre-analysing an uploaded blob failed", "repository", b.repository, "digest", b.digest, "err", err)
		return
	}
	w.record(ctx, b.digest, r.DiffID, w.blobPrefix(ctx, b))
}

// isLayer sniffs a blob: gzip, zstd or a tar stream may be a layer;
// anything else (an image config, a signature) is not read further.
func (w *warmer) isLayer(ctx context.Context, b blobRef) bool {
	rc, _, err := w.blobs.Blob(ctx, b.repository, b.digest)
	if err != nil {
		return false
	}
	defer rc.Close()
	head, _ := bufio.NewReaderSize(rc, 512).Peek(512)
	return layerLike(head)
}

// warmImages opens images for the workers, first waiting for the
// pre-analysis of their layers in this process, so that a scan does not
// read a layer that is being read already.
type warmImages struct {
	images worker.Images
	warm   *warmer
}

func (w warmImages) Image(ctx context.Context, repository, digest string) (*image.Image, error) {
	img, err := w.images.Image(ctx, repository, digest)
	if err != nil {
		return nil, err
	}
	digests := make([]string, 0, len(img.Layers))
	for _, l := range img.Layers {
		digests = append(digests, l.Digest)
	}
	w.warm.wait(ctx, digests)
	return img, nil
}
