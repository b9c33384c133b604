package sbom

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	testTime = time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	testTool = Tool{Name: "vigil", Version: "0.1.0"}
)

const (
	base    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	baseBlb = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	app     = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	appBlob = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
)

func testSubject() Subject {
	return Subject{
		Name:     "registry.example.com/team/app:1.2",
		Digest:   "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Platform: "linux/amd64",
		RepoTags: []string{"registry.example.com/team/app:1.2", "registry.example.com/team/app:latest"},
		Layers: []inventory.LayerRef{
			{Index: 0, DiffID: base, Digest: baseBlb},
			{Index: 1, DiffID: app, Digest: appBlob},
		},
	}
}

// testInventory holds one package of every type, shaped as the catalogers
// report them, with purls as the walk computes them (the OS packages'
// purls use their own distribution so that they are realistic).
func testInventory() *inventory.Inventory {
	debian := &inventory.Distro{
		ID: "debian", VersionID: "12", Codename: "bookworm", Name: "Debian GNU/Linux",
		PrettyName: "Debian GNU/Linux 12 (bookworm)", Source: "etc/os-release",
	}
	baseLayer := inventory.LayerRef{Index: 0, DiffID: base, Digest: baseBlb}
	appLayer := inventory.LayerRef{Index: 1, DiffID: app, Digest: appBlob}
	pkgs := []inventory.Package{
		{Name: "login", Version: "1:4.13+dfsg1-1+b1", Type: inventory.Deb, Arch: "amd64",
			Source:   &inventory.Source{Name: "shadow", Version: "1:4.13+dfsg1-1"},
			Licenses: []string{"GPL-2.0-or-later", "BSD-3-Clause"},
			Path:     "/var/lib/dpkg/status", Layer: baseLayer, Cataloger: "dpkg", Evidence: inventory.Installed},
		{Name: "libcrypto3", Version: "3.3.2-r0", Type: inventory.APK, Arch: "x86_64",
			Source:   &inventory.Source{Name: "openssl", Version: "3.3.2-r0"},
			Licenses: []string{"Apache-2.0"},
			Path:     "/lib/apk/db/installed", Layer: baseLayer, Cataloger: "apk", Evidence: inventory.Installed},
		{Name: "openssl-libs", Version: "1:3.0.7-27.el9", Type: inventory.RPM, Epoch: 1, Release: "27.el9", Arch: "x86_64",
			Source:   &inventory.Source{Name: "openssl", Version: "1:3.0.7-27.el9"},
			Licenses: []string{"Apache-2.0"},
			Path:     "/var/lib/rpm/rpmdb.sqlite", Layer: baseLayer, Cataloger: "rpm", Evidence: inventory.Installed},
		{Name: "example.com/vulnfixture", Version: "(devel)", Type: inventory.Go,
			Path: "/usr/local/bin/vulnfixture", Layer: appLayer, Cataloger: "gobinary", Evidence: inventory.Installed,
			Metadata: map[string]string{"go.main": "true"}},
		{Name: "stdlib", Version: "v1.22.5", Type: inventory.Go,
			Path: "/usr/local/bin/vulnfixture", Layer: appLayer, Cataloger: "gobinary", Evidence: inventory.Installed},
		// The same module in two binaries: one purl, two packages.
		{Name: "github.com/BurntSushi/toml", Version: "v1.3.2", Type: inventory.Go,
			Path: "/usr/local/bin/vulnfixture", Layer: appLayer, Cataloger: "gobinary", Evidence: inventory.Installed,
			Metadata: map[string]string{"go.replaced": "github.com/BurntSushi/toml"}},
		{Name: "github.com/BurntSushi/toml", Version: "v1.3.2", Type: inventory.Go,
			Path: "/usr/local/bin/other", Layer: appLayer, Cataloger: "gobinary", Evidence: inventory.Installed},
		{Name: "@babel/core", Version: "7.24.0", Type: inventory.NPM, Licenses: []string{"MIT"},
			Path: "/app/node_modules/@babel/core/package.json", Locations: []string{"/app/package-lock.json"},
			Layer: appLayer, Cataloger: "npm", Evidence: inventory.Installed},
		{Name: "PyYAML", Version: "6.0", Type: inventory.PyPI, Licenses: []string{"MIT"},
			Path: "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", Layer: appLayer, Cataloger: "python", Evidence: inventory.Installed},
		{Name: "com.fasterxml.jackson.core:jackson-databind", Version: "2.14.0", Type: inventory.Maven, Licenses: []string{"Apache-2.0"},
			Path:  "/usr/share/java/jackson-databind.jar!/META-INF/maven/com.fasterxml.jackson.core/jackson-databind/pom.properties",
			Layer: appLayer, Cataloger: "java", Evidence: inventory.Installed},
		{Name: "rails", Version: "7.0.0", Type: inventory.Gem, Licenses: []string{"MIT"},
			Path: "/app/Gemfile.lock", Layer: appLayer, Cataloger: "gemfile", Evidence: inventory.Declared},
		{Name: "serde", Version: "1.0.197", Type: inventory.Cargo, Licenses: []string{"MIT OR Apache-2.0"},
			Path: "/app/Cargo.lock", Layer: appLayer, Cataloger: "cargo", Evidence: inventory.Declared},
		{Name: "monolog/monolog", Version: "3.5.0", Type: inventory.Composer, Licenses: []string{"MIT"},
			Path: "/app/composer.lock", Layer: appLayer, Cataloger: "composer", Evidence: inventory.Declared},
		{Name: "Newtonsoft.Json", Version: "13.0.3", Type: inventory.NuGet, Licenses: []string{"Custom: see LICENSE.md"},
			Path: "/app/packages.lock.json", Layer: appLayer, Cataloger: "nuget", Evidence: inventory.Declared, Arch: "any"},
	}
	osDistro := map[inventory.Type]*inventory.Distro{
		inventory.APK: {ID: "alpine", VersionID: "3.20.3"},
		inventory.RPM: {ID: "almalinux", VersionID: "9.4"},
	}
	for i := range pkgs {
		d := debian
		if od := osDistro[pkgs[i].Type]; od != nil {
			d = od
		}
		pkgs[i].PURL = inventory.PURL(&pkgs[i], d)
	}
	return &inventory.Inventory{Distro: debian, Packages: pkgs}
}

