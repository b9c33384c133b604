package analyze

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/distro"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
)

// stack is the image's layers seen together: the final filesystem.
type stack struct {
	layers    []*LayerResult
	whiteouts []map[string]bool
	opaques   []map[string]bool
	// files indexes each layer's cataloged files by path and cataloger,
	// with the keys of the packages found there.
	files []map[fileKey]map[string]bool
}

type fileKey struct{ path, cataloger string }

func newStack(layers []*LayerResult) *stack {
	s := &stack{layers: layers}
	for _, r := range layers {
		wh, op := map[string]bool{}, map[string]bool{}
		for _, p := range r.Whiteouts {
			wh[p] = true
		}
		for _, p := range r.Opaques {
			op[p] = true
		}
		files := map[fileKey]map[string]bool{}
		for _, f := range r.Files {
			keys := map[string]bool{}
			for i := range f.Packages {
				keys[f.Packages[i].Key()] = true
			}
			files[fileKey{f.Path, f.Cataloger}] = keys
		}
		s.whiteouts = append(s.whiteouts, wh)
		s.opaques = append(s.opaques, op)
		s.files = append(s.files, files)
	}
	return s
}

// deletes reports whether layer j removes p of the layers below it other
// than by writing p itself: a whiteout of p or of a directory above it, an
// opaque directory above it, or a file or link where a directory above it
// was.
func (s *stack) deletes(j int, p string) bool {
	if s.whiteouts[j][p] {
		return true
	}
	r := s.layers[j]
	return ancestors(p, func(d string) bool {
		return s.whiteouts[j][d] || s.opaques[j][d] || r.NonDirs.has(d)
	})
}

// hidden reports whether the file p of layer i is not part of the final
// filesystem: some layer above replaced or deleted it.
func (s *stack) hidden(p string, i int) bool {
	for j := i + 1; j < len(s.layers); j++ {
		if s.layers[j].Entries.has(p) || s.deletes(j, p) {
			return true
		}
	}
	return false
}

// introducedIn returns the lowest layer from which the package with key k,
// found in file p of layer top, has been present without interruption.
func (s *stack) introducedIn(k string, f fileKey, top int) int {
	intro := top
	for i := top - 1; i >= 0; i-- {
		if s.deletes(i+1, f.path) {
			break
		}
		if keys, ok := s.files[i][f]; ok {
			if !keys[k] {
				break
			}
			intro = i
			continue
		}
		if s.layers[i].Entries.has(f.path) {
			// The file was there, and listed nothing, or nothing that
			// a cataloger could read.
			break
		}
	}
	return intro
}

// read returns the final content of a file that distribution detection
// asked the walk to keep, following symbolic links within the image.
func (s *stack) read(p string) ([]byte, bool) {
	for hops := 0; hops < 16; hops++ {
		b, target, found := s.lookup(p)
		switch {
		case b != nil:
			return b, true
		case found:
			p, _ = resolveLink(p, target)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (s *stack) lookup(p string) (content []byte, link string, found bool) {
	for j := len(s.layers) - 1; j >= 0; j-- {
		r := s.layers[j]
		if b, ok := r.System[p]; ok {
			if b == nil {
				b = []byte{}
			}
			return b, "", true
		}
		if t, ok := r.Symlinks[p]; ok {
			return nil, t, true
		}
		if r.Entries.has(p) || s.deletes(j, p) {
			return nil, "", false
		}
	}
	return nil, "", false
}

// merge combines the layers' results into the image's inventory.
func merge(results []*LayerResult, layers []*image.Layer) *Result {
	res := &Result{}
	for i, r := range results {
		for _, w := range r.Warnings {
			w.Layer, w.DiffID = i, r.DiffID
			res.Warnings = append(res.Warnings, w)
		}
	}
	s := newStack(results)
	var pkgs []inventory.Package
	for i, r := range results {
		for _, f := range r.Files {
			if s.hidden(f.Path, i) {
				continue
			}
			for _, p := range f.Packages {
				intro := s.introducedIn(p.Key(), fileKey{f.Path, f.Cataloger}, i)
				p.Layer = inventory.LayerRef{Index: intro, DiffID: results[intro].DiffID}
				if intro < len(layers) {
					p.Layer.Digest = layers[intro].Digest
				}
				pkgs = append(pkgs, p)
			}
		}
	}
	markOwned(s, pkgs)
	d := distro.Detect(s.read)
	if d == nil {
		d = distro.FromPackages(pkgs)
	}
	for i := range pkgs {
		pkgs[i].PURL = inventory.PURL(&pkgs[i], d)
	}
	res.Inventory = inventory.Inventory{Distro: d, Packages: dedupe(pkgs)}
	return res
}

// markOwned notes, on each language package, the OS package that installed
// its file, when the final filesystem's package manager lists it.
func markOwned(s *stack, pkgs []inventory.Package) {
	type owned struct {
		files pathSet
		owner string
	}
	var lists []owned
	for i, r := range s.layers {
		for _, o := range r.Owned {
			if !s.hidden(o.List, i) {
				lists = append(lists, owned{o.Files, o.Owner})
			}
		}
	}
	if len(lists) == 0 {
		return
	}
	for i := range pkgs {
		p := &pkgs[i]
		if p.Type.IsOS() {
			continue
		}
		file := strings.TrimPrefix(p.Path, "/")
		if outer, _, nested := strings.Cut(file, "!/"); nested {
			file = outer
		}
		for _, l := range lists {
			if l.files.has(file) {
				if p.Metadata == nil {
					p.Metadata = map[string]string{}
				} else {
					p.Metadata = maps.Clone(p.Metadata)
				}
				p.Metadata[inventory.MetaOwner] = l.owner
				break
			}
		}
	}
}

// dedupe folds packages that are the same package seen twice: a lock file
// entry for a package that is also installed becomes a further location
// of the installed one, and a package listed twice in one file is kept
// once.
func dedupe(pkgs []inventory.Package) []inventory.Package {
	type at struct{ purl, path string }
	var (
		out       = make([]inventory.Package, 0, len(pkgs))
		seen      = map[at]bool{}
		installed = map[string]int{} // purl → index in out
	)
	keep := func(p inventory.Package) {
		if k := (at{p.PURL, p.Path}); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	for _, p := range pkgs {
		if p.Evidence != inventory.Declared {
			if _, ok := installed[p.PURL]; !ok {
				installed[p.PURL] = len(out)
			}
			keep(p)
		}
	}
	for _, p := range pkgs {
		if p.Evidence != inventory.Declared {
			continue
		}
		if i, ok := installed[p.PURL]; ok {
			if !slices.Contains(out[i].Locations, p.Path) {
				out[i].Locations = append(out[i].Locations, p.Path)
			}
			continue
		}
		keep(p)
	}
	sortPackages(out)
	return out
}

func sortPackages(pkgs []inventory.Package) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := &pkgs[i], &pkgs[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Evidence > b.Evidence // installed before declared
	})
}
