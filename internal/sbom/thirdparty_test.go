package sbom

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// apkEntry is what an independent, simple reading of an apk installed
// database says about one package.
type apkEntry struct{ version, arch, origin, license string }

func readAPKDB(t *testing.T, rel string) map[string]apkEntry {
	t.Helper()
	f, err := os.Open(testenv.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]apkEntry{}
	var name string
	var e apkEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "P":
			name = v
		case "V":
			e.version = v
		case "A":
			e.arch = v
		case "o":
			e.origin = v
		case "L":
			e.license = v
		case "":
			if name != "" {
				out[name] = e
			}
			name, e = "", apkEntry{}
		}
	}
	if name != "" {
		out[name] = e
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readOSRelease returns ID and VERSION_ID of an os-release file.
func readOSRelease(t *testing.T, rel string) (id, versionID string) {
	t.Helper()
	b, err := os.ReadFile(testenv.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			versionID = v
		}
	}
	return id, versionID
}

const alpineDiffID = "sha256:1bccf10afce5c1ffe31381419930ad565c1436eaeb1ca680494b0663e0028419"

// TestTrivy decodes documents in the shape Trivy writes for an Alpine
// image (see testdata/thirdparty/README.md) and checks the packages
// against the real apk database they were taken from.
func TestTrivy(t *testing.T) {
	db := readAPKDB(t, "os/alpine-3.20.3/lib/apk/db/installed")
	id, ver := readOSRelease(t, "os/alpine-3.20.3/etc/os-release")
	for _, file := range []string{"trivy-alpine-3.20.3.cdx.json", "trivy-alpine-3.20.3.spdx.json"} {
		t.Run(file, func(t *testing.T) {
			s, inv, err := Decode(bytes.NewReader(readTestdata(t, "thirdparty/"+file)))
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "alpine:3.20.3" || !reflect.DeepEqual(s.RepoTags, []string{"alpine:3.20.3"}) ||
				!reflect.DeepEqual(s.Layers, []inventory.LayerRef{{Index: 0, DiffID: alpineDiffID}}) {
				t.Errorf("subject %+v", s)
			}
			if inv.Distro == nil || inv.Distro.ID != id || inv.Distro.VersionID != ver {
				t.Errorf("distro %+v, want %s %s", inv.Distro, id, ver)
			}
			names := []string{"busybox", "libcrypto3", "musl-utils", "zlib"}
			if len(inv.Packages) != len(names) {
				t.Fatalf("%d packages, want %d", len(inv.Packages), len(names))
			}
			for i, p := range inv.Packages {
				want := db[names[i]]
				if p.Name != names[i] || p.Type != inventory.APK || p.Version != want.version || p.Arch != want.arch {
					t.Errorf("package %d: %s %s %s %s, want %s %s %s", i, p.Type, p.Name, p.Version, p.Arch, names[i], want.version, want.arch)
				}
				if p.Source == nil || p.Source.Name != want.origin || p.Source.Version != want.version {
					t.Errorf("%s: source %+v, want origin %s", p.Name, p.Source, want.origin)
				}
				if got := strings.Join(p.Licenses, " AND "); got != want.license {
					t.Errorf("%s: licenses %q, want %q", p.Name, p.Licenses, want.license)
				}
				if p.Layer.DiffID != alpineDiffID || p.Layer.Index != 0 || p.Layer.Digest == "" {
					t.Errorf("%s: layer %+v", p.Name, p.Layer)
				}
				if !strings.HasPrefix(p.PURL, "pkg:apk/alpine/"+p.Name+"@") {
					t.Errorf("%s: purl %s", p.Name, p.PURL)
				}
			}
		})
	}
}