type encoder func(io.Writer, Subject, *inventory.Inventory, Tool, time.Time) error

var formats = []struct {
	name   string
	golden string
	encode encoder
}{
	{"cyclonedx", "testdata/golden.cdx.json", EncodeCycloneDX},
	{"spdx", "testdata/golden.spdx.json", EncodeSPDX},
}

func encode(t *testing.T, enc encoder, s Subject, inv *inventory.Inventory, now time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := enc(&buf, s, inv, testTool, now); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRoundTrip checks that Decode gives back every field the encoders
// claim to carry.
func TestRoundTrip(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			want, wantInv := testSubject(), testInventory()
			s, inv, err := Decode(bytes.NewReader(encode(t, f.encode, want, wantInv, testTime)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s, want) {
				t.Errorf("subject:\n got %+v\nwant %+v", s, want)
			}
			if !reflect.DeepEqual(inv.Distro, wantInv.Distro) {
				t.Errorf("distro:\n got %+v\nwant %+v", inv.Distro, wantInv.Distro)
			}
			if len(inv.Packages) != len(wantInv.Packages) {
				t.Fatalf("got %d packages, want %d", len(inv.Packages), len(wantInv.Packages))
			}
			for i := range wantInv.Packages {
				if got, want := inv.Packages[i], wantInv.Packages[i]; !reflect.DeepEqual(got, want) {
					t.Errorf("package %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
		})
	}
}

// TestRoundTripMinimal covers an inventory with no distribution, an
// empty subject and a package with no purl of its own (the encoder
// computes it).
func TestRoundTripMinimal(t *testing.T) {
	inv := &inventory.Inventory{Packages: []inventory.Package{
		{Name: "lodash", Version: "4.17.15", Type: inventory.NPM, Path: "/app/node_modules/lodash/package.json"},
	}}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			_, got, err := Decode(bytes.NewReader(encode(t, f.encode, Subject{}, inv, testTime)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Distro != nil {
				t.Errorf("distro = %+v, want none", got.Distro)
			}
			if len(got.Packages) != 1 || got.Packages[0].PURL != "pkg:npm/lodash@4.17.15" || got.Packages[0].Name != "lodash" {
				t.Errorf("packages = %+v", got.Packages)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			got := encode(t, f.encode, testSubject(), testInventory(), testTime)
			if *update {
				if err := os.WriteFile(f.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(f.golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s; run go test -update and review the diff", f.golden)
			}
		})
	}
}

// TestReproducible checks that the same input gives the same bytes and
// that the document identifier changes with the time.
func TestReproducible(t *testing.T) {
	idPattern := map[string]*regexp.Regexp{
		"cyclonedx": regexp.MustCompile(`"serialNumber": "urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"`),
		"spdx":      regexp.MustCompile(`"documentNamespace": "https://github.com/vigilsec/vigil/spdx/[^"]+-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"`),
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			a := encode(t, f.encode, testSubject(), testInventory(), testTime)
			b := encode(t, f.encode, testSubject(), testInventory(), testTime)
			c := encode(t, f.encode, testSubject(), testInventory(), testTime.Add(time.Second))
			if !bytes.Equal(a, b) {
				t.Error("two encodings of the same input differ")
			}
			ida, idc := idPattern[f.name].Find(a), idPattern[f.name].Find(c)
			if ida == nil || idc == nil {
				t.Fatalf("no version 5 UUID identifier in output")
			}
			if bytes.Equal(ida, idc) {
				t.Errorf("documents made at different times share the identifier %s", ida)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := string(encode(t, EncodeCycloneDX, testSubject(), testInventory(), testTime))
	validSPDX := string(encode(t, EncodeSPDX, testSubject(), testInventory(), testTime))
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "empty document"},
		{"blank", " \n\t", "empty document"},
		{"text", "hello", "unknown format"},
		{"xml", `<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6"/>`, "XML documents are not supported"},
		{"truncated json", `{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [`, "not valid JSON"},
		{"json array", `[]`, "unknown format"},
		{"neither", `{"name": "x"}`, "neither CycloneDX"},
		{"other bomFormat", `{"bomFormat": "SWID"}`, `bomFormat "SWID"`},
		{"bad specVersion", `{"bomFormat": "CycloneDX", "specVersion": "9.9"}`, "sbom: cyclonedx:"},
		{"components not a list", `{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": {}}`, "sbom: cyclonedx:"},
		{"bad purl", `{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"type": "library", "name": "x", "purl": "pkg:"}]}`, `package "x": purl "pkg:"`},
		{"bad layer index", strings.Replace(valid, `"value": "0"`, `"value": "zero"`, 1), "is not a layer index"},
		{"bad image layer", strings.Replace(valid, "vigil:image:layer:0:", "vigil:image:layer:x:", 1), "bad layer index"},
		{"spdx 3", `{"spdxVersion": "SPDX-3.0"}`, "sbom: spdx:"},
		{"spdx packages not a list", `{"spdxVersion": "SPDX-2.3", "packages": 3}`, "sbom: spdx:"},
		{"spdx bad purl", strings.Replace(validSPDX, `"referenceLocator": "pkg:npm/`, `"referenceLocator": "npm/`, 1), `purl "npm/`},
		{"spdx bad id", `{"spdxVersion": "SPDX-2.3", "SPDXID": "DOCUMENT"}`, "sbom: spdx:"},
		{"tag-value garbage", "SPDXVersion: SPDX-2.3\nPackageName\n", "sbom: spdx tag-value:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, inv, err := Decode(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatalf("no error; inventory %+v", inv)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "sbom: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestDecodeSizeLimit checks that decoding stops reading one byte past
// the limit and refuses the document, and that a document of exactly the
// limit is read. (Decode's limit is MaxSize; a small one keeps the test
// light.)
func TestDecodeSizeLimit(t *testing.T) {
	const limit = 1 << 20
	r := &countingReader{}
	_, _, err := decode(r, limit)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if r.n != limit+1 {
		t.Errorf("read %d bytes, want %d", r.n, limit+1)
	}

	doc := encode(t, EncodeCycloneDX, testSubject(), testInventory(), testTime)
	if _, _, err := decode(bytes.NewReader(doc), int64(len(doc))); err != nil {
		t.Errorf("document of exactly the limit: %v", err)
	}
	if _, _, err := decode(bytes.NewReader(doc), int64(len(doc)-1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("document one byte over the limit: err = %v, want ErrTooLarge", err)
	}
}

// countingReader is an endless JSON-looking stream that counts what was read.
type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	if r.n == 0 && len(p) > 0 {
		p[0] = '{'
	}
	r.n += int64(len(p))
	return len(p), nil
}

// TestDecodeEmpty: a valid document without packages is an empty
// inventory, not an error (an image built FROM scratch).
func TestDecodeEmpty(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			s, inv, err := Decode(bytes.NewReader(encode(t, f.encode, Subject{Name: "scratch-app"}, &inventory.Inventory{}, testTime)))
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "scratch-app" || inv.Distro != nil || len(inv.Packages) != 0 || inv.Packages == nil {
				t.Errorf("got %+v, %+v", s, inv)
			}
		})
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
