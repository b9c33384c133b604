package gobin

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// codeOf returns the packages' functions as "import/path.Symbol" lines,
// and the set of packages, from a cataloged binary.
func codeOf(t *testing.T, pkgs []inventory.Package) (map[string]bool, map[string]*inventory.Package) {
	t.Helper()
	funcs, owner := map[string]bool{}, map[string]*inventory.Package{}
	for i := range pkgs {
		p := &pkgs[i]
		if p.GoCode == nil {
			t.Fatalf("%s: no GoCode", p.Name)
		}
		for path, syms := range p.GoCode.Packages {
			if !slices.IsSorted(syms) {
				t.Errorf("%s: symbols not sorted", path)
			}
			owner[path] = p
			for _, s := range syms {
				funcs[path+"."+s] = true
			}
		}
	}
	return funcs, owner
}

// nmFuncs lists the text symbols `go tool nm` prints for a binary, split
// as Go vulnerability data names them.
func nmFuncs(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out := run(t, "", nil, goTool(t), "tool", "nm", bin)
	funcs := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || (f[1] != "T" && f[1] != "t") {
			continue
		}
		// nm marks assembly functions with their ABI (".abi0"); the
		// function table names them plainly.
		name := strings.TrimSuffix(strings.Join(f[2:], " "), ".abi0")
		if name == "runtime.text" || name == "runtime.etext" {
			continue // the bounds of the text section, not functions
		}
		if pkg, sym, ok := splitFunc(name); ok && sym != "" {
			funcs[pkg+"."+sym] = true
		}
	}
	if len(funcs) < 1000 {
		t.Fatalf("go tool nm listed only %d functions:\n%.2000s", len(funcs), out)
	}
	return funcs
}

