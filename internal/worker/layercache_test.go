package worker_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/worker"
)

// layerCacheLayer is a gzipped layer of a dpkg status file and n empty
// files, whose result's path sets (16 random-looking bytes a path, which
// gzip cannot shrink) make a cache entry of several megabytes.
func layerCacheLayer(t testing.TB, n int) *image.Layer {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	add := func(name, body string) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	add("var/lib/dpkg/status", "Package: a\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n")
	for i := range n {
		add(fmt.Sprintf("data/%03d/f%07d", i%1000, i), "")
	}
	tw.Close()
	var blob bytes.Buffer
	zw := gzip.NewWriter(&blob)
	zw.Write(raw.Bytes())
	zw.Close()
	b := blob.Bytes()
	return image.NewLayer(image.Layer{Size: int64(len(b))}, func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

func layerCacheAnalyzer(t testing.TB, st store.Store) *analyze.Analyzer {
	t.Helper()
	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, analyze.WithCache(worker.LayerCache{Store: st}), analyze.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLayerCacheChunks checks that a layer cache entry larger than a
// chunk is stored in several, reads back as it was written, and reads as
// absent (the layer is analysed again) when one of its chunks is damaged
// or missing.
func TestLayerCacheChunks(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	a := layerCacheAnalyzer(t, st)
	r, cached, err := a.AnalyzeLayer(ctx, layerCacheLayer(t, 300_000))
	if err != nil || cached {
		t.Fatalf("cached %v, %v", cached, err)
	}
	chunks := 0
	for ; ; chunks++ {
		data, err := st.GetLayer(ctx, fmt.Sprintf("%s#%d", r.Key, chunks))
		if err != nil {
			t.Fatal(err)
		}
		if data == nil {
			break
		}
		if len(data) > 1<<20 {
			t.Errorf("chunk %d: %d bytes", chunks, len(data))
		}
	}
	// 300,000 files and 1,003 directories, 16 bytes each: more than four
	// chunks of 1 MiB.
	if chunks < 5 {
		t.Fatalf("%d chunks, want at least 5", chunks)
	}
	c := worker.LayerCache{Store: st}
	back, err := c.Get(ctx, r.Key)
	if err != nil || back == nil {
		t.Fatalf("read back: %v, %v", back, err)
	}
	if len(back.Files) != 1 || len(back.Files[0].Packages) != 1 || back.Files[0].Packages[0].Name != "a" {
		t.Errorf("files read back: %+v", back.Files)
	}
	if len(r.NonDirs) != 300_001 || len(r.Dirs) != 1_004 {
		t.Errorf("%d non-directories, %d directories", len(r.NonDirs), len(r.Dirs))
	}
	// Read back, the sets are on disk: the entry written again from
	// them is the one stored.
	var wrote, again bytes.Buffer
	if _, err := r.WriteTo(&wrote); err != nil {
		t.Fatal(err)
	}
	if _, err := back.WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wrote.Bytes(), again.Bytes()) {
		t.Errorf("the entry read back and written again differs: %d bytes, %d", again.Len(), wrote.Len())
	}

	good, _ := st.GetLayer(ctx, r.Key+"#2")
	damaged := bytes.Clone(good)
	damaged[len(damaged)/2] ^= 1
	if err := st.PutLayer(ctx, r.Key+"#2", damaged); err != nil {
		t.Fatal(err)
	}
	if back, err := c.Get(ctx, r.Key); back != nil || err != nil {
		t.Errorf("a damaged chunk: %v, %v; want absent", back != nil, err)
	}
	if err := st.PutLayer(ctx, r.Key+"#2", good[:len(good)-1]); err != nil {
		t.Fatal(err)
	}
	if back, err := c.Get(ctx, r.Key); back != nil || err != nil {
		t.Errorf("a short chunk: %v, %v; want absent", back != nil, err)
	}
	if err := st.PutLayer(ctx, r.Key+"#2", good); err != nil {
		t.Fatal(err)
	}
	if back, err := c.Get(ctx, r.Key); back == nil || err != nil {
		t.Errorf("the chunk restored: %v, %v", back != nil, err)
	}
}

// BenchmarkLayerCachePut stores the result of a layer of 300,000 paths
// (an entry of about 5 MB) in the SQLite store; B/op is what encoding and
// storing it allocates.
func BenchmarkLayerCachePut(b *testing.B) {
	ctx := context.Background()
	st := openStore(b)
	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, analyze.WithTempDir(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	r, _, err := a.AnalyzeLayer(ctx, layerCacheLayer(b, 300_000))
	if err != nil {
		b.Fatal(err)
	}
	r.Key = r.DiffID + "/bench"
	c := worker.LayerCache{Store: st}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Put(ctx, r.Key, r); err != nil {
			b.Fatal(err)
		}
	}
}
