package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/tagvalue"

	"github.com/vigilsec/vigil/internal/inventory"
)

// SPDX element IDs of the image and its distribution (without "SPDXRef-").
const (
	spdxImageID = "Image"
	spdxOSID    = "OperatingSystem"
)

// namespacePrefix starts every document namespace Vigil writes. SPDX only
// asks that the URI be unique; it need not resolve.
const namespacePrefix = "https://github.com/vigilsec/vigil/spdx/"

// EncodeSPDX writes inv as an SPDX 2.3 JSON document.
func EncodeSPDX(w io.Writer, s Subject, inv *inventory.Inventory, t Tool, now time.Time) error {
	doc := spdxDocument(s, inv, t, now)
	// The namespace is derived from the document written without it.
	var buf bytes.Buffer
	if err := writeSPDX(&buf, doc); err != nil {
		return err
	}
	doc.DocumentNamespace = namespacePrefix + sanitizeID(doc.DocumentName, 100) + "-" + documentID(buf.Bytes())
	buf.Reset()
	if err := writeSPDX(&buf, doc); err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("sbom: write spdx: %w", err)
	}
	return nil
}

func writeSPDX(w io.Writer, doc *spdx.Document) error {
	if err := spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return fmt.Errorf("sbom: encode spdx: %w", err)
	}
	return nil
}

func spdxDocument(s Subject, inv *inventory.Inventory, t Tool, now time.Time) *spdx.Document {
	created := now.UTC().Format(time.RFC3339)
	tool := t.Name
	if t.Version != "" {
		tool += "-" + t.Version
	}
	annotate := func(kv [][2]string) []spdx.Annotation {
		var out []spdx.Annotation
		for _, p := range kv {
			out = append(out, spdx.Annotation{
				Annotator:         common.Annotator{Annotator: tool, AnnotatorType: "Tool"},
				AnnotationDate:    created,
				AnnotationType:    "OTHER",
				AnnotationComment: p[0] + "=" + p[1],
			})
		}
		return out
	}
	name := s.Name
	if name == "" {
		name = "unknown"
	}
	image := &spdx.Package{
		PackageName:               name,
		PackageSPDXIdentifier:     spdxImageID,
		PackageVersion:            s.Digest,
		PackageDownloadLocation:   "NOASSERTION",
		IsFilesAnalyzedTagPresent: true,
		PrimaryPackagePurpose:     "CONTAINER",
		Annotations:               annotate(subjectProps(s)),
	}
	doc := &spdx.Document{
		SPDXVersion:    spdx.Version,
		DataLicense:    spdx.DataLicense,
		SPDXIdentifier: "DOCUMENT",
		DocumentName:   name,
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: tool}},
			Created:  created,
		},
		Packages: []*spdx.Package{image},
		Relationships: []*spdx.Relationship{{
			RefA:         common.MakeDocElementID("", "DOCUMENT"),
			RefB:         common.MakeDocElementID("", spdxImageID),
			Relationship: common.TypeRelationshipDescribe,
		}},
	}
	contains := func(id common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", spdxImageID),
			RefB:         common.MakeDocElementID("", string(id)),
			Relationship: common.TypeRelationshipContains,
		})
	}
	if d := inv.Distro; d != nil && d.ID != "" {
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName:               d.ID,
			PackageSPDXIdentifier:     spdxOSID,
			PackageVersion:            d.VersionID,
			PackageDownloadLocation:   "NOASSERTION",
			IsFilesAnalyzedTagPresent: true,
			PackageDescription:        d.PrettyName,
			PrimaryPackagePurpose:     "OPERATING_SYSTEM", // the JSON spelling of OPERATING-SYSTEM
			Annotations:               annotate(distroProps(d)),
		})
		contains(spdxOSID)
	}

	used := map[string]bool{"DOCUMENT": true, spdxImageID: true, spdxOSID: true}
	var refs licenseRefs
	for i := range inv.Packages {
		p := &inv.Packages[i]
		purl := p.PURL
		if purl == "" {
			purl = inventory.PURL(p, inv.Distro)
		}
		id := common.ElementID(uniqueRef(sanitizeID("Package-"+string(p.Type)+"-"+p.Name+"-"+p.Version, 120), used))
		sp := &spdx.Package{
			PackageName:               p.Name,
			PackageSPDXIdentifier:     id,
			PackageVersion:            p.Version,
			PackageDownloadLocation:   "NOASSERTION",
			IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded:   "NOASSERTION",
			PackageLicenseDeclared:    spdxLicense(p.Licenses, &refs),
			PackageExternalReferences: []*spdx.PackageExternalReference{{
				Category: common.CategoryPackageManager,
				RefType:  common.TypePackageManagerPURL,
				Locator:  purl,
			}},
			PrimaryPackagePurpose: "LIBRARY",
			Annotations:           annotate(packageProps(p, true)),
		}
		for _, cpe := range p.CPEs {
			sp.PackageExternalReferences = append(sp.PackageExternalReferences, &spdx.PackageExternalReference{
				Category: common.CategorySecurity, RefType: common.TypeSecurityCPE23Type, Locator: cpe,
			})
		}
		if p.Path != "" {
			sp.PackageSourceInfo = "acquired package info from " + p.Path
		}
		doc.Packages = append(doc.Packages, sp)
		contains(id)
	}
	for _, text := range refs.order {
		doc.OtherLicenses = append(doc.OtherLicenses, &spdx.OtherLicense{
			LicenseIdentifier: refs.byText[text],
			ExtractedText:     text,
			LicenseName:       text,
		})
	}
	return doc
}

