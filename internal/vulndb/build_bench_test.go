package vulndb

import (
	"context"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

// BenchmarkBuildSharedFeeds rebuilds the database from the shared test
// data's feeds, already imported: the parse, index and insert of every
// record that `vigil db import` does after copying the files in. Run with
// -benchmem; bench/feeds.sh measures the same at full size.
func BenchmarkBuildSharedFeeds(b *testing.B) {
	root := testenv.Shared(b, "vulndb")
	d, err := NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rep, err := d.Import(ctx, []string{root}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	want := rep.Build.Digest
	b.ReportAllocs()
	for b.Loop() {
		got, err := d.Build(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if got.Digest != want {
			b.Fatalf("a rebuild of the same feeds has digest %s, the import %s", got.Digest, want)
		}
	}
}
