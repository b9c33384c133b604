package sbom

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/vigilsec/vigil/internal/inventory"
)

// Subject describes what the inventory is of.
type Subject struct {
	Name     string // reference as the user gave it
	Digest   string // manifest digest "sha256:…" or ""
	Platform string // "linux/amd64"
	RepoTags []string
	Layers   []inventory.LayerRef
}

// Tool names the program that wrote a document.
type Tool struct{ Name, Version string }

// MaxSize is the largest document Decode reads.
const MaxSize = 256 << 20

// ErrTooLarge is returned by Decode for documents over MaxSize.
var ErrTooLarge = errors.New("sbom: document larger than 256 MiB")

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
	propPlatform     = "vigil:image:platform"
	propRepoTag      = "vigil:image:repoTag"
	propImageLayer   = "vigil:image:layer:" // + i + ":diffId" / ":digest"
	propDistroName   = "vigil:distro:name"
	propDistroPretty = "vigil:distro:prettyName"
	propDistroCode   = "vigil:distro:codename"
	propDistroIDLike = "vigil:distro:idLike"
	propDistroSource = "vigil:distro:source"
)

// Decode reads a CycloneDX JSON, SPDX JSON or SPDX tag-value document.
// It returns an error for anything else, for documents over MaxSize and
// for documents that are malformed, including a package whose purl does
// not parse.
func Decode(r io.Reader) (Subject, *inventory.Inventory, error) {
	return decode(r, MaxSize)
}

func decode(r io.Reader, max int64) (s Subject, inv *inventory.Inventory, err error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return Subject{}, nil, fmt.Errorf("sbom: read: %w", err)
	}
	if int64(len(data)) > max {
		return Subject{}, nil, ErrTooLarge
	}
	// The format libraries are not written for hostile input; a panic in
	// one of them must become an error, not take the scanner down.
	defer func() {
		if p := recover(); p != nil {
			s, inv, err = Subject{}, nil, fmt.Errorf("sbom: malformed document (decoder panic): %v", p)
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return Subject{}, nil, errors.New("sbom: empty document")
	case trimmed[0] == '{':
		var probe struct {
			BOMFormat   *string `json:"bomFormat"`
			SPDXVersion *string `json:"spdxVersion"`
		}
		if err := json.Unmarshal(data, &probe); err != nil {
			return Subject{}, nil, fmt.Errorf("sbom: not valid JSON: %w", err)
		}
		switch {
		case probe.BOMFormat != nil:
			if *probe.BOMFormat != "CycloneDX" {
				return Subject{}, nil, fmt.Errorf("sbom: bomFormat %q, want \"CycloneDX\"", *probe.BOMFormat)
			}
			return decodeCycloneDX(data)
		case probe.SPDXVersion != nil:
			return decodeSPDXJSON(data, *probe.SPDXVersion)
		}
		return Subject{}, nil, errors.New("sbom: JSON document is neither CycloneDX (no bomFormat) nor SPDX (no spdxVersion)")
	case trimmed[0] == '<':
		return Subject{}, nil, errors.New("sbom: XML documents are not supported; use CycloneDX JSON or SPDX JSON")
	case bytes.HasPrefix(trimmed, []byte("SPDXVersion:")) || bytes.Contains(firstLines(trimmed), []byte("\nSPDXVersion:")):
		return decodeSPDXTagValue(data)
	}
	return Subject{}, nil, errors.New("sbom: unknown format: want CycloneDX JSON, SPDX JSON or SPDX tag-value")
}

// firstLines returns the start of a document, where a tag-value document
// names its version (after any comment lines).
func firstLines(b []byte) []byte {
	return b[:min(len(b), 4096)]
}

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

// osFromPURLs infers the distribution from the purls of OS packages, for
// documents that do not describe it otherwise (Syft's SPDX).
func osFromPURLs(pkgs []inventory.Package) *inventory.Distro {
	for _, p := range pkgs {
		if !p.Type.IsOS() {
			continue
		}
		u, err := packageurl.FromString(p.PURL)
		if err != nil {
			continue
		}
		q := u.Qualifiers.Map()["distro"]
		if q == "" {
			continue
		}
		// "debian-12", "opensuse-leap-15.5": the version starts at the
		// first "-" followed by a digit. Trivy writes the bare version
		// ("3.20.3"), leaving the ID to the namespace.
		id, version := q, ""
		for i := 0; i < len(q); i++ {
			if q[i] >= '0' && q[i] <= '9' && (i == 0 || q[i-1] == '-') {
				id, version = strings.TrimSuffix(q[:i], "-"), q[i:]
				break
			}
		}
		if id == "" {
			id = idFromNamespace(u.Namespace)
		}
		if id == "" {
			continue
		}
		return &inventory.Distro{ID: id, VersionID: version, Source: "packages"}
	}
	return nil
}

