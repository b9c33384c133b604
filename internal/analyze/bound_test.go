package analyze_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/npm"
)

// manyPackageJSON is a layer of n installed npm packages, one
// package.json each, in directories of their own.
func manyPackageJSON(t testing.TB, n int) []byte {
	entries := make([]entry, 0, n)
	for i := 0; i < n; i++ {
		entries = append(entries, file(fmt.Sprintf("app/node_modules/p%06d/package.json", i), fmt.Sprintf(`{"name":"p%06d","version":"1.0.0"}`, i)))
	}
	return tarball(t, entries...)
}

// TestPackagesBoundManyFiles checks the bound on a layer of many more
// package files than it keeps: the first 25,000 in the layer's order are
// inventoried, whatever the order the files were cataloged in, with a
// warning naming the first file that is not; and the layer's path sets
// hold each of its 2n+2 paths once (the n files, their n directories,
// app and app/node_modules).
func TestPackagesBoundManyFiles(t *testing.T) {
	const n = 40000
	img := layered(t, manyPackageJSON(t, n))
	a, err := analyze.New([]analyze.Cataloger{npm.Cataloger{}}, analyze.WithTempDir(t.TempDir()), analyze.WithParallelism(1, 4))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Inventory.Packages); got != 25000 {
		t.Fatalf("%d packages, want 25000", got)
	}
	for i, p := range res.Inventory.Packages {
		if want := fmt.Sprintf("p%06d", i); p.Name != want {
			t.Fatalf("package %d is %s, want %s: not the first files of the layer", i, p.Name, want)
		}
	}
	if !hasIncomplete(res.Warnings, "app/node_modules/p025000/package.json", "npm") {
		t.Errorf("no incomplete warning at the first file past the bound: %v", res.Warnings)
	}
	r, _, err := a.AnalyzeLayer(context.Background(), img.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Dirs) != n+2 || len(r.NonDirs) != n {
		t.Errorf("%d directories, %d other paths; want %d, %d", len(r.Dirs), len(r.NonDirs), n+2, n)
	}
}

// BenchmarkManyPackageJSON analyses a layer of 100,000 package.json
// files, four times the packages' bound: B/op is what the walk allocates
// for it.
func BenchmarkManyPackageJSON(b *testing.B) {
	img := layered(b, manyPackageJSON(b, 100000))
	a, err := analyze.New([]analyze.Cataloger{npm.Cataloger{}}, analyze.WithTempDir(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := a.Analyze(context.Background(), img)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Inventory.Packages) != 25000 {
			b.Fatalf("%d packages", len(res.Inventory.Packages))
		}
	}
}
