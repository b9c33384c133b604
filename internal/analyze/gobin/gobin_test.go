package gobin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// goTool returns the go command that builds the fixtures and prints the
// reference build information.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go"
	}
	t.Fatal("no go command on PATH or in /usr/local/go/bin")
	return ""
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyFixture copies the shared Go fixture (go.mod, go.sum, main.go) into
// a new temporary directory.
func copyFixture(t *testing.T) string {
	t.Helper()
	src := testenv.Shared(t, "lang/gobin")
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// build builds the module in dir as the fixture's README says and returns
// the binary's path.
func build(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vulnfixture")
	args := append([]string{"build", "-trimpath"}, flags...)
	args = append(args, "-o", bin, ".")
	run(t, dir, []string{"CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOWORK=off"}, goTool(t), args...)
	return bin
}

// catalogFile runs the cataloger on a file on disk, as the walk would.
func catalogFile(t *testing.T, name string) ([]inventory.Package, error) {
	t.Helper()
	f, c, err := analyze.OpenFile("usr/local/bin/"+filepath.Base(name), name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f.Size >= minSize && !(Cataloger{}).Wants(f.Path, f.Mode, f.Size) {
		t.Errorf("Wants(%s, %v, %d) = false", f.Path, f.Mode, f.Size)
	}
	return Cataloger{}.Catalog(context.Background(), f)
}

// reference is what `go version -m`, the Go toolchain's own reader,
// prints about a binary.
type reference struct {
	toolchain string
	path      string
	main      [2]string   // module path, version
	deps      [][4]string // path, version, replacement path, replacement version
	build     map[string]string
}

func goVersionM(t *testing.T, bin string) reference {
	t.Helper()
	out := run(t, "", nil, goTool(t), "version", "-m", bin)
	ref := reference{build: map[string]string{}}
	for i, line := range strings.Split(out, "\n") {
		if i == 0 {
			_, ref.toolchain, _ = strings.Cut(line, ": ")
			continue
		}
		f := strings.Split(strings.TrimPrefix(line, "\t"), "\t")
		for len(f) < 4 {
			f = append(f, "")
		}
		switch f[0] {
		case "path":
			ref.path = f[1]
		case "mod":
			ref.main = [2]string{f[1], f[2]}
		case "dep":
			ref.deps = append(ref.deps, [4]string{f[1], f[2]})
		case "=>":
			last := &ref.deps[len(ref.deps)-1]
			last[2], last[3] = f[1], f[2]
		case "build":
			k, v, _ := strings.Cut(f[1], "=")
			ref.build[k] = v
		}
	}
	if ref.toolchain == "" || ref.main[0] == "" || len(ref.deps) == 0 {
		t.Fatalf("cannot read go version -m output:\n%s", out)
	}
	return ref
}

// releaseRE matches the toolchain names whose semantic version is plain
// "v" + the numbers, the only ones the reference derives on its own.
var releaseRE = regexp.MustCompile(`^go(\d+\.\d+\.\d+)$`)

// expected lists, one line per package, what the cataloger must report
// for a binary, derived from go version -m by the rules of Packages' doc.
func (ref reference) expected(t *testing.T) []string {
	t.Helper()
	lines := []string{fmt.Sprintf("%s %s main", ref.main[0], ref.main[1])}
	for _, d := range ref.deps {
		switch {
		case d[2] == "":
			lines = append(lines, d[0]+" "+d[1])
		case strings.HasPrefix(d[2], "./") || strings.HasPrefix(d[2], "../") || strings.HasPrefix(d[2], "/"):
			lines = append(lines, fmt.Sprintf("%s (devel) replaces=%s@%s", d[0], d[0], d[1]))
		case d[2] == d[0]:
			lines = append(lines, fmt.Sprintf("%s %s replaces=%s@%s", d[0], d[3], d[0], d[1]))
		default:
			lines = append(lines, fmt.Sprintf("%s %s replaces=%s@%s", d[2], d[3], d[0], d[1]))
		}
	}
	m := releaseRE.FindStringSubmatch(ref.toolchain)
	if m == nil {
		t.Fatalf("toolchain %q is not a plain release; the test cannot derive its version", ref.toolchain)
	}
	lines = append(lines, "stdlib v"+m[1]+" toolchain="+ref.toolchain)
	slices.Sort(lines)
	return lines
}

func render(pkgs []inventory.Package) []string {
	var lines []string
	for _, p := range pkgs {
		l := p.Name + " " + p.Version
		if p.Metadata["go.main"] == "true" {
			l += " main"
		}
		if r := p.Metadata["go.replaces"]; r != "" {
			l += " replaces=" + r
		}
		if tc := p.Metadata["go.toolchain"]; tc != "" {
			l += " toolchain=" + tc
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return lines
}

func check(t *testing.T, pkgs []inventory.Package, ref reference) {
	t.Helper()
	if got, want := render(pkgs), ref.expected(t); !slices.Equal(got, want) {
		t.Errorf("packages differ from go version -m\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range pkgs {
		if p.Type != inventory.Go || p.Evidence != inventory.Installed || p.Cataloger != "gobin" {
			t.Errorf("%s: type %q evidence %q cataloger %q", p.Name, p.Type, p.Evidence, p.Cataloger)
		}
		if p.Metadata["go.main"] != "true" {
			continue
		}
		if p.Metadata["go.package"] != ref.path {
			t.Errorf("go.package = %q, want %q", p.Metadata["go.package"], ref.path)
		}
		for _, k := range []string{"GOOS", "GOARCH", "-trimpath", "CGO_ENABLED", "vcs.revision"} {
			if got, want := p.Metadata["go.build."+k], ref.build[k]; got != want {
				t.Errorf("go.build.%s = %q, want %q", k, got, want)
			}
		}
		if _, ok := p.Metadata["go.build.DefaultGODEBUG"]; ok {
			t.Errorf("DefaultGODEBUG should not be kept")
		}
	}
}

// TestFixture builds the shared fixture and compares the cataloger with
// go version -m.
func TestFixture(t *testing.T) {
	bin := build(t, copyFixture(t))
	ref := goVersionM(t, bin)
	pkgs, err := catalogFile(t, bin)
	if err != nil {
		t.Fatal(err)
	}
	check(t, pkgs, ref)
	// Two fixed facts of the recipe, should the reference ever go wrong.
	if !slices.Contains(render(pkgs), "github.com/gin-gonic/gin v1.6.0") || ref.build["-trimpath"] != "true" {
		t.Errorf("gin v1.6.0 or -trimpath missing: %v", render(pkgs))
	}
}

// TestReplacements builds the fixture with the three kinds of replacement
// and from a git checkout, so that the main module gets a version and VCS
// settings.
func TestReplacements(t *testing.T) {
	dir := copyFixture(t)
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("localdep/go.mod", "module example.com/localdep\n\ngo 1.21\n")
	write("localdep/x.go", "package localdep\n\nconst X = 1\n")
	main, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(main), `"golang.org/x/text/language"`, "\"golang.org/x/text/language\"\n\t\"example.com/localdep\"", 1)
	src = strings.Replace(src, "r != nil)", "r != nil, localdep.X)", 1)
	write("main.go", src)
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.mod", string(mod)+`
require example.com/localdep v0.0.0

replace example.com/localdep => ./localdep

replace gopkg.in/yaml.v2 => gopkg.in/yaml.v2 v2.2.7

replace golang.org/x/text => github.com/golang/text v0.3.5
`)
	git := func(args ...string) string {
		return strings.TrimSpace(run(t, dir, []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"},
			"git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...))
	}
	git("init", "-q")
	// A first build with -mod=mod adds the replacements' checksums to
	// go.sum, so that the commit below leaves a clean tree.
	bin := filepath.Join(t.TempDir(), "replaced")
	run(t, dir, []string{"CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOWORK=off"}, goTool(t), "build", "-mod=mod", "-o", bin, ".")
	git("add", "-A")
	git("commit", "-q", "-m", "fixture")
	rev := git("rev-parse", "HEAD")
	bin = filepath.Join(t.TempDir(), "replaced")
	run(t, dir, []string{"CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOWORK=off"}, goTool(t), "build", "-buildvcs=true", "-o", bin, ".")

	ref := goVersionM(t, bin)
	pkgs, err := catalogFile(t, bin)
	if err != nil {
		t.Fatal(err)
	}
	check(t, pkgs, ref)

	got := map[string]inventory.Package{}
	for _, p := range pkgs {
		got[p.Name] = p
	}
	// The replacement rules, spelled out for the three cases.
	for _, want := range []struct{ name, version, replaces, replacement string }{
		{"example.com/localdep", "(devel)", "example.com/localdep@v0.0.0", "./localdep"},
		{"gopkg.in/yaml.v2", "v2.2.7", "gopkg.in/yaml.v2@v2.2.8", "gopkg.in/yaml.v2@v2.2.7"},
		{"github.com/golang/text", "v0.3.5", "golang.org/x/text@v0.3.5", "github.com/golang/text@v0.3.5"},
	} {
		p, ok := got[want.name]
		if !ok || p.Version != want.version || p.Metadata["go.replaces"] != want.replaces || p.Metadata["go.replacement"] != want.replacement {
			t.Errorf("%s: got %+v, want %+v", want.name, p, want)
		}
	}
	if _, ok := got["golang.org/x/text"]; ok {
		t.Errorf("golang.org/x/text reported although it was replaced by a fork")
	}
	mainPkg := got["example.com/vulnfixture"]
	if mainPkg.Metadata["go.build.vcs.revision"] != rev {
		t.Errorf("vcs.revision = %q, want %q", mainPkg.Metadata["go.build.vcs.revision"], rev)
	}
	// Since Go 1.24 the main module of a build from a checkout gets a
	// pseudo-version naming the commit.
	if !strings.Contains(mainPkg.Version, rev[:12]) {
		t.Errorf("main module version %q does not name commit %s", mainPkg.Version, rev[:12])
	}
}

// TestImage catalogs the Go binary inside the built test image.
func TestImage(t *testing.T) {
	bin, mode := testenv.ImageFile(t, "debian-bullseye-app", "usr/local/bin/vulnfixture")
	if !(Cataloger{}).Wants("usr/local/bin/vulnfixture", mode, fileSize(t, bin)) {
		t.Errorf("Wants refuses usr/local/bin/vulnfixture (mode %v)", mode)
	}
	pkgs, err := catalogFile(t, bin)
	if err != nil {
		t.Fatal(err)
	}
	check(t, pkgs, goVersionM(t, bin))
}

func fileSize(t *testing.T, name string) int64 {
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// copyFile copies at most n bytes of src (all if n < 0) to a new
// executable file.
func copyFile(t *testing.T, src string, n int64) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := filepath.Join(t.TempDir(), filepath.Base(src))
	w, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = in
	if n >= 0 {
		r = io.LimitReader(in, n)
	}
	if _, err := io.Copy(w, r); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNotGo checks that executables of other kinds are passed over
// silently: this is the common case, as most executables are not Go.
func TestNotGo(t *testing.T) {
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+strings.Repeat("echo hello world\n", 100)), 0o755); err != nil {
		t.Fatal(err)
	}
	mz := filepath.Join(t.TempDir(), "mz")
	if err := os.WriteFile(mz, []byte("MZ is not a PE file"+strings.Repeat(".", 2000)), 0o755); err != nil {
		t.Fatal(err)
	}
	class := filepath.Join(t.TempDir(), "A.class")
	if err := os.WriteFile(class, append([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x34"), make([]byte, 2000)...), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{copyFile(t, ls, -1), script, mz, class} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			pkgs, err := catalogFile(t, name)
			if err != nil || len(pkgs) != 0 {
				t.Errorf("got %d packages, error %v; want none", len(pkgs), err)
			}
		})
	}
}

// TestTruncated cuts a Go binary short at several points: the result must
// be an error or nothing, and never a panic.
func TestTruncated(t *testing.T) {
	bin := build(t, copyFixture(t))
	size := fileSize(t, bin)
	for _, n := range []int64{20, 64, 4096, 64 << 10, size / 2, size - 4096, size - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pkgs, err := catalogFile(t, copyFile(t, bin, n))
			if err == nil && len(pkgs) > 0 {
				t.Errorf("%d packages from a binary cut at %d of %d bytes", len(pkgs), n, size)
			}
			if err != nil && !strings.Contains(err.Error(), "gobin: usr/local/bin/vulnfixture") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

type errReaderAt struct{}

func (errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }

func TestReadError(t *testing.T) {
	if _, err := isExecutable(errReaderAt{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("got %v, want the read error", err)
	}
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		mode os.FileMode
		size int64
		want bool
	}{
		{"usr/local/bin/app", 0o755, 5 << 20, true},
		{"app", 0o100, 1024, true},
		{"usr/local/bin/app", 0o644, 5 << 20, false},
		{"usr/local/bin/app", 0o755, 1023, false},
		{"proc/self/exe", 0o755, 5 << 20, false},
		{"sys/x", 0o755, 5 << 20, false},
		{"dev/x", 0o755, 5 << 20, false},
		{"devices/x", 0o755, 5 << 20, true},
		{"usr/bin/link", os.ModeSymlink | 0o777, 5 << 20, false},
	} {
		if got := (Cataloger{}).Wants(tc.path, tc.mode, tc.size); got != tc.want {
			t.Errorf("Wants(%q, %v, %d) = %v, want %v", tc.path, tc.mode, tc.size, got, tc.want)
		}
	}
}

// TestPackages covers the cases the fixtures cannot produce, in the text
// form of build information that go version -m prints and
// debug.ParseBuildInfo reads.
func TestPackages(t *testing.T) {
	for _, tc := range []struct {
		name, info string
		toolchain  string
		want       []string
	}{{
		name: "old toolchain local replacement without version",
		info: "path\texample.com/a/cmd\nmod\texample.com/a\tv1.2.3\th1:x=\n" +
			"dep\texample.com/b\tv0.1.0\n=>\t../b\t\t\n" +
			"dep\texample.com/c\tv0.1.0\n=>\t/abs/c\t\t\n",
		toolchain: "go1.17.13",
		want: []string{
			"example.com/a v1.2.3 main",
			"example.com/b (devel) replaces=example.com/b@v0.1.0",
			"example.com/c (devel) replaces=example.com/c@v0.1.0",
			"stdlib v1.17.13 toolchain=go1.17.13",
		},
	}, {
		name:      "GOPATH build has no main module",
		info:      "path\tcommand-line-arguments\n",
		toolchain: "go1.22.1 X:boringcrypto",
		want:      []string{"stdlib v1.22.1 toolchain=go1.22.1 X:boringcrypto"},
	}, {
		name:      "development toolchain",
		info:      "path\texample.com/a\nmod\texample.com/a\t(devel)\t\n",
		toolchain: "devel go1.27-0123456789 Mon Jan 2 15:04:05 2026 +0000",
		want: []string{
			"example.com/a (devel) main",
			"stdlib (devel) toolchain=devel go1.27-0123456789 Mon Jan 2 15:04:05 2026 +0000",
		},
	}, {
		name:      "release candidate, fork with major version",
		info:      "path\texample.com/a\nmod\texample.com/a\t(devel)\t\ndep\tgithub.com/x/y/v2\tv2.0.0\n=>\tgithub.com/fork/y/v2\tv2.0.1-fix\th1:y=\n",
		toolchain: "go1.21rc2",
		want: []string{
			"example.com/a (devel) main",
			"github.com/fork/y/v2 v2.0.1-fix replaces=github.com/x/y/v2@v2.0.0",
			"stdlib v1.21.0-rc.2 toolchain=go1.21rc2",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			bi, err := debug.ParseBuildInfo(tc.info)
			if err != nil {
				t.Fatal(err)
			}
			bi.GoVersion = tc.toolchain
			if got := render(Packages(bi)); !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func FuzzPackages(f *testing.F) {
	f.Add("path\ta\nmod\ta\t(devel)\t\ndep\tb\tv1.0.0\th1:x=\n=>\tc\tv1.0.1\th1:y=\nbuild\tGOOS=linux\n", "go1.22.1")
	f.Add("dep\tb\tv1.0.0\n=>\t./b\t(devel)\t\n", "go1.21rc2 X:nocoverageredesign")
	f.Fuzz(func(t *testing.T, info, toolchain string) {
		bi, err := debug.ParseBuildInfo(info)
		if err != nil {
			return
		}
		bi.GoVersion = toolchain
		for _, p := range Packages(bi) {
			if p.Name == "" || p.Version == "" || p.Type != inventory.Go {
				t.Fatalf("incomplete package %+v from %q", p, info)
			}
		}
	})
}

// FuzzCatalog feeds arbitrary bytes through the executable check and
// debug/buildinfo: whatever the content, no panic.
func FuzzCatalog(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"))
	f.Add([]byte("MZ" + strings.Repeat("\x00", 0x3a) + "\x40\x00\x00\x00PE\x00\x00"))
	f.Add([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x02" + strings.Repeat("\x00", 40)))
	f.Add([]byte("\xcf\xfa\xed\xfe" + strings.Repeat("\x00", 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile("bin/x", 0o755, data))
		if err != nil && len(pkgs) > 0 {
			t.Fatalf("packages and an error")
		}
	})
}
