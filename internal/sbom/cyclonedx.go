package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/vigilsec/vigil/internal/inventory"
)

// EncodeCycloneDX writes inv as a CycloneDX 1.6 JSON document.
func EncodeCycloneDX(w io.Writer, s Subject, inv *inventory.Inventory, t Tool, now time.Time) error {
	bom := cycloneDXBOM(s, inv, t, now)
	// The serial number is derived from the document written without it,
	// hashed as it is encoded rather than kept: the document of an image
	// of 25,000 packages is tens of megabytes.
	h := newDocumentHash()
	if err := writeCycloneDX(h, bom); err != nil {
		return err
	}
	bom.SerialNumber = "urn:uuid:" + documentIDOf(h)
	return writeCycloneDX(w, bom)
}

func writeCycloneDX(w io.Writer, bom *cdx.BOM) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.Encode(bom); err != nil {
		return fmt.Errorf("sbom: encode cyclonedx: %w", err)
	}
	return nil
}

func cycloneDXBOM(s Subject, inv *inventory.Inventory, t Tool, now time.Time) *cdx.BOM {
	image := cdx.Component{
		BOMRef:     imageRef(s),
		Type:       cdx.ComponentTypeContainer,
		Name:       s.Name,
		Version:    s.Digest,
		Properties: cdxProps(subjectProps(s)),
	}
	if image.Name == "" {
		image.Name = "unknown"
	}
	var comps []cdx.Component
	var refs []string
	if d := inv.Distro; d != nil && d.ID != "" {
		c := cdx.Component{
			BOMRef:      "os:" + strings.TrimSuffix(d.ID+"@"+d.VersionID, "@"),
			Type:        cdx.ComponentTypeOS,
			Name:        d.ID,
			Version:     d.VersionID,
			Description: d.PrettyName,
			Properties:  cdxProps(distroProps(d)),
		}
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	used := map[string]bool{}
	for i := range inv.Packages {
		p := &inv.Packages[i]
		c := cdxComponent(p, inv.Distro)
		c.BOMRef = uniqueRef(packageRef(p, c.PackageURL), used)
		comps = append(comps, c)
		refs = append(refs, c.BOMRef)
	}
	bom := &cdx.BOM{
		JSONSchema:  "http://cyclonedx.org/schema/bom-1.6.schema.json",
		BOMFormat:   cdx.BOMFormat,
		SpecVersion: cdx.SpecVersion1_6,
		Version:     1,
		Metadata: &cdx.Metadata{
			Timestamp: now.UTC().Format(time.RFC3339),
			Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
				Type:    cdx.ComponentTypeApplication,
				Name:    t.Name,
				Version: t.Version,
			}}},
			Component: &image,
		},
	}
	// The schema wants arrays to be absent rather than empty.
	if len(comps) > 0 {
		bom.Components = &comps
		bom.Dependencies = &[]cdx.Dependency{{Ref: image.BOMRef, Dependencies: &refs}}
	}
	return bom
}

func cdxComponent(p *inventory.Package, d *inventory.Distro) cdx.Component {
	purl := p.PURL
	if purl == "" {
		purl = inventory.PURL(p, d)
	}
	c := cdx.Component{
		Type:       cdx.ComponentTypeLibrary,
		Name:       p.Name,
		Version:    p.Version,
		PackageURL: purl,
		Licenses:   cdxLicenses(p.Licenses),
		Properties: cdxProps(packageProps(p, false)),
	}
	if len(p.CPEs) > 0 {
		c.CPE = p.CPEs[0]
	}
	if p.Type == inventory.Maven {
		// CycloneDX names Maven artifacts by group and name.
		if g, a, ok := strings.Cut(p.Name, ":"); ok {
			c.Group, c.Name = g, a
		}
	}
	var occ []cdx.EvidenceOccurrence
	for _, l := range append([]string{p.Path}, p.Locations...) {
		if l != "" {
			occ = append(occ, cdx.EvidenceOccurrence{Location: l})
		}
	}
	if len(occ) > 0 {
		c.Evidence = &cdx.Evidence{Occurrences: &occ}
	}
	return c
}

// cdxLicenses writes the licenses as one SPDX expression when they all
// are, and otherwise each as a named license (an "id" would have to be in
// the schema's license list, which lags SPDX's).
func cdxLicenses(ls []string) *cdx.Licenses {
	ls = nonEmpty(ls)
	if len(ls) == 0 {
		return nil
	}
	all := true
	for _, l := range ls {
		all = all && validExpression(l)
	}
	if all {
		return &cdx.Licenses{{Expression: joinExpressions(ls)}}
	}
	out := make(cdx.Licenses, 0, len(ls))
	for _, l := range ls {
		out = append(out, cdx.LicenseChoice{License: &cdx.License{Name: l}})
	}
	return &out
}

