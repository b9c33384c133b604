package analyze

import (
	"fmt"
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
	layers []*LayerResult
	images []*image.Layer
	// over is the warning about the first file whose packages would
	// have taken the image past maxPackages.
	over *Warning
	// files indexes each layer's cataloged files, and the hard links to
	// them, by path and cataloger; built for a layer when first needed.
	files []map[fileKey]*fileKeys
}

type fileKey struct{ path, cataloger string }

// fileKeys are the keys of the packages found in one file, worked out
// when first asked for; a file's hard links share them.
type fileKeys struct {
	f    *FileResult
	keys map[string]bool
}

func (k *fileKeys) has(key string) bool {
	if k.keys == nil {
		k.keys = make(map[string]bool, len(k.f.Packages))
		for i := range k.f.Packages {
			k.keys[k.f.Packages[i].Key()] = true
		}
	}
	return k.keys[key]
}

func newStack(layers []*LayerResult, images []*image.Layer) *stack {
	return &stack{layers: layers, images: images, files: make([]map[fileKey]*fileKeys, len(layers))}
}

// fileIndex returns layer i's index of cataloged files.
func (s *stack) fileIndex(i int) map[fileKey]*fileKeys {
	if s.files[i] != nil {
		return s.files[i]
	}
	r := s.layers[i]
	idx := make(map[fileKey]*fileKeys, len(r.Files)+len(r.Links))
	byPath := map[string][]*fileKeys{}
	for j := range r.Files {
		f := &r.Files[j]
		k := &fileKeys{f: f}
		idx[fileKey{f.Path, f.Cataloger}] = k
		byPath[f.Path] = append(byPath[f.Path], k)
	}
	for _, l := range r.Links {
		for _, k := range byPath[l.Target] {
			idx[fileKey{l.Path, k.f.Cataloger}] = k
		}
	}
	s.files[i] = idx
	return idx
}

// deletes reports whether layer j removes p of the layers below it other
// than by writing p itself: a whiteout of p or of a directory above it, an
// opaque directory above it, or a file or link where a directory above it
// was.
func (s *stack) deletes(j int, p string) bool {
	r := s.layers[j]
	if r.setHas(setWhiteouts, hashPath(p)) {
		return true
	}
	return ancestors(p, func(d string) bool {
		h := hashPath(d)
		return r.setHas(setWhiteouts, h) || r.setHas(setOpaques, h) || r.setHas(setNonDirs, h)
	})
}

// hidden reports whether the file p of layer i is not part of the final
// filesystem: some layer above replaced or deleted it.
func (s *stack) hidden(p string, i int) bool {
	for j := i + 1; j < len(s.layers); j++ {
		if s.layers[j].has(p) || s.deletes(j, p) {
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
		if keys, ok := s.fileIndex(i)[f]; ok {
			if !keys.has(k) {
				break
			}
			intro = i
			continue
		}
		if s.layers[i].has(f.path) {
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
		if r.has(p) || s.deletes(j, p) {
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
	s := newStack(results, layers)
	// Sized in advance: a layer can hold hundreds of thousands of
	// packages, and growing by appending would hold two copies at once.
	n := 0
	for _, r := range results {
		links := linksByTarget(r.Links)
		for _, f := range r.Files {
			n += len(f.Packages) * (1 + len(links[f.Path]))
		}
	}
	pkgs := make([]inventory.Package, 0, min(n, maxPackages))
	for i, r := range results {
		links := linksByTarget(r.Links)
		for fi := range r.Files {
			f := &r.Files[fi]
			pkgs = s.appendFile(pkgs, i, f, f.Path)
			for _, l := range links[f.Path] {
				pkgs = s.appendFile(pkgs, i, f, l)
			}
		}
	}
	if s.over != nil {
		res.Warnings = append(res.Warnings, *s.over)
	}
	markOwned(s, pkgs)
	pkgs = dropOwnedPrograms(pkgs)
	d := distro.Detect(s.read)
	if d == nil {
		d = distro.FromPackages(pkgs)
	}
	s.fillRedHat(d)
	if db := missingDatabase(s, d, pkgs); db != "" {
		d.MissingDatabase = db
	}
	for i := range pkgs {
		pkgs[i].PURL = inventory.PURL(&pkgs[i], d)
	}
	res.Inventory = inventory.Inventory{Distro: d, Packages: dedupe(pkgs)}
	return res
}

// appendFile appends the packages of file f of layer i, found at path p
// (f's own, or a hard link's), unless a layer above hides them.
func (s *stack) appendFile(pkgs []inventory.Package, i int, f *FileResult, p string) []inventory.Package {
	if s.over != nil || s.hidden(p, i) {
		return pkgs
	}
	results := s.layers
	for _, pkg := range f.Packages {
		if len(pkgs) == maxPackages {
			s.over = &Warning{Layer: i, DiffID: s.layers[i].DiffID, Path: p, Incomplete: f.Cataloger,
				Message: fmt.Sprintf("the image's files list more than %d packages: from this file on, in layer and path order, packages are not inventoried", maxPackages)}
			return pkgs
		}
		if p != f.Path {
			pkg.Path = "/" + p + strings.TrimPrefix(pkg.Path, "/"+f.Path)
		}
		intro := s.introducedIn(pkg.Key(), fileKey{p, f.Cataloger}, i)
		pkg.Layer = inventory.LayerRef{Index: intro, DiffID: results[intro].DiffID}
		if intro < len(s.images) {
			pkg.Layer.Digest = s.images[intro].Digest
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs
}

// linksByTarget groups a layer's hard links by the file they link to.
func linksByTarget(links []Link) map[string][]string {
	if len(links) == 0 {
		return nil
	}
	m := map[string][]string{}
	for _, l := range links {
		m[l.Target] = append(m[l.Target], l.Path)
	}
	return m
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

// dropOwnedPrograms removes the programs the binary cataloger found in
// files an OS package installed: a Debian python3.11 or an Alpine busybox
// is the distribution's package, already reported and matched as such.
func dropOwnedPrograms(pkgs []inventory.Package) []inventory.Package {
	return slices.DeleteFunc(pkgs, func(p inventory.Package) bool {
		return p.Cataloger == ownedProgramCataloger && p.Metadata[inventory.MetaOwner] != ""
	})
}

// ownedProgramCataloger is the name of the cataloger of programs found
// from their own files (package binary, which this package cannot import).
const ownedProgramCataloger = "binary"

// dedupe folds packages that are the same package seen twice: a lock file
// entry for a package that is also installed becomes a further location
// of the installed one, and a package listed twice in one file is kept
// once.
func dedupe(pkgs []inventory.Package) []inventory.Package {
	type at struct{ purl, path string }
	var (
		declared  []inventory.Package
		seen      = map[at]bool{}
		installed = map[string]int{} // purl → index in out
	)
	// In place: out never runs ahead of the package being read.
	out := pkgs[:0]
	keep := func(p inventory.Package) {
		if k := (at{p.PURL, p.Path}); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	for _, p := range pkgs {
		if p.Evidence == inventory.Declared {
			declared = append(declared, p)
			continue
		}
		if _, ok := installed[p.PURL]; !ok {
			installed[p.PURL] = len(out)
		}
		keep(p)
	}
	for _, p := range declared {
		if i, ok := installed[p.PURL]; ok {
			if !slices.Contains(out[i].Locations, p.Path) {
				out[i].Locations = append(out[i].Locations, p.Path)
			}
			continue
		}
		keep(p)
	}
	clear(pkgs[len(out):])
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
