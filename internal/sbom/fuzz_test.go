package sbom

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/inventory"
)

// FuzzDecode feeds Decode arbitrary documents. Decode must not panic
// (the recover that guards against the format libraries must not be what
// saves it either), and whatever it accepts must survive a round trip
// through both encoders unchanged.
func FuzzDecode(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input it finds, and
	// minimizing whole documents takes minutes.
	small := testInventory()
	small.Packages = []inventory.Package{small.Packages[0]}
	for _, format := range formats {
		var buf bytes.Buffer
		if err := format.encode(&buf, Subject{Name: "x", Layers: testSubject().Layers[:1]}, small, testTool, testTime); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	for _, s := range []string{
		"", "{}",
		`{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"type":"container","name":"alpine:3.20.3","properties":[{"name":"aquasecurity:trivy:DiffID","value":"sha256:1b"}]}},"components":[{"type":"library","name":"musl","version":"1.2.5-r0","purl":"pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=3.20.3","licenses":[{"expression":"MIT"}],"properties":[{"name":"aquasecurity:trivy:SrcName","value":"musl"},{"name":"aquasecurity:trivy:LayerDiffID","value":"sha256:1b"}]},{"type":"operating-system","name":"alpine","version":"3.20.3"}]}`,
		`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","packages":[{"name":"musl","SPDXID":"SPDXRef-p","versionInfo":"1.2.5-r0","sourceInfo":"built package from: musl 1.2.5-r0","licenseDeclared":"MIT AND LicenseRef-x","externalRefs":[{"referenceCategory":"PACKAGE_MANAGER","referenceType":"purl","referenceLocator":"pkg:apk/alpine/musl@1.2.5-r0?distro=alpine-3.20.3"}],"annotations":[{"annotator":"Tool: trivy-0.56.1","annotationDate":"2024-10-01T09:12:45Z","annotationType":"OTHER","comment":"LayerDiffID: sha256:1b"}]}],"hasExtractedLicensingInfos":[{"licenseId":"LicenseRef-x","extractedText":"custom"}]}`, `{"bomFormat":"CycloneDX","specVersion":"1.6"}`, `{"spdxVersion":"SPDX-2.2"}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"a","purl":"pkg:npm/a@1","components":[{"type":"library","name":"b","purl":"pkg:deb/debian/b@1?epoch=2&upstream=c%401"}]}]}`,
		"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: x\nPackageName: p\nSPDXID: SPDXRef-p\nExternalRef: PACKAGE-MANAGER purl pkg:gem/p@1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, inv, err := Decode(bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "decoder panic") {
				t.Fatalf("panic: %v", err)
			}
			return
		}
		if inv == nil || inv.Packages == nil {
			t.Fatal("no error and no inventory")
		}
		for _, format := range formats {
			var buf bytes.Buffer
			if err := format.encode(&buf, s, inv, testTool, testTime); err != nil {
				t.Fatalf("%s: encode decoded document: %v", format.name, err)
			}
			s2, inv2, err := Decode(&buf)
			if err != nil {
				t.Fatalf("%s: decode re-encoded document: %v\n%s", format.name, err, buf.Bytes())
			}
			if s.Name == "" {
				s2.Name = "" // the encoders name a nameless image "unknown"
			}
			if !utf8.Valid(data) {
				continue // JSON replaced invalid UTF-8 on the first decode only where it was read
			}
			if !reflect.DeepEqual(s, s2) {
				t.Errorf("%s: subject changed:\n%+v\n%+v", format.name, s, s2)
			}
			if !reflect.DeepEqual(inv.Distro, inv2.Distro) {
				t.Errorf("%s: distro changed:\n%+v\n%+v", format.name, inv.Distro, inv2.Distro)
			}
			if len(inv.Packages) != len(inv2.Packages) {
				t.Fatalf("%s: %d packages became %d", format.name, len(inv.Packages), len(inv2.Packages))
			}
			for i := range inv.Packages {
				if !reflect.DeepEqual(inv.Packages[i], inv2.Packages[i]) {
					t.Errorf("%s: package %d changed:\n%+v\n%+v", format.name, i, inv.Packages[i], inv2.Packages[i])
				}
			}
		}
	})
}

// FuzzLicenses checks that any license string survives both formats:
// as an SPDX expression when it is one, as a name or LicenseRef otherwise.
func FuzzLicenses(f *testing.F) {
	for _, l := range []string{"MIT", "MIT OR Apache-2.0", "(MIT)", "GPL-2.0+", "GPLv2+", "MIT AND BSD-3-Clause",
		"Apache-2.0 WITH LLVM-exception", "LicenseRef-foo", "NOASSERTION", "((", "MIT AND", " MIT", "Custom: see file"} {
		f.Add(l, "Zlib")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return // JSON cannot carry it unchanged
		}
		want := nonEmpty([]string{a, b})
		inv := &inventory.Inventory{Packages: []inventory.Package{{Name: "x", Version: "1", Type: inventory.NPM, Path: "/x", Licenses: want}}}
		for _, format := range formats {
			var buf bytes.Buffer
			if err := format.encode(&buf, Subject{Name: "x"}, inv, testTool, testTime); err != nil {
				t.Fatal(err)
			}
			_, got, err := Decode(&buf)
			if err != nil {
				t.Fatalf("%s: %v", format.name, err)
			}
			if g := got.Packages[0].Licenses; !reflect.DeepEqual(g, want) && !(len(g) == 0 && len(want) == 0) {
				t.Errorf("%s: licenses %q became %q", format.name, want, g)
			}
		}
	})
}
