// Command floor measures the least time any inventory of an image can take:
// reading every layer blob and decompressing it, with nothing else done,
// with as many layers at once as the analyzer reads. bench/run.sh reports
// `vigil sbom` against it.
//
// Usage: go run ./bench/floor SOURCE...
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil/internal/image"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: floor SOURCE...")
		os.Exit(2)
	}
	for _, ref := range os.Args[1:] {
		secs, stored, raw, err := floor(context.Background(), ref)
		if err != nil {
			fmt.Fprintf(os.Stderr, "floor: %s: %v\n", ref, err)
			os.Exit(1)
		}
		// One line per image: seconds, stored bytes, uncompressed bytes.
		fmt.Printf("%.4f %d %d %s\n", secs, stored, raw, ref)
	}
}

func floor(ctx context.Context, ref string) (secs float64, stored, raw int64, err error) {
	img, err := image.Open(ctx, ref)
	if err != nil {
		return 0, 0, 0, err
	}
	defer img.Close()
	start := time.Now()
	sizes := make([]int64, len(img.Layers))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, l := range img.Layers {
		g.Go(func() error {
			rc, err := l.Open(ctx)
			if err != nil {
				return err
			}
			defer rc.Close()
			zr, err := image.Decompress(rc)
			if err != nil {
				return err
			}
			defer zr.Close()
			n, err := io.Copy(io.Discard, zr)
			sizes[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, 0, 0, err
	}
	secs = time.Since(start).Seconds()
	for i, l := range img.Layers {
		stored += l.Size
		raw += sizes[i]
	}
	return secs, stored, raw, nil
}
