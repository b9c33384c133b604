// Package analyze turns an image into an inventory. It reads every layer
// once, as a stream, several layers at a time; offers each file to the
// catalogers that want it; applies the layers' whiteouts so that only the
// image's final filesystem counts; and attributes every package to the
// layer that introduced it.
//
// The work for one layer depends only on that layer, so it is kept as a
// LayerResult that a Cache can hold by diff-id: an image built on a known
// base only has its new layers read.
package analyze

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/vigilsec/vigil/internal/image"
)

// walkVersion changes whenever the walk itself changes what it records.
const walkVersion = 4

// Analyzer analyses images with a fixed set of catalogers. It is safe for
// concurrent use.
type Analyzer struct {
	catalogers []Cataloger
	version    string
	cache      Cache
	tmpRoot    string
	layers     int
	workers    int
	// memory bounds the bytes of file content held in memory at once;
	// files larger than inMemoryMax are spooled to the temporary
	// directory instead.
	memory      *semaphore.Weighted
	inMemoryMax int64
	maxFile     int64
	progress    *Progress
}

// Option configures an Analyzer.
type Option func(*Analyzer) error

// WithCache keeps and reuses layer results in c.
func WithCache(c Cache) Option {
	return func(a *Analyzer) error { a.cache = c; return nil }
}

// WithTempDir sets the directory under which each analysis makes its own
// private temporary directory (default: os.TempDir()).
func WithTempDir(dir string) Option {
	return func(a *Analyzer) error {
		if dir == "" {
			return errors.New("analyze: empty temporary directory")
		}
		a.tmpRoot = dir
		return nil
	}
}

// WithParallelism sets how many layers are read at once and how many
// files are cataloged at once (default: the number of CPUs for both).
func WithParallelism(layers, workers int) Option {
	return func(a *Analyzer) error {
		if layers < 1 || workers < 1 {
			return fmt.Errorf("analyze: parallelism %d layers, %d workers: both must be at least 1", layers, workers)
		}
		a.layers, a.workers = layers, workers
		return nil
	}
}

// WithMemory sets how many bytes of file content may be held in memory at
// once, and the largest file held in memory rather than spooled to disk.
func WithMemory(total, perFile int64) Option {
	return func(a *Analyzer) error {
		if perFile < 0 || total < perFile {
			return fmt.Errorf("analyze: memory %d total, %d per file: total must be at least per file", total, perFile)
		}
		a.memory = semaphore.NewWeighted(total)
		a.inMemoryMax = perFile
		return nil
	}
}

// WithMaxFileSize sets the largest file a cataloger is given; larger
// files are skipped with a warning (default 4 GiB).
func WithMaxFileSize(n int64) Option {
	return func(a *Analyzer) error {
		if n < 1 {
			return fmt.Errorf("analyze: max file size %d", n)
		}
		a.maxFile = n
		return nil
	}
}

// WithProgress makes the analyzer count its work in p as it goes.
func WithProgress(p *Progress) Option {
	return func(a *Analyzer) error { a.progress = p; return nil }
}

// New returns an Analyzer using the given catalogers.
func New(catalogers []Cataloger, opts ...Option) (*Analyzer, error) {
	n := runtime.GOMAXPROCS(0)
	a := &Analyzer{
		catalogers:  catalogers,
		tmpRoot:     os.TempDir(),
		layers:      n,
		workers:     n,
		memory:      semaphore.NewWeighted(64 << 20),
		inMemoryMax: 16 << 20,
		maxFile:     4 << 30,
	}
	seen := map[string]bool{}
	for _, c := range catalogers {
		if seen[c.Name()] {
			return nil, fmt.Errorf("analyze: two catalogers named %q", c.Name())
		}
		seen[c.Name()] = true
	}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	a.version = version(catalogers)
	return a, nil
}

// Version identifies the analyzer's catalogers and their versions; layer
// results are cached under it.
func (a *Analyzer) Version() string { return a.version }

func version(cs []Cataloger) string {
	parts := []string{"walk/" + strconv.Itoa(walkVersion)}
	for _, c := range cs {
		parts = append(parts, c.Name()+"/"+strconv.Itoa(c.Version()))
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, ",")))
	return hex.EncodeToString(sum[:6])
}