// TestCodeOfImageBinary compares the functions read from the real app
// image's Go binary with the symbol table `go tool nm` prints: every
// function there is found, each in its module, and so are functions that
// were only inlined, which nm cannot show — main.go calls
// language.Parse, a one-line wrapper the compiler inlines.
func TestCodeOfImageBinary(t *testing.T) {
	bin, _ := testenv.ImageFile(t, "debian-bullseye-app", "usr/local/bin/vulnfixture")
	pkgs, err := catalogFile(t, bin)
	if err != nil {
		t.Fatal(err)
	}
	got, owner := codeOf(t, pkgs)
	ref := nmFuncs(t, bin)
	missing := 0
	for f := range ref {
		if !got[f] {
			if missing++; missing <= 10 {
				t.Errorf("nm lists %s; the cataloger does not", f)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of nm's %d functions missing", missing, len(ref))
	}
	for path, mod := range map[string]string{
		"golang.org/x/text/language": "golang.org/x/text", "golang.org/x/text/internal/language": "golang.org/x/text",
		"github.com/gin-gonic/gin": "github.com/gin-gonic/gin", "net/http": "stdlib", "runtime": "stdlib", "main": "example.com/vulnfixture",
	} {
		if p := owner[path]; p == nil || p.Name != mod {
			t.Errorf("package %s: owner %v, want %s", path, p, mod)
		}
	}
	src, err := os.ReadFile(testenv.Shared(t, "lang/gobin/main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "language.Parse(") {
		t.Fatal("the fixture no longer calls language.Parse")
	}
	if ref["golang.org/x/text/language.Parse"] {
		t.Log("language.Parse was not inlined by this toolchain")
	}
	if !got["golang.org/x/text/language.Parse"] {
		t.Error("language.Parse, called by main, is not among the binary's functions")
	}
	// Vulnerable functions the program never calls are absent.
	for _, f := range []string{"golang.org/x/text/language.ParseAcceptLanguage", "github.com/gin-gonic/gin.Context.ClientIP", "golang.org/x/sys/unix.Faccessat"} {
		if got[f] || ref[f] {
			t.Errorf("%s is in the binary (cataloger %v, nm %v)", f, got[f], ref[f])
		}
	}
	for _, p := range pkgs {
		if p.GoCode.GOOS != "linux" || p.GoCode.GOARCH != "amd64" {
			t.Errorf("%s: platform %s/%s", p.Name, p.GoCode.GOOS, p.GoCode.GOARCH)
		}
	}
}

// TestCodeOfStrippedBinary: -s -w removes the symbol table nm reads, not
// the function table the runtime needs, so the answer does not change.
func TestCodeOfStrippedBinary(t *testing.T) {
	dir := copyFixture(t)
	full, err := catalogFile(t, build(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	stripped := build(t, dir, "-ldflags=-s -w")
	ef, err := elf.Open(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if syms, _ := ef.Symbols(); len(syms) != 0 {
		t.Fatalf("the stripped binary still has %d symbols", len(syms))
	}
	ef.Close()
	got, err := catalogFile(t, stripped)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := codeOf(t, full)
	b, _ := codeOf(t, got)
	if len(a) < 1000 || len(a) != len(b) {
		t.Errorf("%d functions unstripped, %d stripped", len(a), len(b))
	}
	for f := range a {
		if !b[f] {
			t.Errorf("stripped binary lacks %s", f)
			break
		}
	}
}

// TestCorruptFunctionTable: a pclntab header that points outside its
// section leaves the modules without GoCode (unknown), never fails the
// catalog, and never makes the cataloger allocate what it claims.
func TestCorruptFunctionTable(t *testing.T) {
	src, _ := testenv.ImageFile(t, "debian-bullseye-app", "usr/local/bin/vulnfixture")
	for _, tc := range []struct {
		name  string
		word  int // header word to overwrite (after the 8-byte prefix)
		value uint64
	}{
		{"name table end past the section", 4, 1 << 40},
		{"name table start after its end", 3, 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := copyFile(t, src, -1)
			ef, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			sec := ef.Section(".gopclntab")
			ef.Close()
			if sec == nil {
				t.Fatal("no .gopclntab")
			}
			f, err := os.OpenFile(bin, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], tc.value)
			if _, err := f.WriteAt(b[:], int64(sec.Offset)+8+int64(tc.word)*8); err != nil {
				t.Fatal(err)
			}
			f.Close()
			pkgs, err := catalogFile(t, bin)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) == 0 {
				t.Fatal("no packages")
			}
			for _, p := range pkgs {
				if p.GoCode != nil {
					t.Errorf("%s: GoCode from a corrupt table", p.Name)
				}
			}
		})
	}
}

func TestSplitFunc(t *testing.T) {
	for _, tc := range []struct{ name, pkg, sym string }{
		{"golang.org/x/text/language.Parse", "golang.org/x/text/language", "Parse"},
		{"github.com/gin-gonic/gin.(*Context).ClientIP", "github.com/gin-gonic/gin", "Context.ClientIP"},
		{"github.com/gin-gonic/gin.errorMsgs.JSON", "github.com/gin-gonic/gin", "errorMsgs.JSON"},
		{"net/http.(*Server).Serve", "net/http", "Server.Serve"},
		{"net/http.(*Server).Serve-fm", "net/http", "Server.Serve"},
		{"main.main", "main", "main"},
		{"runtime.gopark", "runtime", "gopark"},
		{"slices.Sort[go.shape.[]string,go.shape.string]", "slices", "Sort"},
		{"example.com/m/list.(*List[go.shape.struct { a/b.c int }]).Push", "example.com/m/list", "List.Push"},
		{"example.com/m/p.F.func1", "example.com/m/p", ""},
		{"example.com/m/p.F.gowrap2", "example.com/m/p", ""},
		{"example.com/m/p.(*T).M.func3", "example.com/m/p", ""},
		{"example.com/m/p.init", "example.com/m/p", ""},
		{"example.com/m/p.init.0", "example.com/m/p", ""},
		{"vendor/golang.org/x/net/http2/hpack.NewEncoder", "vendor/golang.org/x/net/http2/hpack", "NewEncoder"},
	} {
		pkg, sym, ok := splitFunc(tc.name)
		if !ok || pkg != tc.pkg || sym != tc.sym {
			t.Errorf("splitFunc(%q) = %q, %q, %v; want %q, %q", tc.name, pkg, sym, ok, tc.pkg, tc.sym)
		}
	}
	for _, name := range []string{"type:.eq.runtime._panic", "go:buildid", "memeqbody", "_rt0_amd64_linux", ""} {
		if pkg, sym, ok := splitFunc(name); ok {
			t.Errorf("splitFunc(%q) = %q, %q, true", name, pkg, sym)
		}
	}
}
