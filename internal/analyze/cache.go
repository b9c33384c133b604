package analyze

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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
	r, err := ReadLayerResultSpooled(zr, c.dir)
	if err != nil || r.Key != key {
		return nil, nil
	}
	return r, nil
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
	if _, err := r.WriteTo(zw); err != nil {
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

// layerSets are the path sets a layer result stores after its JSON, in
// this order.
func (r *LayerResult) layerSets() []*pathSet {
	return []*pathSet{&r.Whiteouts, &r.Opaques, &r.Dirs, &r.NonDirs}
}

// maxStoredSet bounds a path set read back from a cache entry, so that a
// damaged entry cannot ask for more memory than a walk would ever use.
const maxStoredSet = maxLayerPaths

// WriteTo writes r in the layer cache's format: its fields as one line of
// JSON (its files first), then each path set as a uvarint count and that many 16-byte
// hashes. Written this way, a layer of a million files costs its 16 bytes
// a path once, with no text form of the hashes built in memory.
func (r *LayerResult) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	// The files go one at a time, ahead of the other fields: a layer's
	// tens of thousands of packages are never all in memory as text.
	rest := *r
	rest.Files = nil
	tail, err := json.Marshal(&rest)
	if err != nil {
		return cw.n, fmt.Errorf("analyze: encode layer result: %w", err)
	}
	bw.WriteString(`{"files":[`)
	for i := range r.Files {
		b, err := json.Marshal(&r.Files[i])
		if err != nil {
			return cw.n, fmt.Errorf("analyze: encode layer result: %w", err)
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(b)
	}
	bw.WriteString("]")
	if len(tail) > 2 {
		bw.WriteByte(',')
	}
	bw.Write(tail[1:])
	bw.WriteByte('\n')
	var n [binary.MaxVarintLen64]byte
	for k := range r.layerSets() {
		bw.Write(n[:binary.PutUvarint(n[:], uint64(r.setLen(k)))])
		if err := r.writeSet(bw, k); err != nil {
			return cw.n, fmt.Errorf("analyze: encode layer result: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("analyze: encode layer result: %w", err)
	}
	return cw.n, nil
}

// ReadLayerResult reads what WriteTo writes. The files are decoded one at
// a time, so that the text of a layer's tens of thousands of packages is
// never all in memory either.
func ReadLayerResult(rd io.Reader) (*LayerResult, error) {
	return readLayerResult(rd, "")
}

// ReadLayerResultSpooled is ReadLayerResult keeping the large path sets
// in a temporary file in dir (which it removes at once: the file goes
// when the result does), not in memory.
func ReadLayerResultSpooled(rd io.Reader, dir string) (*LayerResult, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	return readLayerResult(rd, dir)
}

func readLayerResult(rd io.Reader, dir string) (*LayerResult, error) {
	dec := json.NewDecoder(rd)
	var r LayerResult
	if err := decodeLayerResult(dec, &r); err != nil {
		return nil, fmt.Errorf("analyze: decode layer result: %w", err)
	}
	br := bufio.NewReaderSize(io.MultiReader(dec.Buffered(), rd), 64<<10)
	if b, err := br.ReadByte(); err != nil || b != '\n' {
		return nil, errors.New("analyze: decode layer result: no path sets after the JSON")
	}
	if err := readSets(br, &r, dir); err != nil {
		return nil, fmt.Errorf("analyze: decode layer result: %w", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("analyze: decode layer result: data after the path sets")
	}
	return &r, nil
}

// layerFields maps the JSON names of LayerResult's fields to their
// indexes.
var layerFields = sync.OnceValue(func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[LayerResult]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
})

// decodeLayerResult reads the JSON object WriteTo writes, field by field.
func decodeLayerResult(dec *json.Decoder, r *LayerResult) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	fields := layerFields()
	v := reflect.ValueOf(r).Elem()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if name == "files" {
			if err := decodeFiles(dec, r); err != nil {
				return err
			}
			continue
		}
		var dst any = new(json.RawMessage) // a field this version does not know
		if i, ok := fields[name]; ok {
			dst = v.Field(i).Addr().Interface()
		}
		if err := dec.Decode(dst); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return expectDelim(dec, '}')
}

func decodeFiles(dec *json.Decoder, r *LayerResult) error {
	if err := expectDelim(dec, '['); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	for dec.More() {
		var f FileResult
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("files: %w", err)
		}
		r.Files = append(r.Files, f)
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("%v where %v was expected", tok, d)
	}
	return nil
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
