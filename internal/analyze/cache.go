package analyze

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Cache keeps layer results by key (a diff-id and the analyzer's version).
// Implementations must be safe for concurrent use.
type Cache interface {
	// Get returns the result stored under key, or nil and no error if
	// there is none.
	Get(ctx context.Context, key string) (*LayerResult, error)
	Put(ctx context.Context, key string, r *LayerResult) error
}

// DirCache is a Cache of gzipped JSON files in a directory.
type DirCache struct {
	dir string
}

var _ Cache = (*DirCache)(nil)

// NewDirCache returns a cache kept in dir, which it creates if needed.
func NewDirCache(dir string) (*DirCache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("analyze: layer cache: %w", err)
	}
	return &DirCache{dir: dir}, nil
}

func (c *DirCache) file(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:])+".json.gz")
}

// Get implements Cache. An entry that cannot be read is treated as absent,
// so a damaged cache costs a re-read, never a wrong result.
func (c *DirCache) Get(_ context.Context, key string) (*LayerResult, error) {
	f, err := os.Open(c.file(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil
	}
	var r LayerResult
	if err := json.NewDecoder(zr).Decode(&r); err != nil || r.Key != key {
		return nil, nil
	}
	return &r, nil
}

// Put implements Cache. The entry is written to a temporary file and
// renamed into place, so readers never see half an entry.
func (c *DirCache) Put(_ context.Context, key string, r *LayerResult) error {
	t, err := os.CreateTemp(c.dir, ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(t.Name())
	zw := gzip.NewWriter(t)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		t.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		t.Close()
		return err
	}
	if err := t.Close(); err != nil {
		return err
	}
	return os.Rename(t.Name(), c.file(key))
}

// MemCache is a Cache held in memory.
type MemCache struct {
	mu sync.Mutex
	m  map[string]*LayerResult
}

var _ Cache = (*MemCache)(nil)

// NewMemCache returns an empty in-memory cache.
func NewMemCache() *MemCache { return &MemCache{m: map[string]*LayerResult{}} }

// Get implements Cache.
func (c *MemCache) Get(_ context.Context, key string) (*LayerResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key], nil
}

// Put implements Cache.
func (c *MemCache) Put(_ context.Context, key string, r *LayerResult) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = r
	return nil
}

// Len returns the number of entries.
func (c *MemCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
