// Package inventory is Vigil's model of what is inside an image: the
// packages found in it, where each came from, and the distribution it is
// built on. It is a domain leaf: it knows nothing of layers, registries,
// vulnerability data or output formats.
package inventory

// Type is a package's kind, named as its package-url type.
type Type string

// The package types Vigil catalogs. The values are purl types
// (https://github.com/package-url/purl-spec).
const (
	Deb      Type = "deb"
	APK      Type = "apk"
	RPM      Type = "rpm"
	Go       Type = "golang"
	NPM      Type = "npm"
	PyPI     Type = "pypi"
	Maven    Type = "maven"
	Gem      Type = "gem"
	Cargo    Type = "cargo"
	Composer Type = "composer"
	NuGet    Type = "nuget"
	// Generic is a program found from its own files rather than from
	// a package manager's records: a Node.js or Python runtime unpacked
	// from a tarball, a statically linked BusyBox or OpenSSL. Such a
	// package is matched by its CPEs.
	Generic Type = "generic"
)

// IsOS reports whether packages of type t are managed by the operating
// system's package manager and tracked by the distribution's advisories.
func (t Type) IsOS() bool {
	switch t {
	case Deb, APK, RPM:
		return true
	}
	return false
}

// Evidence says how a package's presence was established.
type Evidence string

const (
	// Installed: metadata written when the package was installed
	// (a package database, a dist-info directory, a package.json under
	// node_modules, build info inside a binary, a jar's pom.properties).
	Installed Evidence = "installed"
	// Declared: a lock or requirements file names the package; the
	// package itself may or may not be present.
	Declared Evidence = "declared"
)

// Package is one package found in an image.
//
// Name follows the naming of the ecosystem's advisories: a Debian binary
// package name, an npm name with its scope ("@types/node"), a Go module
// path, a Maven "groupId:artifactId", a Composer "vendor/name".
//
// Version is the version exactly as the package manager compares it: for
// Debian and RPM it carries the epoch ("1:2.3-4"), for RPM the release too.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Type    Type   `json:"type"`
	PURL    string `json:"purl"`

	// Epoch and Release repeat parts of Version for RPM packages, as
	// Inspector and RPM tooling report them separately.
	Epoch   int    `json:"epoch,omitempty"`
	Release string `json:"release,omitempty"`
	Arch    string `json:"arch,omitempty"`

	// Source is the package the distribution tracks advisories by: the
	// Debian source package, the Alpine origin, the RPM source package.
	Source *Source `json:"source,omitempty"`

	Licenses []string `json:"licenses,omitempty"`

	// CPEs name the product in NVD's dictionary (CPE 2.3 formatted
	// strings with the version filled in), for packages matched through
	// NVD's applicability statements: the Generic ones.
	CPEs []string `json:"cpes,omitempty"`

	// Path is the file in the image the package was read from, absolute
	// ("/var/lib/dpkg/status"). A file inside an archive is named with
	// "!/" after the archive ("/app/app.war!/WEB-INF/lib/a.jar").
	Path string `json:"path"`
	// Locations lists further files that name the same package, such as
	// a lock file beside the installed copy.
	Locations []string `json:"locations,omitempty"`
	// Layer is the layer that introduced the package.
	Layer LayerRef `json:"layer"`

	// Cataloger names the cataloger that found the package ("dpkg").
	Cataloger string   `json:"cataloger"`
	Evidence  Evidence `json:"evidence"`

	// Metadata holds ecosystem details that matching or reporting need
	// and that have no field of their own, e.g. "go.main" for a Go
	// binary's main module, "go.replaces" for a replaced module.
	Metadata map[string]string `json:"metadata,omitempty"`

	// GoCode says which of a Go module's code is compiled into the
	// binary it was read from; nil when that is unknown (the binary's
	// function table could not be read, or the package came from an
	// SBOM).
	GoCode *GoCode `json:"goCode,omitempty"`
}

// GoCode is the part of a Go module that one binary contains.
type GoCode struct {
	// Packages maps each of the module's packages with code in the
	// binary to the functions of it there, as Go vulnerability data
	// names them ("Parse", "Type.Method"), sorted; a package with only
	// closures or init code in the binary has an empty list. A package
	// missing from the map is not in the binary.
	Packages map[string][]string `json:"packages"`
	// GOOS and GOARCH are the platform the binary is built for.
	GOOS   string `json:"goos,omitempty"`
	GOARCH string `json:"goarch,omitempty"`
}

// MetaOwner is the Metadata key naming the OS package that installed a
// language package's file ("deb:python3-requests", "apk:py3-yaml"). Such a
// package is the distribution's: it is patched and tracked through the OS
// package, so matching it against the language ecosystem's advisories
// would report fixes the distribution already made.
const MetaOwner = "vigil.owner"

// Source names a source package.
type Source struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// LayerRef identifies a layer of an image.
type LayerRef struct {
	// Index is the layer's position, 0 for the base layer.
	Index int `json:"index"`
	// DiffID is the digest of the uncompressed layer.
	DiffID string `json:"diffId,omitempty"`
	// Digest is the digest of the layer blob as stored (compressed).
	Digest string `json:"digest,omitempty"`
}

// Key identifies a package within one file: the same key in the same file
// of two layers is the same installed package.
func (p *Package) Key() string {
	return string(p.Type) + "\x00" + p.Name + "\x00" + p.Version + "\x00" + p.Arch
}