// TestDistroFromPURL: without an operating-system component the distro
// comes from the purls of OS packages. Trivy writes the bare version.
func TestDistroFromPURL(t *testing.T) {
	doc := string(readTestdata(t, "thirdparty/trivy-alpine-3.20.3.cdx.json"))
	i := strings.Index(doc, `"type": "operating-system"`)
	if i < 0 {
		t.Fatal("fixture has no operating-system component")
	}
	doc = strings.Replace(doc, `"type": "operating-system"`, `"type": "platform"`, 1)
	_, inv, err := Decode(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := &inventory.Distro{ID: "alpine", VersionID: "3.20.3", Source: "packages"}
	if !reflect.DeepEqual(inv.Distro, want) {
		t.Errorf("distro %+v, want %+v", inv.Distro, want)
	}

	for _, tt := range []struct {
		purl string
		want *inventory.Distro
	}{
		{"pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=amd64&distro=debian-12", &inventory.Distro{ID: "debian", VersionID: "12"}},
		{"pkg:deb/ubuntu/libcrypt1@1:4.4.10-10ubuntu4?distro=ubuntu-20.04", &inventory.Distro{ID: "ubuntu", VersionID: "20.04"}},
		{"pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3", &inventory.Distro{ID: "alpine", VersionID: "3.20.3"}},
		{"pkg:rpm/opensuse/glibc@2.31-150300.63.1?distro=opensuse-leap-15.5", &inventory.Distro{ID: "opensuse-leap", VersionID: "15.5"}},
		{"pkg:rpm/redhat/glibc@2.34-60.el9?distro=9.4", &inventory.Distro{ID: "rhel", VersionID: "9.4"}},
		{"pkg:apk/alpine/musl@1.2.5-r0?distro=alpine", &inventory.Distro{ID: "alpine"}},
		{"pkg:apk/alpine/musl@1.2.5-r0", nil},
		{"pkg:npm/lodash@4.17.21?distro=debian-12", nil}, // not an OS package
	} {
		p := inventory.Package{Type: inventory.Type(tt.purl[4:strings.Index(tt.purl, "/")]), PURL: tt.purl}
		got := osFromPURLs([]inventory.Package{p})
		if tt.want != nil {
			tt.want.Source = "packages"
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.purl, got, tt.want)
		}
	}
}

// TestSourceFromPURL covers the forms of the purl "upstream" qualifier.
func TestSourceFromPURL(t *testing.T) {
	for _, tt := range []struct {
		upstream string
		want     *inventory.Source
	}{
		{"", nil},
		{"openssl", &inventory.Source{Name: "openssl"}},
		{"glibc@2.36-9+deb12u9", &inventory.Source{Name: "glibc", Version: "2.36-9+deb12u9"}},
		{"openssl-3.0.7-27.el9.src.rpm", &inventory.Source{Name: "openssl", Version: "3.0.7-27.el9"}},
		{"python3-pip-wheel-21.3.1-1.el9.src.rpm", &inventory.Source{Name: "python3-pip-wheel", Version: "21.3.1-1.el9"}},
	} {
		if got := source(&component{props: props{}}, tt.upstream); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, want %+v", tt.upstream, got, tt.want)
		}
	}
	// Trivy's split source version.
	c := &component{props: props{
		"aquasecurity:trivy:SrcName":    {"glibc"},
		"aquasecurity:trivy:SrcVersion": {"2.35"},
		"aquasecurity:trivy:SrcRelease": {"0ubuntu3.4"},
		"aquasecurity:trivy:SrcEpoch":   {"1"},
	}}
	if got := source(c, "ignored"); got.Name != "glibc" || got.Version != "1:2.35-0ubuntu3.4" {
		t.Errorf("trivy source %+v", got)
	}
}

// dpkgEntry is what an independent, simple reading of a dpkg status file
// says about one package.
type dpkgEntry struct{ version, arch, source, sourceVersion string }