// idFromNamespace undoes inventory's mapping of os-release IDs to purl
// namespaces where they differ.
func idFromNamespace(ns string) string {
	switch ns {
	case "redhat":
		return "rhel"
	case "oracle":
		return "ol"
	}
	return ns
}

// component is what a format says about one package, before it is turned
// into an inventory.Package.
type component struct {
	name, group, version, purl string
	licenses                   []string
	paths                      []string
	props                      props
	sourceInfo                 string // SPDX sourceInfo
}

// pkg turns c into a package. It returns false for components that are
// not packages of a type Vigil knows (files, the image, binaries found by
// signature), and an error for a malformed purl or property.
func (c *component) pkg() (inventory.Package, bool, error) {
	if c.purl == "" {
		return inventory.Package{}, false, nil
	}
	u, err := packageurl.FromString(c.purl)
	if err != nil {
		return inventory.Package{}, false, fmt.Errorf("sbom: package %q: purl %q: %w", c.name, c.purl, err)
	}
	typ := inventory.Type(u.Type)
	switch typ {
	case inventory.Deb, inventory.APK, inventory.RPM, inventory.Go, inventory.NPM, inventory.PyPI,
		inventory.Maven, inventory.Gem, inventory.Cargo, inventory.Composer, inventory.NuGet:
	default:
		return inventory.Package{}, false, nil
	}
	q := u.Qualifiers.Map()
	p := inventory.Package{
		Name:      packageName(typ, c.name, c.group, u),
		Version:   c.version,
		Type:      typ,
		PURL:      c.purl,
		Arch:      c.props.get(propArch),
		Licenses:  c.licenses,
		Cataloger: c.props.first(propCataloger, "syft:package:foundBy"),
		Evidence:  inventory.Evidence(c.props.get(propEvidence)),
	}
	if p.Version == "" {
		p.Version = u.Version
	}
	if e := q["epoch"]; e != "" && typ.IsOS() && !strings.Contains(p.Version, ":") {
		p.Version = e + ":" + p.Version
	}
	if p.Arch == "" {
		p.Arch = q["arch"]
	}
	if typ == inventory.RPM {
		p.Epoch, p.Release = rpmEpochRelease(p.Version)
	}
	p.Source = source(c, q["upstream"])

	paths := c.paths
	if len(paths) == 0 {
		paths = c.locationProps()
	}
	if len(paths) > 0 {
		p.Path = paths[0]
	}
	if len(paths) > 1 {
		p.Locations = paths[1:]
	}
	if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
		p.Path = "/" + p.Path // Trivy writes paths relative to the root
	}

	p.Layer.DiffID = c.props.first(propLayerDiffID, "aquasecurity:trivy:LayerDiffID", "syft:location:0:layerID")
	p.Layer.Digest = c.props.first(propLayerDigest, "aquasecurity:trivy:LayerDigest")
	if v := c.props.get(propLayerIndex); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return inventory.Package{}, false, fmt.Errorf("sbom: package %q: %s %q is not a layer index", p.Name, propLayerIndex, v)
		}
		p.Layer.Index = i
	}

	for name, v := range c.props {
		// "=" would be ambiguous in an SPDX annotation; an empty value
		// is not written.
		if k, ok := strings.CutPrefix(name, propMetadata); ok && k != "" && !strings.Contains(k, "=") && v[0] != "" {
			if p.Metadata == nil {
				p.Metadata = map[string]string{}
			}
			p.Metadata[strings.ReplaceAll(k, ":", ".")] = v[0]
		}
	}
	return p, true, nil
}

// locationProps returns the file paths written as properties: Vigil's
// (SPDX), Syft's, or Trivy's single FilePath; or named by Syft's SPDX
// sourceInfo.
func (c *component) locationProps() []string {
	for _, prefix := range []string{propLocation, "syft:location:"} {
		var out []string
		for i := 0; ; i++ {
			v := c.props.get(prefix + strconv.Itoa(i) + ":path")
			if v == "" {
				break
			}
			out = append(out, v)
		}
		if len(out) > 0 {
			return out
		}
	}
	if v := c.props.get("aquasecurity:trivy:FilePath"); v != "" {
		return []string{v}
	}
	// Syft's SPDX: "acquired package info from DPKG DB: /var/lib/dpkg/status".
	if rest, ok := strings.CutPrefix(c.sourceInfo, "acquired package info from "); ok {
		if i := strings.LastIndex(rest, ": "); i >= 0 {
			var out []string
			for _, p := range strings.Split(rest[i+2:], ", ") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
			return out
		}
	}
	return nil
}