func cdxProps(kv [][2]string) *[]cdx.Property {
	if len(kv) == 0 {
		return nil
	}
	out := make([]cdx.Property, len(kv))
	for i, p := range kv {
		out[i] = cdx.Property{Name: p[0], Value: p[1]}
	}
	return &out
}

// imageRef is the image's bom-ref: its digest when known.
func imageRef(s Subject) string {
	if s.Digest != "" {
		return "image:" + s.Digest
	}
	return "image:" + s.Name
}

// packageRef is a bom-ref for p: its purl, made unique (the same Go
// module in two binaries has one purl) with a digest of where p was found.
func packageRef(p *inventory.Package, purl string) string {
	h := sha256.New()
	for _, f := range []string{string(p.Type), p.Name, p.Version, p.Arch, p.Path, strings.Join(p.Locations, "\x00"), strconv.Itoa(p.Layer.Index), p.Layer.DiffID, p.Cataloger} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	id := hex.EncodeToString(h.Sum(nil))[:16]
	sep := "?"
	if strings.Contains(purl, "?") {
		sep = "&"
	}
	return purl + sep + "package-id=" + id
}

// uniqueRef returns ref, suffixed if it is already used (two identical
// packages in one inventory).
func uniqueRef(ref string, used map[string]bool) string {
	r := ref
	for n := 2; used[r]; n++ {
		r = ref + "-" + strconv.Itoa(n)
	}
	used[r] = true
	return r
}

func decodeCycloneDX(data []byte) (Subject, *inventory.Inventory, error) {
	var bom cdx.BOM
	if err := json.Unmarshal(data, &bom); err != nil {
		return Subject{}, nil, fmt.Errorf("sbom: cyclonedx: %w", err)
	}
	var s Subject
	if m := bom.Metadata; m != nil && m.Component != nil {
		c := m.Component
		s.Name = c.Name
		if isDigest(c.Version) {
			s.Digest = c.Version
		}
		if err := readSubjectProps(&s, cdxPropMap(c.Properties)); err != nil {
			return Subject{}, nil, err
		}
	}

	var (
		comps  []component
		distro *inventory.Distro
	)
	// Components may nest; walk them all, depth first, in document order.
	stack := [][]cdx.Component{}
	if bom.Components != nil {
		stack = append(stack, *bom.Components)
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		if len(top) == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		c := top[0]
		stack[len(stack)-1] = top[1:]
		if c.Components != nil {
			stack = append(stack, *c.Components)
		}
		ps := cdxPropMap(c.Properties)
		if c.Type == cdx.ComponentTypeOS {
			if distro == nil {
				distro = readDistro(c.Name, c.Version, ps)
			}
			continue
		}
		comp := component{name: c.Name, group: c.Group, version: c.Version, purl: c.PackageURL, props: ps}
		if c.CPE != "" {
			comp.cpes = []string{c.CPE}
		}
		comp.licenses = cdxLicenseStrings(c.Licenses)
		if c.Evidence != nil && c.Evidence.Occurrences != nil {
			for _, o := range *c.Evidence.Occurrences {
				if o.Location != "" {
					comp.paths = append(comp.paths, o.Location)
				}
			}
		}
		comps = append(comps, comp)
	}
	inv, err := buildInventory(s, comps, distro)
	if err != nil {
		return Subject{}, nil, err
	}
	return s, inv, nil
}

func cdxPropMap(ps *[]cdx.Property) props {
	m := props{}
	if ps != nil {
		for _, p := range *ps {
			m[p.Name] = append(m[p.Name], p.Value)
		}
	}
	return m
}

func cdxLicenseStrings(ls *cdx.Licenses) []string {
	if ls == nil {
		return nil
	}
	var out []string
	for _, l := range *ls {
		switch {
		case l.Expression != "":
			out = append(out, splitExpression(l.Expression)...)
		case l.License != nil && l.License.ID != "":
			out = append(out, l.License.ID)
		case l.License != nil && l.License.Name != "":
			out = append(out, l.License.Name)
		}
	}
	return out
}

// isDigest reports whether v looks like an OCI digest, as opposed to the
// tag some tools put in the image's version.
func isDigest(v string) bool {
	return strings.HasPrefix(v, "sha256:") || strings.HasPrefix(v, "sha512:")
}