func readDpkgStatus(t *testing.T, rel string) (names []string, pkgs map[string]dpkgEntry) {
	t.Helper()
	b, err := os.ReadFile(testenv.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	pkgs = map[string]dpkgEntry{}
	for _, stanza := range strings.Split(strings.TrimSpace(string(b)), "\n\n") {
		var name string
		var e dpkgEntry
		for _, l := range strings.Split(stanza, "\n") {
			k, v, _ := strings.Cut(l, ": ")
			switch k {
			case "Package":
				name = v
			case "Version":
				e.version = v
			case "Architecture":
				e.arch = v
			case "Source":
				e.source, e.sourceVersion, _ = strings.Cut(v, " ")
				e.sourceVersion = strings.Trim(e.sourceVersion, "()")
			}
		}
		names = append(names, name)
		pkgs[name] = e
	}
	return names, pkgs
}

// TestSyft decodes SBOMs that the real Syft wrote for the shared Alpine
// and Debian roots (see testdata/thirdparty/README.md) and checks every
// package against the package databases Syft read, and the distribution
// against os-release. Syft's SPDX has no operating-system package, so
// there the distribution comes from the purls' distro qualifier.
func TestSyft(t *testing.T) {
	apk := readAPKDB(t, "os/alpine-3.20.3/lib/apk/db/installed")
	debNames, deb := readDpkgStatus(t, "os/debian-bookworm/var/lib/dpkg/status")
	for _, tt := range []struct {
		file, root, osRelease, dbPath, cataloger string
		typ                                      inventory.Type
		count                                    int
	}{
		{"syft-alpine-3.20.3.cdx.json", "alpine-3.20.3", "etc/os-release", "/lib/apk/db/installed", "apk-db-cataloger", inventory.APK, len(apk)},
		{"syft-alpine-3.20.3.spdx.json", "alpine-3.20.3", "etc/os-release", "/lib/apk/db/installed", "", inventory.APK, len(apk)},
		{"syft-alpine-3.20.3.spdx", "alpine-3.20.3", "etc/os-release", "/lib/apk/db/installed", "", inventory.APK, len(apk)}, // tag-value
		{"syft-debian-bookworm.cdx.json", "debian-bookworm", "usr/lib/os-release", "/var/lib/dpkg/status", "dpkg-db-cataloger", inventory.Deb, len(debNames)},
		{"syft-debian-bookworm.spdx.json", "debian-bookworm", "usr/lib/os-release", "/var/lib/dpkg/status", "", inventory.Deb, len(debNames)},
	} {
		t.Run(tt.file, func(t *testing.T) {
			// In the shared copy etc/os-release of Debian is not a
			// symlink but holds its target's name; Syft read usr/lib.
			id, ver := readOSRelease(t, "os/"+tt.root+"/"+tt.osRelease)
			s, inv, err := Decode(bytes.NewReader(readTestdata(t, "thirdparty/"+tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != tt.root {
				t.Errorf("subject name %q, want %q", s.Name, tt.root)
			}
			if inv.Distro == nil || inv.Distro.ID != id || inv.Distro.VersionID != ver {
				t.Errorf("distro %+v, want %s %s", inv.Distro, id, ver)
			}
			if len(inv.Packages) != tt.count {
				t.Errorf("%d packages, want %d", len(inv.Packages), tt.count)
			}
			seen := map[string]bool{}
			for _, p := range inv.Packages {
				seen[p.Name] = true
				if p.Type != tt.typ || p.Path != tt.dbPath || p.Cataloger != tt.cataloger {
					t.Errorf("%s: type %s path %q cataloger %q", p.Name, p.Type, p.Path, p.Cataloger)
				}
				var wantVer, wantArch string
				var wantSrc *inventory.Source
				switch tt.typ {
				case inventory.APK:
					e, ok := apk[p.Name]
					if !ok {
						t.Errorf("%s is not in the apk database", p.Name)
						continue
					}
					wantVer, wantArch = e.version, e.arch
					// Syft writes the origin as "upstream" only when it differs.
					if e.origin != p.Name {
						wantSrc = &inventory.Source{Name: e.origin}
					}
					if tt.file == "syft-alpine-3.20.3.cdx.json" {
						if got := strings.Join(p.Licenses, " AND "); got != e.license {
							t.Errorf("%s: licenses %q, want %q", p.Name, p.Licenses, e.license)
						}
					}
				case inventory.Deb:
					e, ok := deb[p.Name]
					if !ok {
						t.Errorf("%s is not in the dpkg status", p.Name)
						continue
					}
					wantVer, wantArch = e.version, e.arch
					// Syft writes "upstream" whenever there is a Source field.
					if e.source != "" {
						wantSrc = &inventory.Source{Name: e.source, Version: e.sourceVersion}
					}
				}
				if p.Version != wantVer || p.Arch != wantArch {
					t.Errorf("%s: %s %s, want %s %s", p.Name, p.Version, p.Arch, wantVer, wantArch)
				}
				if !reflect.DeepEqual(p.Source, wantSrc) {
					t.Errorf("%s: source %+v, want %+v", p.Name, p.Source, wantSrc)
				}
			}
			if len(seen) != tt.count {
				t.Errorf("%d distinct packages, want %d", len(seen), tt.count)
			}
		})
	}
}
