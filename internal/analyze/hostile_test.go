package analyze_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
)

// TestHardLinkChain checks that a hard link to a hard link is read as the
// file at the start of the chain, however long the chain.
func TestHardLinkChain(t *testing.T) {
	entries := []entry{file("var/lib/dpkg/status.d/c0000", status("c=1"))}
	for i := 1; i < 2000; i++ {
		entries = append(entries, hardlink(fmt.Sprintf("var/lib/dpkg/status.d/c%04d", i), fmt.Sprintf("var/lib/dpkg/status.d/c%04d", i-1)))
	}
	res := analyzeImage(t, layered(t, tarball(t, entries...)))
	if n := len(res.Inventory.Packages); n != 2000 {
		t.Fatalf("%d packages, want 2000 (one per file of the chain)", n)
	}
	for i, p := range res.Inventory.Packages {
		if want := fmt.Sprintf("/var/lib/dpkg/status.d/c%04d", i); p.Name != "c" || p.Version != "1" || p.Path != want {
			t.Errorf("package %d: %s=%s at %s, want c=1 at %s", i, p.Name, p.Version, p.Path, want)
		}
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
}

// TestHardLinkToUnreadFile checks that a wanted hard link to a file nothing
// read (so whose content is gone by the time the link is seen) makes
// coverage partial.
func TestHardLinkToUnreadFile(t *testing.T) {
	res := analyzeImage(t, layered(t, tarball(t,
		file("opt/status.bak", status("hidden=1")),
		hardlink("var/lib/dpkg/status.d/x", "opt/status.bak"),
	)))
	if len(res.Inventory.Packages) != 0 {
		t.Errorf("packages %v", res.Inventory.Packages)
	}
	if !hasIncomplete(res.Warnings, "var/lib/dpkg/status.d/x", "dpkg") {
		t.Errorf("no incomplete warning about the link: %v", res.Warnings)
	}
}

// TestManyHardLinks reads 200,000 hard links to one file: each link
// resolves in one look-up, and the packages they would add beyond the
// bound are left out with a warning that makes coverage partial.
func TestManyHardLinks(t *testing.T) {
	img := layered(t, manyLinks(t, 200000))
	res := analyzeImage(t, img)
	if n := len(res.Inventory.Packages); n != 25000 {
		t.Errorf("%d packages, want the bound of 25000", n)
	}
	found := false
	for _, w := range res.Warnings {
		found = found || (w.Incomplete == "dpkg" && strings.Contains(w.Message, "more than 25000"))
	}
	if !found {
		t.Errorf("no incomplete warning about the bound: %v", res.Warnings)
	}
}

// manyLinks is a layer of one status file and n hard links to it.
func manyLinks(t testing.TB, n int) []byte {
	entries := []entry{file("var/lib/dpkg/status.d/a", status("a=1"))}
	for i := 0; i < n; i++ {
		entries = append(entries, hardlink(fmt.Sprintf("var/lib/dpkg/status.d/l%06d", i), "var/lib/dpkg/status.d/a"))
	}
	return tarball(t, entries...)
}

// BenchmarkHardLinks reports the cost of one hard link for layers of
// growing numbers of them: it stays flat, where resolving each link by
// searching the layer's files grew with their number.
func BenchmarkHardLinks(b *testing.B) {
	for _, n := range []int{1000, 10000, 40000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			img := layered(b, manyLinks(b, n))
			a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, analyze.WithTempDir(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := a.Analyze(context.Background(), img); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/link")
		})
	}
}

func hasIncomplete(ws []analyze.Warning, path, what string) bool {
	for _, w := range ws {
		if w.Path == path && w.Incomplete == what {
			return true
		}
	}
	return false
}

