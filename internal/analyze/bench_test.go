package analyze_test

import (
	"context"
	"io"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/catalog"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/testenv"
)

var benchImages = []string{"debian-bookworm-minbase", "debian-bullseye-app", "alpine-3.20.3"}

// BenchmarkAnalyze inventories the real test images with every cataloger
// and no layer cache; MB/s counts uncompressed layer bytes.
func BenchmarkAnalyze(b *testing.B) {
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			ref := "oci:" + testenv.Image(b, name) + ":latest"
			a, err := analyze.New(catalog.Default(), analyze.WithTempDir(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			var raw int64
			for b.Loop() {
				img, err := image.Open(context.Background(), ref)
				if err != nil {
					b.Fatal(err)
				}
				res, err := a.Analyze(context.Background(), img)
				img.Close()
				if err != nil {
					b.Fatal(err)
				}
				raw = 0
				for _, l := range res.Layers {
					raw += l.Bytes
				}
			}
			b.SetBytes(raw)
		})
	}
}

// BenchmarkDecompress is the floor BenchmarkAnalyze is measured against:
// the same layers, only decompressed, one after another.
func BenchmarkDecompress(b *testing.B) {
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			ref := "oci:" + testenv.Image(b, name) + ":latest"
			var raw int64
			for b.Loop() {
				img, err := image.Open(context.Background(), ref)
				if err != nil {
					b.Fatal(err)
				}
				raw = 0
				for _, l := range img.Layers {
					rc, err := l.Open(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					zr, err := image.Decompress(rc)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, zr)
					if err != nil {
						b.Fatal(err)
					}
					raw += n
					zr.Close()
					rc.Close()
				}
				img.Close()
			}
			b.SetBytes(raw)
		})
	}
}
