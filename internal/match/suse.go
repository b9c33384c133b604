package match

import (
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// suseRelease is a SLES VERSION_ID as SUSE's product names give it:
// "15.5" is "15 SP5", "15" and "15.0" are "15".
func suseRelease(versionID string) string {
	major, minor, _ := strings.Cut(versionID, ".")
	if minor == "" || minor == "0" {
		return major
	}
	return major + " SP" + minor
}

// suseEcosystems are the ecosystems a SUSE image's RPMs are looked up in.
// SLES 15's packages are filed by SUSE against the product and the modules
// that ship them (the base system's under "Module for Basesystem", servers'
// under "Module for Server Applications"), and after general support
// against the release's LTSS; openSUSE Leap and Tumbleweed are one
// product each.
func suseEcosystems(d *inventory.Distro) []string {
	switch d.ID {
	case "sles":
		if d.VersionID == "" {
			return nil
		}
		r := suseRelease(d.VersionID)
		return []string{
			"SUSE:Linux Enterprise Server " + r,
			"SUSE:Linux Enterprise Server " + r + "-LTSS",
			"SUSE:Linux Enterprise Module for Basesystem " + r,
			"SUSE:Linux Enterprise Module for Server Applications " + r,
		}
	case "opensuse-leap":
		if d.VersionID == "" {
			return nil
		}
		return []string{"openSUSE:Leap " + d.VersionID}
	case "opensuse-tumbleweed":
		return []string{"openSUSE:Tumbleweed"}
	}
	return nil
}