// spdxLicense returns the licenseDeclared expression: the licenses ANDed,
// each that is not an SPDX expression replaced by a LicenseRef.
func spdxLicense(ls []string, refs *licenseRefs) string {
	ls = nonEmpty(ls)
	if len(ls) == 0 {
		return "NOASSERTION"
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		if validExpression(l) {
			parts[i] = l
		} else {
			parts[i] = refs.ref(l)
		}
	}
	return joinExpressions(parts)
}

func decodeSPDXJSON(data []byte, version string) (Subject, *inventory.Inventory, error) {
	var doc spdx.Document
	var err error
	if version == spdx.Version {
		err = json.Unmarshal(data, &doc)
	} else {
		// Older versions are converted by the library.
		err = spdxjson.ReadInto(bytes.NewReader(data), &doc)
	}
	if err != nil {
		return Subject{}, nil, fmt.Errorf("sbom: spdx: %w", err)
	}
	return fromSPDX(&doc)
}

func decodeSPDXTagValue(data []byte) (Subject, *inventory.Inventory, error) {
	doc, err := tagvalue.Read(bytes.NewReader(data))
	if err != nil {
		return Subject{}, nil, fmt.Errorf("sbom: spdx tag-value: %w", err)
	}
	return fromSPDX(doc)
}

func fromSPDX(doc *spdx.Document) (Subject, *inventory.Inventory, error) {
	if !strings.HasPrefix(doc.SPDXVersion, "SPDX-2.") {
		return Subject{}, nil, fmt.Errorf("sbom: spdx: unsupported version %q", doc.SPDXVersion)
	}
	extracted := map[string]string{}
	for _, l := range doc.OtherLicenses {
		if l == nil {
			continue
		}
		if l.LicenseName != "" && l.LicenseName != "NOASSERTION" {
			extracted[l.LicenseIdentifier] = l.LicenseName
		} else {
			extracted[l.LicenseIdentifier] = l.ExtractedText
		}
	}
	var (
		s      Subject
		found  bool
		distro *inventory.Distro
		comps  []component
	)
	for _, p := range doc.Packages {
		if p == nil {
			continue
		}
		ps := spdxPropMap(p.Annotations)
		// Tag-value spells it OPERATING-SYSTEM, JSON OPERATING_SYSTEM;
		// producers mix them up.
		switch strings.ReplaceAll(p.PrimaryPackagePurpose, "_", "-") {
		case "CONTAINER":
			if !found {
				found = true
				s.Name = p.PackageName
				if isDigest(p.PackageVersion) {
					s.Digest = p.PackageVersion
				}
				if err := readSubjectProps(&s, ps); err != nil {
					return Subject{}, nil, err
				}
			}
			continue
		case "OPERATING-SYSTEM":
			if distro == nil {
				distro = readDistro(p.PackageName, p.PackageVersion, ps)
			}
			continue
		}
		c := component{name: p.PackageName, version: p.PackageVersion, props: ps, sourceInfo: p.PackageSourceInfo}
		for _, r := range p.PackageExternalReferences {
			if r != nil && r.RefType == common.TypePackageManagerPURL && c.purl == "" {
				c.purl = r.Locator
			}
			if r != nil && r.RefType == common.TypeSecurityCPE23Type && r.Locator != "" {
				c.cpes = append(c.cpes, r.Locator)
			}
		}
		c.licenses = spdxLicenseStrings(p, extracted)
		comps = append(comps, c)
	}
	if !found {
		// Syft describes a directory or file, not an image; the
		// document is named for it.
		s.Name = doc.DocumentName
	}
	inv, err := buildInventory(s, comps, distro)
	if err != nil {
		return Subject{}, nil, err
	}
	return s, inv, nil
}

// spdxPropMap reads name=value pairs from Vigil's annotations, and Trivy's
// "Key: value" annotations as the properties Trivy writes in CycloneDX.
func spdxPropMap(as []spdx.Annotation) props {
	m := props{}
	for _, a := range as {
		if strings.HasPrefix(a.AnnotationComment, "vigil:") {
			if k, v, ok := strings.Cut(a.AnnotationComment, "="); ok {
				m[k] = append(m[k], v)
			}
			continue
		}
		if strings.HasPrefix(a.Annotator.Annotator, "trivy") {
			if k, v, ok := strings.Cut(a.AnnotationComment, ": "); ok {
				k = "aquasecurity:trivy:" + k
				m[k] = append(m[k], v)
			}
		}
	}
	return m
}

func spdxLicenseStrings(p *spdx.Package, extracted map[string]string) []string {
	e := p.PackageLicenseDeclared
	if e == "" || e == "NOASSERTION" || e == "NONE" {
		e = p.PackageLicenseConcluded
	}
	if e == "" || e == "NOASSERTION" || e == "NONE" {
		return nil
	}
	out := splitExpression(e)
	for i, l := range out {
		if text, ok := extracted[l]; ok && text != "" {
			out[i] = text
		}
	}
	return out
}
