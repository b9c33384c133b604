package gobin

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// maxNameTable bounds the function name table read from one binary. The
// largest Go binaries in common images (kubelet, terraform providers)
// have tables of 5–15 MiB; a claimed size beyond this is not believed and
// the binary is reported without symbols.
const maxNameTable = 64 << 20

// The magic numbers of the pclntab header, by the toolchains that write
// them. Older formats (Go 1.2–1.15) keep names beside each function
// rather than in one table, and are not read.
const (
	magic116 = 0xfffffffa // Go 1.16, 1.17
	magic118 = 0xfffffff0 // Go 1.18, 1.19
	magic120 = 0xfffffff1 // Go 1.20 and later
)

// functionNames returns the name of every function whose code is in an
// ELF Go binary: those compiled as functions and those only inlined into
// others. The linker writes both into the pclntab's function name table
// (inlined calls name their callee there too), so reading that table sees
// calls that a symbol table (`go tool nm`) does not list. It works on
// stripped binaries, since the runtime needs the table. ok is false when
// the binary is not ELF or its table cannot be found or read; an error is
// returned only when reading the file fails.
func functionNames(r io.ReaderAt) (names []string, ok bool, err error) {
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, false, nil // not ELF (Mach-O, PE): no symbols
	}
	sec := ef.Section(".gopclntab")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		// Externally linked PIE binaries keep the table inside
		// .data.rel.ro, found only through the symbol table.
		return nil, false, nil
	}
	var hdr [8 + 8*8]byte
	n, err := sec.ReadAt(hdr[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("read .gopclntab: %w", err)
	}
	h := hdr[:n]
	if len(h) < 8 {
		return nil, false, nil
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if ef.Data == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	magic, ptr := bo.Uint32(h), int(h[7])
	if h[4] != 0 || h[5] != 0 || (ptr != 4 && ptr != 8) {
		return nil, false, nil
	}
	word := func(i int) (uint64, bool) {
		off := 8 + i*ptr
		if off+ptr > len(h) {
			return 0, false
		}
		if ptr == 4 {
			return uint64(bo.Uint32(h[off:])), true
		}
		return bo.Uint64(h[off:]), true
	}
	// Header words after magic, pad, minLC and ptrSize: nfunc, nfiles,
	// [textStart (1.18+)], funcnameOffset, cuOffset, …
	first := 2
	switch magic {
	case magic118, magic120:
		first = 3
	case magic116:
	default:
		return nil, false, nil
	}
	start, ok1 := word(first)
	end, ok2 := word(first + 1)
	if !ok1 || !ok2 || end < start || end > sec.Size || end-start > maxNameTable {
		return nil, false, nil
	}
	table := make([]byte, end-start)
	if _, err := sec.ReadAt(table, int64(start)); err != nil {
		return nil, false, fmt.Errorf("read .gopclntab name table: %w", err)
	}
	for len(table) > 0 {
		i := bytes.IndexByte(table, 0)
		if i < 0 {
			i = len(table)
		}
		if i > 0 {
			names = append(names, string(table[:i]))
		}
		table = table[min(i+1, len(table)):]
	}
	return names, true, nil
}

// splitFunc splits a linker function name into its package's import path
// and the symbol as Go vulnerability data names it: "Parse" for a
// function, "Type.Method" for a method with either receiver. Generic
// instantiations lose their type arguments, and a method value wrapper
// ("T.M-fm") counts as its method. Closures ("F.func1"), init functions
// and wrappers give pkg with an empty sym: they show the package is in
// the binary but no advisory names them. The linker's own names
// ("type:.eq.T", "go:buildid") give ok false.
func splitFunc(name string) (pkg, sym string, ok bool) {
	if strings.HasPrefix(name, "type:") || strings.HasPrefix(name, "go:") || strings.HasPrefix(name, "go.") {
		return "", "", false
	}
	// The package path ends at the first "." after its last "/"; a "/"
	// or "." inside brackets (type arguments) does not count.
	plain := cutBrackets(name)
	slash := strings.LastIndexByte(plain, '/')
	dot := strings.IndexByte(plain[slash+1:], '.')
	if dot < 0 {
		return "", "", false
	}
	pkg, rest := plain[:slash+1+dot], plain[slash+1+dot+1:]
	if pkg == "" || rest == "" {
		return "", "", false
	}
	rest = strings.TrimSuffix(rest, "-fm")
	parts := strings.Split(rest, ".")
	switch len(parts) {
	case 1:
		sym = parts[0]
	case 2:
		recv := strings.TrimSuffix(strings.TrimPrefix(parts[0], "(*"), ")")
		if recv == "init" || isWrapper(parts[1]) {
			return pkg, "", true
		}
		sym = recv + "." + parts[1]
	default:
		return pkg, "", true // closures of methods and deeper
	}
	if sym == "init" || isWrapper(sym) {
		return pkg, "", true
	}
	return pkg, sym, true
}

// isWrapper names the compiler's closures and call wrappers.
func isWrapper(s string) bool {
	for _, p := range []string{"func", "gowrap", "deferwrap"} {
		if rest, ok := strings.CutPrefix(s, p); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}

// cutBrackets removes every [...] group (type arguments) from a name.
func cutBrackets(s string) string {
	if !strings.Contains(s, "[") {
		return s
	}
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// attachCode gives each module of pkgs the functions of its packages
// found in names: a package belongs to the module with the longest path
// that is it or a prefix of it at a "/", the standard library's packages
// (no "." in the first element) to "stdlib", and the main package to the
// main module. Every module of a binary with readable names gets a
// GoCode, with no packages when none of its code is in the binary.
func attachCode(pkgs []inventory.Package, names []string, goos, goarch string) {
	mods := map[string]int{}
	mainMod := -1
	for i := range pkgs {
		mods[pkgs[i].Name] = i
		if pkgs[i].Metadata["go.main"] == "true" {
			mainMod = i
		}
		pkgs[i].GoCode = &inventory.GoCode{Packages: map[string][]string{}, GOOS: goos, GOARCH: goarch}
	}
	owner := func(pkg string) int {
		if pkg == "main" {
			return mainMod
		}
		for p := pkg; ; {
			if i, ok := mods[p]; ok && p != "stdlib" {
				return i
			}
			j := strings.LastIndexByte(p, '/')
			if j < 0 {
				break
			}
			p = p[:j]
		}
		first, _, _ := strings.Cut(pkg, "/")
		if !strings.Contains(first, ".") {
			if i, ok := mods["stdlib"]; ok {
				return i
			}
		}
		return -1
	}
	for _, n := range names {
		pkg, sym, ok := splitFunc(n)
		if !ok {
			continue
		}
		i := owner(pkg)
		if i < 0 {
			continue
		}
		code := pkgs[i].GoCode.Packages
		syms := code[pkg]
		if sym != "" {
			syms = append(syms, sym)
		}
		if syms == nil {
			syms = []string{}
		}
		code[pkg] = syms
	}
	for i := range pkgs {
		code := pkgs[i].GoCode.Packages
		for p, syms := range code {
			slices.Sort(syms)
			code[p] = slices.Compact(syms)
		}
	}
}