// packageName returns the package's name in Vigil's convention. The purl
// is authoritative, but purl parsing lower-cases some types' names (Go
// module paths are case-sensitive) and PyPI purls hold the normalized
// name, so the name as written wins when it is the same package.
func packageName(typ inventory.Type, name, group string, u packageurl.PackageURL) string {
	fromPURL := u.Name
	sep := "/"
	switch typ {
	case inventory.Go, inventory.NPM, inventory.Composer:
	case inventory.Maven:
		sep = ":"
	default:
		sep = ""
	}
	if sep != "" && u.Namespace != "" {
		fromPURL = u.Namespace + sep + u.Name
	}
	given := name
	if group != "" && sep != "" {
		given = group + sep + name
	}
	switch {
	case given == "":
		return fromPURL
	case strings.EqualFold(given, fromPURL):
		return given
	case typ == inventory.PyPI && inventory.NormalizePyPI(given) == inventory.NormalizePyPI(fromPURL):
		return given
	}
	return fromPURL
}

// source finds the source package: Vigil's properties, Trivy's, Trivy's
// SPDX sourceInfo, or the purl "upstream" qualifier (Syft writes
// "name@version" for Debian and the source RPM's file name for RPM).
func source(c *component, upstream string) *inventory.Source {
	if n := c.props.get(propSourceName); n != "" {
		return &inventory.Source{Name: n, Version: c.props.get(propSourceVer)}
	}
	if n := c.props.get("aquasecurity:trivy:SrcName"); n != "" {
		v := c.props.get("aquasecurity:trivy:SrcVersion")
		if r := c.props.get("aquasecurity:trivy:SrcRelease"); r != "" && v != "" {
			v += "-" + r
		}
		if e := c.props.get("aquasecurity:trivy:SrcEpoch"); e != "" && e != "0" && v != "" {
			v = e + ":" + v
		}
		return &inventory.Source{Name: n, Version: v}
	}
	if rest, ok := strings.CutPrefix(c.sourceInfo, "built package from: "); ok {
		n, v, _ := strings.Cut(strings.TrimSpace(rest), " ")
		if n != "" {
			return &inventory.Source{Name: n, Version: v}
		}
	}
	if upstream == "" {
		return nil
	}
	if base, ok := strings.CutSuffix(upstream, ".src.rpm"); ok {
		// name-version-release.src.rpm
		if i := strings.LastIndex(base, "-"); i > 0 {
			if j := strings.LastIndex(base[:i], "-"); j > 0 {
				return &inventory.Source{Name: base[:j], Version: base[j+1:]}
			}
		}
	}
	n, v, _ := strings.Cut(upstream, "@")
	return &inventory.Source{Name: n, Version: v}
}

// rpmEpochRelease splits an RPM "[epoch:]version-release".
func rpmEpochRelease(v string) (epoch int, release string) {
	if e, rest, ok := strings.Cut(v, ":"); ok {
		if n, err := strconv.Atoi(e); err == nil && n >= 0 {
			epoch, v = n, rest
		}
	}
	if i := strings.LastIndex(v, "-"); i >= 0 {
		release = v[i+1:]
	}
	return epoch, release
}

// buildInventory turns the components of a document into an inventory.
// d is the distribution the document states, if any.
func buildInventory(s Subject, comps []component, d *inventory.Distro) (*inventory.Inventory, error) {
	// Other tools name a package's layer by digest only; the image's
	// layer list gives its index.
	byDiffID := map[string]int{}
	for _, l := range s.Layers {
		if l.DiffID != "" {
			byDiffID[l.DiffID] = l.Index
		}
	}
	inv := &inventory.Inventory{Distro: d, Packages: []inventory.Package{}}
	for i := range comps {
		p, ok, err := comps[i].pkg()
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if comps[i].props.get(propLayerIndex) == "" {
			if idx, ok := byDiffID[p.Layer.DiffID]; ok {
				p.Layer.Index = idx
			}
		}
		inv.Packages = append(inv.Packages, p)
	}
	if inv.Distro == nil {
		inv.Distro = osFromPURLs(inv.Packages)
	}
	return inv, nil
}

// documentID derives a name-based (version 5) UUID from a document's
// content; see "Reproducible output" in the package documentation.
func documentID(content []byte) string {
	// A fixed namespace UUID for Vigil's documents (itself random).
	ns := [16]byte{0x3c, 0x1e, 0x6d, 0x0b, 0x52, 0x8f, 0x4a, 0x57, 0x9d, 0x3e, 0x11, 0x07, 0xc2, 0x4b, 0x8a, 0x60}
	h := sha1.New()
	h.Write(ns[:])
	h.Write(content)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
