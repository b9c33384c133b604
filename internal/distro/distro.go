// Package distro works out which distribution an image is built on, from
// the release files the distributions ship (os-release first, then the
// older distribution-specific files) or, for images that carry none, from
// the release packages installed.
package distro

import (
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// The files Detect reads, in the order it trusts them. Paths are as the
// walk gives them: relative to the image root, no leading slash.
const (
	etcOSRelease    = "etc/os-release"
	usrOSRelease    = "usr/lib/os-release"
	alpineRelease   = "etc/alpine-release"
	debianVersion   = "etc/debian_version"
	lsbRelease      = "etc/lsb-release"
	fromPackagesSrc = "packages"
)

// redhatFiles are tried most specific first: on CentOS, Rocky and
// AlmaLinux, redhat-release and system-release are links to (or copies of)
// the distribution's own file, so either gives the same answer.
var redhatFiles = []string{
	"etc/almalinux-release",
	"etc/rocky-release",
	"etc/centos-release",
	"etc/redhat-release",
	"etc/system-release",
}

// Wants reports whether Detect needs the file at path.
func Wants(path string) bool {
	if IsContentManifest(path) {
		return true
	}
	switch path {
	case etcOSRelease, usrOSRelease, alpineRelease, debianVersion, lsbRelease:
		return true
	}
	for _, f := range redhatFiles {
		if path == f {
			return true
		}
	}
	return false
}

// Detect returns the image's distribution, or nil if no release file
// names one. read returns the content of a file in the final image (with
// symbolic links resolved by the caller: Debian's etc/os-release is a link
// to ../usr/lib/os-release) and false when the file is absent.
//
// Release files are read best-effort: a file with some bad lines still
// gives what its good lines say, and one that names no distribution is
// passed over for the next.
func Detect(read func(path string) ([]byte, bool)) *inventory.Distro {
	for _, p := range []string{etcOSRelease, usrOSRelease} {
		if data, ok := read(p); ok {
			if d := fromOSRelease(data, p); d != nil {
				if d.ID == "debian" {
					fillDebian(d, read)
				}
				return d
			}
		}
	}
	if data, ok := read(alpineRelease); ok {
		if v := firstLine(data); v != "" {
			return &inventory.Distro{ID: "alpine", VersionID: v, Name: "Alpine Linux", Source: "/" + alpineRelease}
		}
	}
	for _, p := range redhatFiles {
		if data, ok := read(p); ok {
			if d := parseRedHatRelease(firstLine(data)); d != nil {
				d.Source = "/" + p
				return d
			}
		}
	}
	if data, ok := read(debianVersion); ok {
		if d := parseDebianVersion(firstLine(data)); d != nil {
			d.Source = "/" + debianVersion
			return d
		}
	}
	if data, ok := read(lsbRelease); ok {
		if d := fromLSBRelease(data); d != nil {
			return d
		}
	}
	return nil
}

func fromOSRelease(data []byte, path string) *inventory.Distro {
	vars, _ := ParseOSRelease(data)
	id := strings.ToLower(vars["ID"])
	if id == "" {
		return nil
	}
	d := &inventory.Distro{
		ID:         id,
		VersionID:  vars["VERSION_ID"],
		Codename:   vars["VERSION_CODENAME"],
		Name:       vars["NAME"],
		PrettyName: vars["PRETTY_NAME"],
		IDLike:     strings.Fields(vars["ID_LIKE"]),
		Source:     "/" + path,
	}
	if d.Codename == "" {
		// Ubuntu releases before 17.10 only had UBUNTU_CODENAME.
		d.Codename = vars["UBUNTU_CODENAME"]
	}
	return d
}

// fillDebian completes what Debian's os-release leaves out: testing and
// unstable have no VERSION_ID, and releases before 9 no codename.
// debian_version ("12.15", "trixie/sid") says the rest.
func fillDebian(d *inventory.Distro, read func(string) ([]byte, bool)) {
	if d.VersionID != "" && d.Codename == "" {
		d.Codename = debianCodenames[d.VersionID]
	}
	if d.VersionID != "" && d.Codename != "" {
		return
	}
	data, ok := read(debianVersion)
	if !ok {
		return
	}
	dv := parseDebianVersion(firstLine(data))
	if dv == nil {
		return
	}
	if d.VersionID == "" {
		d.VersionID = dv.VersionID
	}
	if d.Codename == "" {
		d.Codename = dv.Codename
	}
}

func fromLSBRelease(data []byte) *inventory.Distro {
	vars, _ := ParseOSRelease(data)
	id := strings.ToLower(vars["DISTRIB_ID"])
	if id == "" {
		return nil
	}
	return &inventory.Distro{
		ID:         id,
		VersionID:  vars["DISTRIB_RELEASE"],
		Codename:   vars["DISTRIB_CODENAME"],
		Name:       vars["DISTRIB_ID"],
		PrettyName: vars["DISTRIB_DESCRIPTION"],
		Source:     "/" + lsbRelease,
	}
}

// firstLine is the file's first line; a carriage return ends it too, so
// that no version or codename read from it holds a line break.
func firstLine(data []byte) string {
	s, _, _ := strings.Cut(string(data), "\n")
	s, _, _ = strings.Cut(s, "\r")
	return strings.TrimSpace(s)
}

// FromPackages guesses the distribution from the release packages among
// the installed OS packages, for images that ship no release file
// (distroless images keep only package metadata). It returns nil when no
// package gives the distribution away.
func FromPackages(pkgs []inventory.Package) *inventory.Distro {
	var alpineSeen bool
	for i := range pkgs {
		p := &pkgs[i]
		var d *inventory.Distro
		switch p.Type {
		case inventory.Deb:
			d = debFromPackage(p)
		case inventory.APK:
			switch p.Name {
			case "alpine-release":
				// alpine-release 3.20.3-r0 ships /etc/alpine-release
				// "3.20.3".
				v, _, _ := strings.Cut(p.Version, "-r")
				d = &inventory.Distro{ID: "alpine", VersionID: v, Name: "Alpine Linux"}
			case "alpine-baselayout":
				// Its version is its own (3.6.5 in Alpine 3.20), not the
				// release's: it proves Alpine, nothing more.
				alpineSeen = true
			}
		case inventory.RPM:
			d = rpmFromPackage(p)
		}
		if d != nil {
			d.Source = fromPackagesSrc
			return d
		}
	}
	if alpineSeen {
		return &inventory.Distro{ID: "alpine", Name: "Alpine Linux", Source: fromPackagesSrc}
	}
	return nil
}

// debFromPackage reads base-files, whose version is Debian's release
// number: 12.4+deb12u5 in bookworm. Ubuntu's ("12ubuntu4.6") does not map
// to a release number, so only the ID is given.
func debFromPackage(p *inventory.Package) *inventory.Distro {
	if p.Name != "base-files" {
		return nil
	}
	if strings.Contains(p.Version, "ubuntu") {
		return &inventory.Distro{ID: "ubuntu", Name: "Ubuntu"}
	}
	major := leadingDigits(p.Version)
	if major == "" {
		return nil
	}
	return &inventory.Distro{ID: "debian", VersionID: major, Codename: debianCodenames[major], Name: "Debian GNU/Linux"}
}

// rpmFromPackage reads the release package of RPM distributions. IDs and
// version forms are those of the distributions' os-release: CentOS and
// Fedora give the major version only, RHEL and its rebuilds major.minor.
func rpmFromPackage(p *inventory.Package) *inventory.Distro {
	v := rpmVersion(p)
	switch p.Name {
	case "redhat-release", "redhat-release-server":
		return &inventory.Distro{ID: "rhel", VersionID: v, Name: "Red Hat Enterprise Linux"}
	case "centos-release", "centos-stream-release", "centos-linux-release":
		return &inventory.Distro{ID: "centos", VersionID: leadingDigits(v), Name: "CentOS Linux"}
	case "almalinux-release":
		return &inventory.Distro{ID: "almalinux", VersionID: v, Name: "AlmaLinux"}
	case "rocky-release":
		return &inventory.Distro{ID: "rocky", VersionID: v, Name: "Rocky Linux"}
	case "fedora-release-common", "fedora-release":
		return &inventory.Distro{ID: "fedora", VersionID: leadingDigits(v), Name: "Fedora Linux"}
	case "oraclelinux-release":
		return &inventory.Distro{ID: "ol", VersionID: v, Name: "Oracle Linux Server"}
	case "mariner-release":
		return &inventory.Distro{ID: "mariner", VersionID: v, Name: "CBL-Mariner"}
	case "azurelinux-release":
		return &inventory.Distro{ID: "azurelinux", VersionID: v, Name: "Microsoft Azure Linux"}
	case "sles-release":
		return &inventory.Distro{ID: "sles", VersionID: v, Name: "SLES"}
	case "system-release":
		// Amazon Linux 2's release package; on other distributions
		// system-release is only a virtual capability, never a name.
		return &inventory.Distro{ID: "amzn", VersionID: leadingDigits(v), Name: "Amazon Linux"}
	}
	return nil
}

// rpmVersion is the version part of an RPM package's "[epoch:]version-release".
func rpmVersion(p *inventory.Package) string {
	v := p.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if p.Release != "" {
		v = strings.TrimSuffix(v, "-"+p.Release)
	} else if i := strings.LastIndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	return v
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return s[:i]
}
