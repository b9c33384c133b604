package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vigilsec/vigil/internal/image"
)

// streamer analyses a layer while its upload streams in, so that the
// analysis (decompressing the layer is most of it) overlaps the upload
// instead of following it. It reads a copy of what the registry reads
// from a PATCH that starts an upload; when the registry accepts the
// chunk, the bytes seen have a digest, and the blob of that digest is
// marked as being analysed, so that the warmer and the scans wait for this
// analysis rather than read the blob again. Results are keyed by content
// (the diff-id the analysis computes, the digest of the bytes seen), so a
// stream that turns out not to be the whole blob, or not a layer, leaves
// nothing wrong behind.
//
// Memory is bounded: at most streamSlots analyses at once (further
// uploads are analysed by the warmer when complete), each with at most
// streamBuffer bytes in flight; a faster upload waits for its analysis.
type streamer struct {
	warm  *warmer
	slots chan struct{}
	// streamed counts the analyses that completed from a stream.
	streamed atomic.Int64
}

const (
	streamSlots = 4
	// streamBuffer is how far an upload may run ahead of its analysis.
	streamBuffer = 4 << 20
	streamChunk  = 32 << 10
)

var uploadPath = regexp.MustCompile(`^/v2/.+/blobs/uploads/[^/]+$`)

func newStreamer(w *warmer) *streamer {
	return &streamer{warm: w, slots: make(chan struct{}, streamSlots)}
}

// wrap tees the first chunk of every blob upload to an analysis.
func (st *streamer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch || !uploadPath.MatchString(r.URL.Path) || !firstChunk(r) {
			next.ServeHTTP(w, r)
			return
		}
		s := &stream{st: st, ctx: context.WithoutCancel(r.Context()), body: r.Body, hash: sha256.New(), prefix: sha256.New()}
		r.Body = s
		// Whatever happens in the registry, the analysis sees the end of
		// its input.
		defer s.end(0)
		next.ServeHTTP(&acceptWriter{ResponseWriter: w, s: s}, r)
	})
}

// firstChunk reports a PATCH that writes an upload from its start: one
// without a Content-Range (a streamed upload) or with one from 0.
func firstChunk(r *http.Request) bool {
	cr := r.Header.Get("Content-Range")
	return cr == "" || strings.HasPrefix(strings.TrimPrefix(cr, "bytes "), "0-")
}

// stream is one upload's copy to its analysis.
type stream struct {
	st   *streamer
	ctx  context.Context
	body io.ReadCloser
	hash hash.Hash

	started, off bool // off: the stream is not analysed (no slot, not a layer, known)
	chunks       chan []byte
	closed       bool          // chunks is closed
	done         chan struct{} // closed when the analysis returns
	diffID       string        // set before done is closed, if it succeeded
	endOnce      sync.Once

	// prefix hashes the first prefixLen bytes, to recognise a blob that
	// is uploaded again (into another repository, say) before its end.
	prefix  hash.Hash
	seen    int64
	prefixd string // the prefix's key, once complete
}

// prefixLen is how much of a blob names it for the known-blob check.
const prefixLen = 1 << 20

// Read passes the registry's read through and sends a copy on.
func (s *stream) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if n > 0 && !s.off {
		if !s.started {
			s.start()
		}
		if !s.off {
			s.hash.Write(p[:n])
			s.checkPrefix(p[:n])
		}
		if !s.off {
			s.send(p[:n])
		}
	}
	return n, err
}

// send copies b to the analysis in pieces of at most streamChunk bytes,
// so that the channel's capacity bounds the bytes in flight whatever the
// size of the registry's reads.
func (s *stream) send(b []byte) {
	for len(b) > 0 && !s.off {
		n := min(len(b), streamChunk)
		select {
		case s.chunks <- append([]byte(nil), b[:n]...):
		case <-s.done:
			s.off = true // the analysis stopped early: not a layer, or bad
		}
		b = b[n:]
	}
}

