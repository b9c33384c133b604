package vulndb

import (
	"context"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

func TestImportSharedTestdata(t *testing.T) {
	root := testenv.Shared(t, "vulndb")
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := d.Import(context.Background(), []string{root}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import took %v: %d advisories, %d withdrawn, %d errors", time.Since(start), rep.Build.Advisories, rep.Build.Withdrawn, len(rep.Build.Errors))
	for name, p := range rep.Imported {
		t.Logf("%s <- %s", name, p)
	}
	for _, s := range rep.Build.Sources {
		t.Logf("%+v", s)
	}
}
