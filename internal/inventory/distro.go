package inventory

import "strings"

// Distro is the operating system an image is built on, as its os-release
// file (or the fallbacks scanners use) describes it.
type Distro struct {
	// ID is os-release's ID: "debian", "alpine", "almalinux", "ubuntu".
	ID string `json:"id"`
	// VersionID is os-release's VERSION_ID: "12", "3.20.3", "9.4".
	VersionID string `json:"versionId,omitempty"`
	// Codename is VERSION_CODENAME: "bookworm".
	Codename   string   `json:"codename,omitempty"`
	Name       string   `json:"name,omitempty"`
	PrettyName string   `json:"prettyName,omitempty"`
	IDLike     []string `json:"idLike,omitempty"`
	// Source names the file the distribution was read from, or
	// "packages" when it was inferred from installed packages.
	Source string `json:"source,omitempty"`
	// MissingDatabase is the package database (absolute path) the
	// distribution's package manager keeps and the image lacks, deleted
	// by a later layer or never there, while none of its packages were
	// found: the image's OS packages are then unknown, not none.
	MissingDatabase string `json:"missingDatabase,omitempty"`
	// ContentSets are the repositories a Red Hat image's RPMs were
	// installed from, as its content manifests
	// (/root/buildinfo/content_manifests/*.json) list them; CPEs the
	// Red Hat product streams they and the release say the packages
	// belong to, whose advisories alone apply to them.
	ContentSets []string `json:"contentSets,omitempty"`
	CPEs        []string `json:"cpes,omitempty"`
}

// Qualifier is the purl "distro" qualifier value for packages of this
// distribution: "<id>-<version_id>", e.g. "debian-12", "alpine-3.20.3".
func (d *Distro) Qualifier() string {
	if d == nil || d.ID == "" {
		return ""
	}
	if d.VersionID == "" {
		return d.ID
	}
	return d.ID + "-" + d.VersionID
}

// String is a short human-readable name: "debian 12", "alpine 3.20.3".
func (d *Distro) String() string {
	if d == nil {
		return ""
	}
	return strings.TrimSpace(d.ID + " " + d.VersionID)
}

// Inventory is everything Vigil found inside one image.
type Inventory struct {
	Distro   *Distro   `json:"distro,omitempty"`
	Packages []Package `json:"packages"`
}
