package worker

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/store"
)

// LayerCache keeps analysed layers in the store, gzipped, so that every
// process sharing the store reuses them.
//
// An entry is written as it is encoded, in chunks of layerChunk bytes
// stored under keys of their own ("KEY#0", "KEY#1"…), and then a small
// head under KEY that counts them and holds their digest. Neither side
// ever holds the whole entry (a layer of a million paths makes one of
// tens of megabytes): memory is one chunk, in this process and in the
// database. Readers see an entry only once its head is there, and one
// whose chunks do not match the head (a crash between two writes of the
// same key) reads as absent.
//
// A result read back keeps its large path sets in a temporary file in
// TempDir (the system's when empty), not in memory.
type LayerCache struct {
	Store   store.Store
	TempDir string
}

var _ analyze.Cache = LayerCache{}

// layerChunk is the size of the chunks an entry is stored in.
const layerChunk = 1 << 20

// layerHead marks a head; what follows it is layerHeadFields as JSON.
const layerHead = "vigil layer chunks\n"

type layerHeadFields struct {
	Chunks int    `json:"chunks"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func chunkKey(key string, i int) string { return key + "#" + strconv.Itoa(i) }

// Get implements analyze.Cache; an entry that cannot be read counts as
// absent.
func (c LayerCache) Get(ctx context.Context, key string) (*analyze.LayerResult, error) {
	data, err := c.Store.GetLayer(ctx, key)
	if err != nil || data == nil {
		return nil, err
	}
	var src io.Reader
	var chunks *chunkReader
	switch {
	case bytes.HasPrefix(data, []byte(layerHead)):
		var h layerHeadFields
		if json.Unmarshal(data[len(layerHead):], &h) != nil || h.Chunks < 0 {
			return nil, nil
		}
		chunks = &chunkReader{ctx: ctx, store: c.Store, key: key, head: h, sum: sha256.New()}
		src = chunks
	default:
		// An entry stored whole.
		src = bytes.NewReader(data)
	}
	zr, err := gzip.NewReader(src)
	if err != nil {
		return nil, chunks.failure()
	}
	r, err := analyze.ReadLayerResultSpooled(zr, c.TempDir)
	if err != nil {
		return nil, chunks.failure()
	}
	if chunks != nil && !chunks.whole() {
		return nil, nil
	}
	if r.Key != key {
		return nil, nil
	}
	return r, nil
}

// Has reports whether an entry is stored under key, without reading it:
// its head, or an entry stored whole. An entry found damaged when read is
// absent to Get, and its layer analysed again then.
func (c LayerCache) Has(ctx context.Context, key string) (bool, error) {
	data, err := c.Store.GetLayer(ctx, key)
	if err != nil || data == nil {
		return false, err
	}
	if bytes.HasPrefix(data, []byte(layerHead)) {
		var h layerHeadFields
		return json.Unmarshal(data[len(layerHead):], &h) == nil, nil
	}
	return bytes.HasPrefix(data, []byte{0x1f, 0x8b}), nil
}

// Put implements analyze.Cache.
func (c LayerCache) Put(ctx context.Context, key string, r *analyze.LayerResult) error {
	cw := &chunkWriter{ctx: ctx, store: c.Store, key: key, buf: make([]byte, 0, layerChunk), sum: sha256.New()}
	zw := gzip.NewWriter(cw)
	if _, err := r.WriteTo(zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := cw.flush(); err != nil {
		return err
	}
	head, err := json.Marshal(layerHeadFields{Chunks: cw.n, Bytes: cw.bytes, SHA256: hex.EncodeToString(cw.sum.Sum(nil))})
	if err != nil {
		return err
	}
	return c.Store.PutLayer(ctx, key, append([]byte(layerHead), head...))
}

// chunkWriter stores what is written to it in chunks.
type chunkWriter struct {
	ctx   context.Context
	store store.Store
	key   string
	buf   []byte
	n     int // chunks stored
	bytes int64
	sum   hash.Hash
	err   error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && w.err == nil {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p, written = p[k:], written+k
		if len(w.buf) == cap(w.buf) {
			w.err = w.flush()
		}
	}
	return written, w.err
}

// flush stores the chunk in progress, if any.
func (w *chunkWriter) flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	if err := w.store.PutLayer(w.ctx, chunkKey(w.key, w.n), w.buf); err != nil {
		return fmt.Errorf("layer cache: chunk %d: %w", w.n, err)
	}
	w.sum.Write(w.buf)
	w.n++
	w.bytes += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// chunkReader reads an entry's chunks in turn, one in memory at a time.
type chunkReader struct {
	ctx   context.Context
	store store.Store
	key   string
	head  layerHeadFields
	i     int
	bytes int64
	cur   []byte
	sum   hash.Hash
	err   error // from the store: a failure to report, not a damaged entry
}

var errChunkMissing = errors.New("layer cache: a chunk is missing")

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.i == r.head.Chunks {
			return 0, io.EOF
		}
		data, err := r.store.GetLayer(r.ctx, chunkKey(r.key, r.i))
		if err != nil {
			r.err = err
			return 0, err
		}
		if data == nil {
			return 0, errChunkMissing
		}
		r.sum.Write(data)
		r.bytes += int64(len(data))
		r.i++
		r.cur = data
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// whole reports whether every chunk was read and they are those the head
// names.
func (r *chunkReader) whole() bool {
	return r.i == r.head.Chunks && len(r.cur) == 0 && r.bytes == r.head.Bytes &&
		hex.EncodeToString(r.sum.Sum(nil)) == r.head.SHA256
}

// failure is what Get returns when reading the entry failed: the
// store's error, or none for a damaged entry (which counts as absent).
func (r *chunkReader) failure() error {
	if r == nil {
		return nil
	}
	return r.err
}