// Progress counts an analysis's work as it goes; read it from another
// goroutine to show progress.
type Progress struct {
	// Layers is the number of layers to read; LayersDone those read.
	Layers, LayersDone atomic.Int64
	// Bytes is the stored size of all layers, when known; BytesRead what
	// has been read of them so far.
	Bytes, BytesRead atomic.Int64
}

// Analyze reads the image's layers and returns its inventory. An error
// means the image could not be analysed completely (a layer that cannot be
// read, a digest that does not match); problems confined to one file are
// warnings in the result instead.
func (a *Analyzer) Analyze(ctx context.Context, img *image.Image) (*Result, error) {
	tmp, err := os.MkdirTemp(a.tmpRoot, "vigil-analyze-")
	if err != nil {
		return nil, fmt.Errorf("analyze: %w", err)
	}
	defer os.RemoveAll(tmp)

	if p := a.progress; p != nil {
		p.Layers.Add(int64(len(img.Layers)))
		for _, l := range img.Layers {
			if l.Size > 0 {
				p.Bytes.Add(l.Size)
			}
		}
	}
	results := make([]*LayerResult, len(img.Layers))
	stats := make([]LayerStat, len(img.Layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.layers)
	for i, l := range img.Layers {
		g.Go(func() error {
			start := time.Now()
			r, cached, err := a.layer(gctx, l, i, tmp)
			if err != nil {
				return fmt.Errorf("analyze: %s: layer %d (%s): %w", img.Name, i, layerName(l), err)
			}
			results[i] = r
			stats[i] = LayerStat{Index: i, DiffID: r.DiffID, Digest: l.Digest, Size: l.Size,
				Bytes: r.Bytes, Files: r.Count, Cached: cached, Duration: time.Since(start)}
			if a.progress != nil {
				a.progress.LayersDone.Add(1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res := merge(results, img.Layers)
	res.Layers = stats
	return res, nil
}

// AnalyzeLayer analyses one layer on its own, outside any image, and keeps
// its result in the cache (an analyzer without a cache gains nothing from
// it). It is how a registry reads layers as they are uploaded, before the
// manifest that names them arrives; a layer whose diff-id is unknown gets
// it computed. cached reports whether the result was in the cache already.
func (a *Analyzer) AnalyzeLayer(ctx context.Context, l *image.Layer) (r *LayerResult, cached bool, err error) {
	tmp, err := os.MkdirTemp(a.tmpRoot, "vigil-analyze-")
	if err != nil {
		return nil, false, fmt.Errorf("analyze: %w", err)
	}
	defer os.RemoveAll(tmp)
	r, cached, err = a.layer(ctx, l, l.Index, tmp)
	if err != nil {
		return nil, false, fmt.Errorf("analyze: layer %s: %w", layerName(l), err)
	}
	return r, cached, nil
}

func layerName(l *image.Layer) string {
	switch {
	case l.Digest != "":
		return shortDigest(l.Digest)
	case l.DiffID != "":
		return shortDigest(l.DiffID)
	case l.Dir != "":
		return l.Dir
	}
	return "no digest"
}

// layer returns the result for one layer, from the cache when possible.
func (a *Analyzer) layer(ctx context.Context, l *image.Layer, index int, tmp string) (*LayerResult, bool, error) {
	if a.cache != nil && l.DiffID != "" {
		r, err := a.cache.Get(ctx, a.cacheKey(l.DiffID))
		if err == nil && r != nil {
			if a.progress != nil && l.Size > 0 {
				a.progress.BytesRead.Add(l.Size)
			}
			return r, true, nil
		}
	}
	w := newWalker(ctx, a, index, l.DiffID, tmp)
	var err error
	if l.Dir != "" {
		err = w.dir(l.Dir)
	} else {
		err = w.tar(l)
	}
	r, werr := w.finish()
	if err == nil {
		err = werr
	}
	if err != nil {
		return nil, false, err
	}
	if a.cache != nil && r.DiffID != "" {
		r.Key = a.cacheKey(r.DiffID)
		if err := a.cache.Put(ctx, r.Key, r); err != nil {
			r.Warnings = append(r.Warnings, Warning{Layer: index, DiffID: r.DiffID, Message: "layer cache: " + err.Error()})
		}
	}
	return r, false, nil
}

func (a *Analyzer) cacheKey(diffID string) string { return diffID + "/" + a.version }
