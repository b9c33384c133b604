package sbom

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// Property names; see the package documentation.
const (
	propCataloger    = "vigil:package:cataloger"
	propEvidence     = "vigil:package:evidence"
	propArch         = "vigil:package:arch"
	propSourceName   = "vigil:source:name"
	propSourceVer    = "vigil:source:version"
	propLayerIndex   = "vigil:layer:index"
	propLayerDiffID  = "vigil:layer:diffId"
	propLayerDigest  = "vigil:layer:digest"
	propLocation     = "vigil:location:" // + n + ":path"
	propMetadata     = "vigil:metadata:"
	propGoCode       = "vigil:go:code"
	propPlatform     = "vigil:image:platform"
	propRepoTag      = "vigil:image:repoTag"
	propImageLayer   = "vigil:image:layer:" // + i + ":diffId" / ":digest"
	propDistroName   = "vigil:distro:name"
	propDistroPretty = "vigil:distro:prettyName"
	propDistroCode   = "vigil:distro:codename"
	propDistroIDLike = "vigil:distro:idLike"
	propDistroSource = "vigil:distro:source"
)

// props is a multi-valued view of name/value pairs, from CycloneDX
// properties or SPDX annotations.
type props map[string][]string

func (p props) get(name string) string {
	if v := p[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// first returns the value of the first of names that is present.
func (p props) first(names ...string) string {
	for _, n := range names {
		if v := p.get(n); v != "" {
			return v
		}
	}
	return ""
}

// packageProps lists what a package carries beyond the fields its format
// has, in a fixed order so that output is reproducible. paths says whether
// the file locations go here too (SPDX) or elsewhere (CycloneDX).
func packageProps(p *inventory.Package, paths bool) [][2]string {
	var out [][2]string
	add := func(name, value string) {
		if value != "" {
			out = append(out, [2]string{name, value})
		}
	}
	add(propCataloger, p.Cataloger)
	add(propEvidence, string(p.Evidence))
	add(propArch, p.Arch)
	if p.Source != nil {
		add(propSourceName, p.Source.Name)
		add(propSourceVer, p.Source.Version)
	}
	add(propLayerIndex, strconv.Itoa(p.Layer.Index))
	add(propLayerDiffID, p.Layer.DiffID)
	add(propLayerDigest, p.Layer.Digest)
	if paths {
		for i, l := range append([]string{p.Path}, p.Locations...) {
			add(propLocation+strconv.Itoa(i)+":path", l)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Metadata)) {
		add(propMetadata+strings.ReplaceAll(k, ".", ":"), p.Metadata[k])
	}
	if p.GoCode != nil {
		// Maps marshal with sorted keys: the same code, the same bytes.
		if data, err := json.Marshal(p.GoCode); err == nil {
			add(propGoCode, string(data))
		}
	}
	return out
}

// subjectProps lists what the image carries beyond name and digest.
func subjectProps(s Subject) [][2]string {
	var out [][2]string
	if s.Platform != "" {
		out = append(out, [2]string{propPlatform, s.Platform})
	}
	for _, t := range s.RepoTags {
		out = append(out, [2]string{propRepoTag, t})
	}
	for _, l := range s.Layers {
		n := propImageLayer + strconv.Itoa(l.Index)
		if l.DiffID != "" {
			out = append(out, [2]string{n + ":diffId", l.DiffID})
		}
		if l.Digest != "" {
			out = append(out, [2]string{n + ":digest", l.Digest})
		}
	}
	return out
}

// distroProps lists what the distribution carries beyond ID and VERSION_ID.
func distroProps(d *inventory.Distro) [][2]string {
	var out [][2]string
	add := func(name, value string) {
		if value != "" {
			out = append(out, [2]string{name, value})
		}
	}
	add(propDistroName, d.Name)
	add(propDistroPretty, d.PrettyName)
	add(propDistroCode, d.Codename)
	for _, l := range d.IDLike {
		add(propDistroIDLike, l)
	}
	add(propDistroSource, d.Source)
	return out
}

// readSubjectProps fills the parts of s that subjectProps wrote.
func readSubjectProps(s *Subject, p props) error {
	s.Platform = p.get(propPlatform)
	s.RepoTags = p[propRepoTag]
	if s.RepoTags == nil {
		s.RepoTags = p["aquasecurity:trivy:RepoTag"]
	}
	layers := map[int]*inventory.LayerRef{}
	for name, values := range p {
		rest, ok := strings.CutPrefix(name, propImageLayer)
		if !ok {
			continue
		}
		idx, field, _ := strings.Cut(rest, ":")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 {
			return fmt.Errorf("sbom: image property %s: bad layer index", name)
		}
		l := layers[i]
		if l == nil {
			l = &inventory.LayerRef{Index: i}
			layers[i] = l
		}
		switch field {
		case "diffId":
			l.DiffID = values[0]
		case "digest":
			l.Digest = values[0]
		}
	}
	// Keep only layers the document says something about, as
	// subjectProps writes only those.
	maps.DeleteFunc(layers, func(_ int, l *inventory.LayerRef) bool { return l.DiffID == "" && l.Digest == "" })
	for _, i := range slices.Sorted(maps.Keys(layers)) {
		s.Layers = append(s.Layers, *layers[i])
	}
	if len(layers) == 0 {
		// Trivy lists the diff IDs in order.
		for i, d := range p["aquasecurity:trivy:DiffID"] {
			if d != "" {
				s.Layers = append(s.Layers, inventory.LayerRef{Index: i, DiffID: d})
			}
		}
	}
	return nil
}

// readDistro builds the distribution from an operating-system component
// or package and its properties (Vigil's or Syft's).
func readDistro(name, version string, p props) *inventory.Distro {
	var idLike []string
	for _, l := range p[propDistroIDLike] {
		if l != "" {
			idLike = append(idLike, l)
		}
	}
	d := &inventory.Distro{
		ID:         name,
		VersionID:  version,
		Name:       p.first(propDistroName, "syft:distro:name"),
		PrettyName: p.first(propDistroPretty, "syft:distro:prettyName"),
		Codename:   p.first(propDistroCode, "syft:distro:versionCodename"),
		IDLike:     idLike,
		Source:     p.get(propDistroSource),
	}
	if d.ID == "" {
		d.ID = p.get("syft:distro:id")
	}
	if d.VersionID == "" {
		d.VersionID = p.get("syft:distro:versionID")
	}
	if d.ID == "" {
		return nil // nothing to go by; the purls may tell
	}
	return d
}