// checkPrefix hashes the start of the blob and, once prefixLen bytes are
// in, looks the prefix up: a blob that starts like one already analysed
// is most likely that blob again, and the stream is turned off so that
// the upload runs at full speed. Should it be another blob after all, its
// digest is not known and the warmer analyses it once it is complete.
func (s *stream) checkPrefix(b []byte) {
	if s.prefixd != "" {
		return
	}
	take := min(int64(len(b)), prefixLen-s.seen)
	s.prefix.Write(b[:take])
	s.seen += take
	if s.seen < prefixLen {
		return
	}
	w := s.st.warm
	s.prefixd = w.prefixKey(hex.EncodeToString(s.prefix.Sum(nil)))
	if digest, err := w.store.GetLayer(s.ctx, s.prefixd); err == nil && digest != nil && w.known(s.ctx, string(digest)) {
		s.off = true
		s.closeChunks() // the analysis ends at once
	}
}

func (s *stream) closeChunks() {
	if s.chunks != nil && !s.closed {
		s.closed = true
		close(s.chunks)
	}
}

func (s *stream) Close() error { return s.body.Close() }

// start takes an analysis slot, or turns the stream off when none is
// free; it runs on the first bytes read, so a request the registry
// refuses before reading its body costs nothing.
func (s *stream) start() {
	s.started = true
	select {
	case s.st.slots <- struct{}{}:
	default:
		s.off = true
		return
	}
	s.chunks = make(chan []byte, streamBuffer/streamChunk)
	s.done = make(chan struct{})
	go s.analyse()
}

func (s *stream) analyse() {
	defer func() { <-s.st.slots }()
	defer close(s.done)
	src := bufio.NewReaderSize(&chanReader{ch: s.chunks}, 64<<10)
	head, _ := src.Peek(512)
	if !layerLike(head) {
		return // an image config, a signature: nothing to analyse
	}
	once := false
	l := image.NewLayer(image.Layer{Size: -1}, func(context.Context) (io.ReadCloser, error) {
		if once {
			return nil, errStreamUsed
		}
		once = true
		return io.NopCloser(src), nil
	})
	r, _, err := s.st.warm.analyzer.AnalyzeLayer(s.ctx, l)
	if err != nil {
		s.st.warm.log.Debug("analysing an upload as it streamed in failed", "err", err)
		return
	}
	s.diffID = r.DiffID
	s.st.streamed.Add(1)
}

var errStreamUsed = errors.New("server: an upload stream can be read once")

// end is called when the registry answers the PATCH (code is its status)
// and again when the handler returns (code 0). Once the registry has
// accepted the chunk, every byte of it has been read, so the digest of
// what was seen names the blob if the chunk is the whole upload; that
// blob is marked as being analysed until the analysis is done.
func (s *stream) end(code int) {
	s.endOnce.Do(func() {
		s.closeChunks()
		if !s.started || s.off || code != http.StatusAccepted {
			return
		}
		digest := "sha256:" + hex.EncodeToString(s.hash.Sum(nil))
		w := s.st.warm
		w.mu.Lock()
		if _, busy := w.pending[digest]; busy {
			w.mu.Unlock()
			return
		}
		ch := make(chan struct{})
		w.pending[digest] = ch
		w.mu.Unlock()
		go func() {
			<-s.done
			if s.diffID != "" {
				w.record(s.ctx, digest, s.diffID, s.prefixd)
			}
			w.mu.Lock()
			close(ch)
			delete(w.pending, digest)
			w.mu.Unlock()
		}()
	})
}

// layerLike sniffs the start of a blob: gzip, zstd or a tar stream may be
// a layer.
func layerLike(head []byte) bool {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}), bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return true
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return true
	}
	return false
}

// chanReader reads the chunks of a channel until it is closed.
type chanReader struct {
	ch  <-chan []byte
	cur []byte
}

func (c *chanReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		b, ok := <-c.ch
		if !ok {
			return 0, io.EOF
		}
		c.cur = b
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// acceptWriter tells the stream the registry's answer before the client
// can see it, so that the blob is marked before the upload's final PUT.
type acceptWriter struct {
	http.ResponseWriter
	s *stream
}

func (a *acceptWriter) WriteHeader(code int) {
	a.s.end(code)
	a.ResponseWriter.WriteHeader(code)
}

func (a *acceptWriter) Write(b []byte) (int, error) {
	a.s.end(http.StatusOK)
	return a.ResponseWriter.Write(b)
}

func (a *acceptWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
