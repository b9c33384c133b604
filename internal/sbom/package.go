package sbom

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/vigilsec/vigil/internal/inventory"
)

// component is what a format says about one package, before it is turned
// into an inventory.Package.
type component struct {
	name, group, version, purl string
	licenses                   []string
	paths                      []string
	// cpes are the component's CPE 2.3 names (CycloneDX cpe, SPDX
	// cpe23Type references).
	cpes       []string
	props      props
	sourceInfo string // SPDX sourceInfo
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
	case inventory.Generic:
		// A program found from its files (Syft's binary classifiers,
		// Vigil's own): only one with a CPE can be matched.
		if len(c.cpes) == 0 {
			return inventory.Package{}, false, nil
		}
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
	if typ == inventory.Generic {
		p.CPEs = c.cpes
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
	if v := c.props.get(propGoCode); v != "" && typ == inventory.Go {
		var code inventory.GoCode
		if err := json.Unmarshal([]byte(v), &code); err != nil {
			return inventory.Package{}, false, fmt.Errorf("sbom: package %q: %s is not the JSON of the code in the binary: %v", p.Name, propGoCode, err)
		}
		if code.Packages == nil {
			return inventory.Package{}, false, fmt.Errorf("sbom: package %q: %s has no packages", p.Name, propGoCode)
		}
		p.GoCode = &code
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
