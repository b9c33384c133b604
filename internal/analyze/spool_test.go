package analyze_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// sizeCat wants big.txt and reads at most limit bytes of it (limit < 0:
// any size). It records what it saw: whether the content could be read,
// and the files in the walk's temporary directory meanwhile.
type sizeCat struct {
	name  string
	limit int64
	root  string

	mu      sync.Mutex
	read    bool
	err     error
	spooled []string
}

func (c *sizeCat) Name() string                                { return c.name }
func (c *sizeCat) Version() int                                { return 1 }
func (c *sizeCat) Wants(p string, _ fs.FileMode, _ int64) bool { return p == "big.txt" }

func (c *sizeCat) Catalog(_ context.Context, f *analyze.File) ([]inventory.Package, error) {
	var spooled []string
	filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			spooled = append(spooled, p)
		}
		return nil
	})
	limit := c.limit
	if limit < 0 {
		limit = f.Size
	}
	_, err := f.Bytes(limit)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read, c.err, c.spooled = err == nil, err, spooled
	return nil, err
}

// limitedCat is a sizeCat that says its limit.
type limitedCat struct{ *sizeCat }

func (c limitedCat) MaxSize(string) int64 { return c.limit }

var _ analyze.Limited = limitedCat{}

// TestNoSpoolBeyondLimits analyses a file larger than the in-memory limit:
// when the only cataloger wanting it reads less, it is neither spooled nor
// read, and the cataloger's own size error is the warning; when another
// reads any size, it is spooled and both see it.
func TestNoSpoolBeyondLimits(t *testing.T) {
	body := strings.Repeat("x", 64<<10)
	img := layered(t, tarball(t, file("big.txt", body)))
	for _, withUnlimited := range []bool{false, true} {
		root := t.TempDir()
		lim := &sizeCat{name: "limited", limit: 1024, root: root}
		cats := []analyze.Cataloger{limitedCat{lim}}
		any := &sizeCat{name: "any", limit: -1, root: root}
		if withUnlimited {
			cats = append(cats, any)
		}
		a, err := analyze.New(cats, analyze.WithTempDir(root), analyze.WithMemory(4096, 1024), analyze.WithParallelism(1, 1))
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.Analyze(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(lim.err, analyze.ErrTooLarge) {
			t.Errorf("limited cataloger: error %v, want ErrTooLarge", lim.err)
		}
		var warned bool
		for _, w := range res.Warnings {
			warned = warned || (w.Path == "big.txt" && w.Incomplete == "limited")
		}
		if !warned {
			t.Errorf("no warning about big.txt from the limited cataloger: %+v", res.Warnings)
		}
		if !withUnlimited {
			if len(lim.spooled) != 0 {
				t.Errorf("a file no cataloger would read was spooled: %q", lim.spooled)
			}
			continue
		}
		if !any.read || len(any.spooled) == 0 {
			t.Errorf("with a cataloger that reads any size: read %v, spooled %q; want it read from a spooled file", any.read, any.spooled)
		}
	}
}