// TestNamesPastLimits checks that entries whose names exceed PATH_MAX or
// NAME_MAX are refused with a short warning, one that makes coverage
// partial when a cataloger wanted the entry, and that the warnings about
// them are capped.
func TestNamesPastLimits(t *testing.T) {
	long := strings.Repeat("x", 5000)
	entries := []entry{
		file("var/lib/dpkg/status", status("ok=1")),
		file("var/lib/dpkg/status.d/"+strings.Repeat("n", 300), status("toolong=1")),
		file("var/lib/dpkg/status.d/"+strings.Repeat("p", 4100), status("toolong=2")),
		symlink("etc/os-release", strings.Repeat("../", 1500)+"usr/lib/os-release"),
	}
	for i := 0; i < 500; i++ {
		entries = append(entries, dir(fmt.Sprintf("d%d/%s/", i, long)), file(fmt.Sprintf("w%d/%s/.wh.f", i, long), ""))
	}
	res := analyzeImage(t, layered(t, tarball(t, entries...)))
	if got := summary(res.Inventory.Packages); got != "ok=1@0 /var/lib/dpkg/status" {
		t.Errorf("packages:\n%s", got)
	}
	var incomplete []string
	for _, w := range res.Warnings {
		if len(w.String()) > 400 {
			t.Errorf("a warning of %d bytes: %.200s", len(w.String()), w.String())
		}
		if w.Incomplete != "" {
			incomplete = append(incomplete, w.Incomplete+" "+w.Message)
		}
	}
	want := []string{
		"dpkg entry name has a 300-byte name, more than NAME_MAX (255): refused",
		"dpkg entry name 4122 bytes long, more than PATH_MAX (4096): refused",
		"release link target 4518 bytes long, more than PATH_MAX (4096): refused",
	}
	if strings.Join(incomplete, "\n") != strings.Join(want, "\n") {
		t.Errorf("incomplete warnings:\n%s\nwant\n%s", strings.Join(incomplete, "\n"), strings.Join(want, "\n"))
	}
	if n := len(res.Warnings); n != 100+3+1 {
		t.Errorf("%d warnings, want 100 ordinary ones, the 3 incomplete ones and a count of those not shown", n)
	}
	if last := res.Warnings[len(res.Warnings)-1]; !strings.Contains(last.Message, "more warnings not shown") {
		t.Errorf("last warning %q", last.Message)
	}
}

// TestSymlinksKept checks that a layer keeps only the symbolic links that
// distribution detection may follow, and still follows a chain of two.
func TestSymlinksKept(t *testing.T) {
	var entries []entry
	for i := 0; i < 1000; i++ {
		entries = append(entries, symlink(fmt.Sprintf("usr/bin/l%d", i), "/usr/bin/busybox"))
	}
	entries = append(entries,
		file("usr/lib/os-release", debianRelease),
		symlink("etc/os-release", "../opt/release"),
		symlink("opt/release", "/usr/lib/os-release"),
	)
	raw := tarball(t, entries...)
	img := layered(t, raw)
	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, analyze.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := a.AnalyzeLayer(context.Background(), img.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Symlinks) != 2 {
		t.Errorf("%d symbolic links kept, want the 2 of the chain to etc/os-release: %v", len(r.Symlinks), r.Symlinks)
	}
	res := analyzeImage(t, img)
	if d := res.Inventory.Distro; d == nil || d.ID != "debian" {
		t.Errorf("distro %+v, want debian through the chain of links", d)
	}
}

// TestCachedPathSets checks that a layer's path sets survive the layer
// cache: a whiteout and a replaced directory read from the cache hide the
// lower files as they did when read from the layer.
func TestCachedPathSets(t *testing.T) {
	img := layered(t,
		tarball(t, file("var/lib/dpkg/status.d/a", status("a=1")), file("var/lib/dpkg/status.d/b", status("b=1")),
			file("opt/d/var/lib/dpkg/status", status("c=1"))),
		tarball(t, file("var/lib/dpkg/status.d/.wh.a", ""), file("opt/d", "now a file")),
	)
	c, err := analyze.NewDirCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first := analyzeImage(t, img, analyze.WithCache(c))
	second := analyzeImage(t, img, analyze.WithCache(c))
	for _, l := range second.Layers {
		if !l.Cached {
			t.Fatalf("layer %d not from the cache", l.Index)
		}
	}
	for _, res := range []*analyze.Result{first, second} {
		if got := summary(res.Inventory.Packages); got != "b=1@0 /var/lib/dpkg/status.d/b" {
			t.Errorf("packages:\n%s", got)
		}
	}
}

