package sbom

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/vigilsec/vigil/internal/inventory"
)

// The tests here check facts about the documents directly, independently
// of the golden files and of Decode.

func TestCycloneDXFacts(t *testing.T) {
	inv := testInventory()
	out := encode(t, EncodeCycloneDX, testSubject(), inv, testTime)
	var doc struct {
		BOMFormat    string `json:"bomFormat"`
		SpecVersion  string `json:"specVersion"`
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Timestamp string `json:"timestamp"`
			Tools     struct {
				Components []struct{ Type, Name, Version string } `json:"components"`
			} `json:"tools"`
			Component struct {
				BOMRef  string `json:"bom-ref"`
				Type    string `json:"type"`
				Name    string `json:"name"`
				Version string `json:"version"`
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			BOMRef     string `json:"bom-ref"`
			Type       string `json:"type"`
			Group      string `json:"group"`
			Name       string `json:"name"`
			Version    string `json:"version"`
			PURL       string `json:"purl"`
			Properties []struct{ Name, Value string }
			Evidence   struct {
				Occurrences []struct{ Location string }
			}
		} `json:"components"`
		Dependencies []struct {
			Ref       string   `json:"ref"`
			DependsOn []string `json:"dependsOn"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.BOMFormat != "CycloneDX" || doc.SpecVersion != "1.6" {
		t.Errorf("bomFormat %q specVersion %q", doc.BOMFormat, doc.SpecVersion)
	}
	if !strings.HasPrefix(doc.SerialNumber, "urn:uuid:") {
		t.Errorf("serialNumber %q", doc.SerialNumber)
	}
	if doc.Metadata.Timestamp != "2026-11-22T10:30:00Z" {
		t.Errorf("timestamp %q", doc.Metadata.Timestamp)
	}
	if tc := doc.Metadata.Tools.Components; len(tc) != 1 || tc[0].Name != "vigil" || tc[0].Version != "0.1.0" || tc[0].Type != "application" {
		t.Errorf("tools %+v", tc)
	}
	img := doc.Metadata.Component
	if img.Type != "container" || img.Name != testSubject().Name || img.Version != testSubject().Digest || img.BOMRef == "" {
		t.Errorf("metadata.component %+v", img)
	}

	// One OS component, then one library per package, in order.
	if len(doc.Components) != len(inv.Packages)+1 {
		t.Fatalf("%d components, want %d", len(doc.Components), len(inv.Packages)+1)
	}
	osc := doc.Components[0]
	if osc.Type != "operating-system" || osc.Name != "debian" || osc.Version != "12" {
		t.Errorf("operating-system component %+v", osc)
	}
	refs := map[string]bool{img.BOMRef: true}
	for i, p := range inv.Packages {
		c := doc.Components[i+1]
		if c.Type != "library" || c.PURL != p.PURL || c.Version != p.Version {
			t.Errorf("component %d: %+v, want purl %s", i, c, p.PURL)
		}
		if refs[c.BOMRef] {
			t.Errorf("bom-ref %q used twice", c.BOMRef)
		}
		refs[c.BOMRef] = true
		if len(c.Evidence.Occurrences) == 0 || c.Evidence.Occurrences[0].Location != p.Path {
			t.Errorf("component %d: occurrences %+v, want %s first", i, c.Evidence.Occurrences, p.Path)
		}
		props := map[string]string{}
		for _, pr := range c.Properties {
			props[pr.Name] = pr.Value
		}
		if props["vigil:package:cataloger"] != p.Cataloger || props["vigil:layer:diffId"] != p.Layer.DiffID {
			t.Errorf("component %d: properties %v", i, props)
		}
	}
	refs[osc.BOMRef] = true
	if len(refs) != len(inv.Packages)+2 {
		t.Errorf("%d distinct bom-refs, want %d", len(refs), len(inv.Packages)+2)
	}
	// The two packages of the same Go module share a purl, not a bom-ref.
	if doc.Components[6].PURL != doc.Components[7].PURL || doc.Components[6].BOMRef == doc.Components[7].BOMRef {
		t.Errorf("same module in two binaries: %q %q", doc.Components[6].BOMRef, doc.Components[7].BOMRef)
	}
	// Maven: group and name apart.
	if c := doc.Components[10]; c.Group != "com.fasterxml.jackson.core" || c.Name != "jackson-databind" {
		t.Errorf("maven component group %q name %q", c.Group, c.Name)
	}

	if len(doc.Dependencies) != 1 || doc.Dependencies[0].Ref != img.BOMRef {
		t.Fatalf("dependencies %+v", doc.Dependencies)
	}
	deps := doc.Dependencies[0].DependsOn
	if len(deps) != len(doc.Components) {
		t.Errorf("image depends on %d components, want %d", len(deps), len(doc.Components))
	}
	for _, d := range deps {
		if !refs[d] || d == img.BOMRef {
			t.Errorf("dependsOn %q is not a component", d)
		}
	}
}

func TestSPDXFacts(t *testing.T) {
	inv := testInventory()
	out := encode(t, EncodeSPDX, testSubject(), inv, testTime)

	// tools-golang reads it back and finds its relationships consistent.
	doc, err := spdxjson.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Error(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXIdentifier != "DOCUMENT" {
		t.Errorf("header %q %q %q", doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
	}
	if ci := doc.CreationInfo; ci == nil || ci.Created != "2026-11-22T10:30:00Z" || len(ci.Creators) != 1 ||
		ci.Creators[0].CreatorType != "Tool" || ci.Creators[0].Creator != "vigil-0.1.0" {
		t.Errorf("creationInfo %+v", doc.CreationInfo)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, "https://") {
		t.Errorf("namespace %q", doc.DocumentNamespace)
	}
	if len(doc.Packages) != len(inv.Packages)+2 {
		t.Fatalf("%d packages, want %d", len(doc.Packages), len(inv.Packages)+2)
	}
	if p := doc.Packages[0]; p.PrimaryPackagePurpose != "CONTAINER" || p.PackageName != testSubject().Name || p.PackageVersion != testSubject().Digest {
		t.Errorf("image package %+v", p)
	}
	if p := doc.Packages[1]; p.PrimaryPackagePurpose != "OPERATING_SYSTEM" || p.PackageName != "debian" || p.PackageVersion != "12" {
		t.Errorf("os package %+v", p)
	}
	ids := map[string]bool{}
	for _, p := range doc.Packages {
		id := string(p.PackageSPDXIdentifier)
		if ids[id] {
			t.Errorf("SPDXID %q used twice", id)
		}
		ids[id] = true
		for _, c := range id {
			if !(c == '.' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				t.Errorf("SPDXID %q has %q", id, c)
			}
		}
	}
	for i, p := range inv.Packages {
		sp := doc.Packages[i+2]
		if sp.PackageName != p.Name || sp.PackageVersion != p.Version || sp.PackageLicenseConcluded != "NOASSERTION" {
			t.Errorf("package %d: %+v", i, sp)
		}
		if len(sp.PackageExternalReferences) != 1 || sp.PackageExternalReferences[0].Category != "PACKAGE-MANAGER" ||
			sp.PackageExternalReferences[0].RefType != "purl" || sp.PackageExternalReferences[0].Locator != p.PURL {
			t.Errorf("package %d: externalRefs %+v", i, sp.PackageExternalReferences)
		}
	}
	decl := map[string]string{}
	for _, p := range doc.Packages {
		decl[p.PackageName] = p.PackageLicenseDeclared
	}
	for name, want := range map[string]string{
		"login":           "GPL-2.0-or-later AND BSD-3-Clause",
		"serde":           "(MIT OR Apache-2.0)",
		"stdlib":          "NOASSERTION",
		"Newtonsoft.Json": "LicenseRef-Custom--see-LICENSE.md",
	} {
		if decl[name] != want {
			t.Errorf("%s: licenseDeclared %q, want %q", name, decl[name], want)
		}
	}
	if len(doc.OtherLicenses) != 1 || doc.OtherLicenses[0].LicenseIdentifier != "LicenseRef-Custom--see-LICENSE.md" ||
		doc.OtherLicenses[0].ExtractedText != "Custom: see LICENSE.md" {
		t.Errorf("hasExtractedLicensingInfos %+v", doc.OtherLicenses)
	}

	// DESCRIBES the image; the image CONTAINS the OS and every package.
	if len(doc.Relationships) != len(inv.Packages)+2 {
		t.Errorf("%d relationships, want %d", len(doc.Relationships), len(inv.Packages)+2)
	}
	counts := map[string]int{}
	for _, r := range doc.Relationships {
		counts[string(r.RefA.ElementRefID)+" "+r.Relationship]++
		if !ids[string(r.RefB.ElementRefID)] {
			t.Errorf("relationship to unknown %q", r.RefB.ElementRefID)
		}
	}
	if counts["DOCUMENT DESCRIBES"] != 1 || counts["Image CONTAINS"] != len(inv.Packages)+1 {
		t.Errorf("relationships %v", counts)
	}
}

// TestSchemas validates the output against the official JSON schemas:
// CycloneDX 1.6 as shipped in the cyclonedx-go module, SPDX 2.3 from
// testdata/schema (see its README).
func TestSchemas(t *testing.T) {
	cdxDir := filepath.Join(moduleDir(t, "github.com/CycloneDX/cyclonedx-go"), "schema")
	cdxSchema := compileSchema(t, map[string]string{
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  filepath.Join(cdxDir, "bom-1.6.schema.json"),
		"http://cyclonedx.org/schema/spdx.schema.json":     filepath.Join(cdxDir, "spdx.schema.json"),
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": filepath.Join(cdxDir, "jsf-0.82.schemax.json"),
	}, "http://cyclonedx.org/schema/bom-1.6.schema.json")
	spdxSchema := compileSchema(t, map[string]string{
		"http://spdx.org/rdf/terms/2.3": filepath.Join("testdata", "schema", "spdx-schema-2.3.json"),
	}, "http://spdx.org/rdf/terms/2.3")

	for _, tc := range []struct {
		name   string
		schema *jsonschema.Schema
		enc    encoder
	}{
		{"cyclonedx", cdxSchema, EncodeCycloneDX},
		{"spdx", spdxSchema, EncodeSPDX},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, in := range []struct {
				name string
				s    Subject
				inv  *inventory.Inventory
			}{
				{"full", testSubject(), testInventory()},
				{"empty", Subject{}, &inventory.Inventory{}},
			} {
				out := encode(t, tc.enc, in.s, in.inv, testTime)
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				if err := tc.schema.Validate(v); err != nil {
					t.Errorf("%s: %v", in.name, err)
				}
			}
			// The schema must be able to fail: a document without its
			// required version field is refused.
			var m map[string]any
			if err := json.Unmarshal(encode(t, tc.enc, testSubject(), testInventory(), testTime), &m); err != nil {
				t.Fatal(err)
			}
			delete(m, map[string]string{"cyclonedx": "specVersion", "spdx": "spdxVersion"}[tc.name])
			broken, _ := json.Marshal(m)
			v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(broken))
			if tc.schema.Validate(v) == nil {
				t.Error("schema accepted a document without its version")
			}
		})
	}
}

func compileSchema(t *testing.T, files map[string]string, root string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile(root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// moduleDir returns the directory of a module in the module cache.
func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	gobin := testenv.Tool(t, "go")
	out, err := exec.Command(gobin, "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", mod, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("module %s is not in the module cache (go mod download %s)", mod, mod)
	}
	return dir
}
