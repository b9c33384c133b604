package match

import (
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/vuln"
	"github.com/vigilsec/vigil/internal/vulndb/nvd"
)

// query is one lookup a package needs: the advisories for name in
// ecosystem, compared at version.
type query struct {
	ecosystem, name, version string
}

// queries returns the lookups for a package, or nil with a reason when the
// package cannot be matched (an OS package of a distribution Vigil has no
// data for, a Go main module built without a version).
func queries(p *inventory.Package, d *inventory.Distro) ([]query, string) {
	switch p.Type {
	case inventory.Deb, inventory.APK, inventory.RPM:
		eco, ok := distroEcosystem(p.Type, d)
		if !ok {
			return nil, "distribution " + d.String() + " is not supported for " + string(p.Type) + " packages"
		}
		if ecos := streamEcosystems(d); ecos != nil && p.Type == inventory.RPM {
			return streamQueries(p, ecos), ""
		}
		switch p.Type {
		case inventory.Deb:
			// Debian and Ubuntu track vulnerabilities by source
			// package, and fixed versions are source versions.
			if s := p.Source; s != nil && s.Name != "" {
				v := s.Version
				if v == "" {
					v = p.Version
				}
				return []query{{eco, s.Name, v}}, ""
			}
			return []query{{eco, p.Name, p.Version}}, ""
		case inventory.APK:
			// Alpine's secdb is keyed by origin (the aports name);
			// a subpackage has its origin's version.
			qs := []query{{eco, p.Name, p.Version}}
			if s := p.Source; s != nil && s.Name != "" && s.Name != p.Name {
				qs = append(qs, query{eco, s.Name, p.Version})
			}
			return qs, ""
		default:
			// RPM advisories name binary packages; some name the
			// source package instead, so ask for both.
			qs := []query{{eco, p.Name, p.Version}}
			if s := p.Source; s != nil && s.Name != "" && s.Name != p.Name {
				qs = append(qs, query{eco, s.Name, p.Version})
			}
			return qs, ""
		}
	}
	if owner := p.Metadata[inventory.MetaOwner]; owner != "" {
		return nil, "installed by the OS package " + owner + ": matched through it"
	}
	switch p.Type {
	case inventory.Go:
		if p.Version == "" || p.Version == "(devel)" {
			return nil, "Go module built without a version"
		}
		return []query{{"Go", p.Name, p.Version}}, ""
	case inventory.Generic:
		// A program found from its own files: NVD's applicability
		// statements name it by CPE vendor and product.
		var qs []query
		for _, s := range p.CPEs {
			if c, err := nvd.ParseCPE(s); err == nil && c.Part == "a" && p.Version != "" {
				qs = append(qs, query{nvd.Ecosystem, c.Name(), p.Version})
			}
		}
		if qs == nil {
			return nil, "no CPE to match by"
		}
		return qs, ""
	}
	eco, ok := languageEcosystems[p.Type]
	if !ok {
		return nil, "no vulnerability data for " + string(p.Type) + " packages"
	}
	if p.Version == "" {
		return nil, "no version"
	}
	return []query{{eco, p.Name, p.Version}}, ""
}

var languageEcosystems = map[inventory.Type]string{
	inventory.NPM:      "npm",
	inventory.PyPI:     "PyPI",
	inventory.Maven:    "Maven",
	inventory.Gem:      "RubyGems",
	inventory.Cargo:    "crates.io",
	inventory.Composer: "Packagist",
	inventory.NuGet:    "NuGet",
}

// distroEcosystem is the OSV ecosystem of a distribution release, as the
// feeds name them: "Debian:12", "Alpine:v3.20", "AlmaLinux:9",
// "Ubuntu:22.04:LTS".
func distroEcosystem(t inventory.Type, d *inventory.Distro) (string, bool) {
	if d == nil || d.ID == "" || d.VersionID == "" {
		return "", false
	}
	major, minor, _ := strings.Cut(d.VersionID, ".")
	minor, _, _ = strings.Cut(minor, ".")
	switch d.ID {
	case "debian":
		return "Debian:" + major, t == inventory.Deb
	case "ubuntu":
		eco := "Ubuntu:" + d.VersionID
		// LTS releases are the even-year April ones.
		if minor == "04" && len(major) == 2 && (major[1]-'0')%2 == 0 {
			eco += ":LTS"
		}
		return eco, t == inventory.Deb
	case "alpine":
		if minor == "" {
			return "", false
		}
		return "Alpine:v" + major + "." + minor, t == inventory.APK
	case "almalinux":
		return "AlmaLinux:" + major, t == inventory.RPM
	case "rocky":
		return "Rocky Linux:" + major, t == inventory.RPM
	case "amzn":
		// Amazon Linux 2 and 2023, whose repositories' updateinfo.xml
		// Vigil reads; the Amazon Linux AMI (2018.03) has no feed.
		if major != "2" && major != "2023" {
			return "", false
		}
		return "Amazon Linux:" + major, t == inventory.RPM
	case "rhel":
		// RHEL and UBI: Red Hat's VEX data, per product stream (see
		// redHatEcosystems); the release's own name stands for them.
		if major == "" {
			return "", false
		}
		return vuln.RedHatEcosystemPrefix + "enterprise_linux:" + major, t == inventory.RPM
	case "ol":
		// Oracle Linux's ELSA OVAL, per major release.
		return "Oracle Linux:" + major, t == inventory.RPM
	case "photon":
		// Photon OS's PHSA OVAL, one document per release.
		return "Photon OS:" + major, t == inventory.RPM
	case "sles", "opensuse-leap", "opensuse-tumbleweed":
		// SUSE's products (see suseEcosystems); the first stands for
		// them.
		ecos := suseEcosystems(d)
		if ecos == nil {
			return "", false
		}
		return ecos[0], t == inventory.RPM
	case "wolfi":
		return "Wolfi", t == inventory.APK
	case "chainguard":
		return "Chainguard", t == inventory.APK
	}
	return "", false
}

// Supported reports whether the OS packages of distribution d can be
// matched: Vigil knows which advisories cover it.
func Supported(d *inventory.Distro) bool {
	for _, t := range []inventory.Type{inventory.Deb, inventory.APK, inventory.RPM} {
		if _, ok := distroEcosystem(t, d); ok {
			return true
		}
	}
	return false
}