// TestCacheEntryDamaged checks that a damaged cache entry reads as an
// error, not as a layer that hides nothing.
func TestCacheEntryDamaged(t *testing.T) {
	img := layered(t, tarball(t, file("var/lib/dpkg/status", status("a=1")), dir("x/"), file("x/y", "")))
	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, analyze.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := a.AnalyzeLayer(context.Background(), img.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := analyze.ReadLayerResult(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// Directories x, var, var/lib and var/lib/dpkg; files x/y and the
	// status file.
	if len(back.Dirs) != len(r.Dirs) || len(back.Dirs) != 4 || len(back.NonDirs) != 2 {
		t.Errorf("read back %d directories, %d non-directories; wrote %d, %d", len(back.Dirs), len(back.NonDirs), len(r.Dirs), len(r.NonDirs))
	}
	full := buf.Bytes()
	for _, cut := range []int{len(full) - 1, len(full) - 17, bytes.IndexByte(full, '\n') + 1} {
		if _, err := analyze.ReadLayerResult(io.LimitReader(bytes.NewReader(full), int64(cut))); err == nil {
			t.Errorf("an entry cut at %d of %d bytes read without error", cut, len(full))
		}
	}
}

// TestPackagesBound checks that a layer listing more packages than the
// bound keeps those that come first and says the rest were not read.
func TestPackagesBound(t *testing.T) {
	var pkgs []string
	for i := 0; i < 25010; i++ {
		pkgs = append(pkgs, fmt.Sprintf("p%05d=1", i))
	}
	res := analyzeImage(t, layered(t, tarball(t, file("var/lib/dpkg/status", status(pkgs...)), file("var/lib/dpkg/status.d/z", status("z=1")))))
	if n := len(res.Inventory.Packages); n != 25000 {
		t.Errorf("%d packages, want 25000", n)
	}
	for _, p := range res.Inventory.Packages {
		if p.Name == "z" {
			t.Error("a package past the bound was kept")
		}
	}
	if !hasIncomplete(res.Warnings, "var/lib/dpkg/status", "dpkg") {
		t.Errorf("no incomplete warning: %v", res.Warnings)
	}
}

// TestSpooledPathSets checks a layer cache entry whose path sets are
// large enough to be kept on disk when read back: read from the cache,
// the upper layer's whiteouts and the file replacing a directory still
// hide the lower files, and the result written again is the entry read.
func TestSpooledPathSets(t *testing.T) {
	upper := []entry{file("var/lib/dpkg/status.d/.wh.a", ""), file("opt/d", "now a file")}
	for i := 0; i < 3000; i++ {
		upper = append(upper, file(fmt.Sprintf("fill/%02d/f%05d", i%50, i), ""), file(fmt.Sprintf("gone/.wh.f%05d", i), ""))
	}
	img := layered(t,
		tarball(t, file("var/lib/dpkg/status.d/a", status("a=1")), file("var/lib/dpkg/status.d/b", status("b=1")),
			file("opt/d/var/lib/dpkg/status", status("c=1"))),
		tarball(t, upper...),
	)
	c, err := analyze.NewDirCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first := analyzeImage(t, img, analyze.WithCache(c))
	second := analyzeImage(t, img, analyze.WithCache(c))
	for _, l := range second.Layers {
		if !l.Cached {
			t.Fatalf("layer %d not from the cache", l.Index)
		}
	}
	for _, res := range []*analyze.Result{first, second} {
		if got := summary(res.Inventory.Packages); got != "b=1@0 /var/lib/dpkg/status.d/b" {
			t.Errorf("packages:\n%s", got)
		}
	}

	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}}, analyze.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := a.AnalyzeLayer(context.Background(), img.Layers[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(r.NonDirs) != 3001 || len(r.Whiteouts) != 3001 {
		t.Fatalf("%d non-directories, %d whiteouts: too few to be spooled", len(r.NonDirs), len(r.Whiteouts))
	}
	var buf, again bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := analyze.ReadLayerResultSpooled(bytes.NewReader(buf.Bytes()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(back.NonDirs) != 0 || len(back.Whiteouts) != 0 {
		t.Errorf("%d non-directories, %d whiteouts in memory: not spooled", len(back.NonDirs), len(back.Whiteouts))
	}
	if _, err := back.WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("written again, %d bytes differ from the %d read", again.Len(), buf.Len())
	}
}
