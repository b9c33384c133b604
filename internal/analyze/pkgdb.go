package analyze

import (
	"slices"

	"github.com/vigilsec/vigil/internal/inventory"
)

// packageDB is where a distribution family's package manager keeps its
// database: the paths the catalogers read, any one of which present means
// the database is there (Debian's distroless images keep status.d
// instead of status; SUSE and newer Fedora keep rpm's under
// usr/lib/sysimage/rpm).
type packageDB struct {
	typ inventory.Type
	// name is the path reports give when the database is missing.
	name  string
	paths []string
}

var (
	dpkgDB = packageDB{inventory.Deb, "/var/lib/dpkg/status", []string{"var/lib/dpkg/status", "var/lib/dpkg/status.d"}}
	apkDB  = packageDB{inventory.APK, "/lib/apk/db/installed", []string{"lib/apk/db/installed", "usr/lib/apk/db/installed"}}
	rpmDB  = packageDB{inventory.RPM, "/var/lib/rpm", []string{
		"var/lib/rpm/Packages", "var/lib/rpm/Packages.db", "var/lib/rpm/rpmdb.sqlite",
		"usr/lib/sysimage/rpm/Packages", "usr/lib/sysimage/rpm/Packages.db", "usr/lib/sysimage/rpm/rpmdb.sqlite",
	}}
)

// familyDB maps os-release IDs, and the ID_LIKE values derivatives give,
// to their package manager's database.
var familyDB = map[string]*packageDB{
	"debian": &dpkgDB, "ubuntu": &dpkgDB,
	"alpine": &apkDB, "wolfi": &apkDB, "chainguard": &apkDB,
	"rhel": &rpmDB, "fedora": &rpmDB, "centos": &rpmDB, "almalinux": &rpmDB, "rocky": &rpmDB,
	"amzn": &rpmDB, "ol": &rpmDB, "suse": &rpmDB, "opensuse": &rpmDB, "opensuse-leap": &rpmDB,
	"opensuse-tumbleweed": &rpmDB, "sles": &rpmDB, "mariner": &rpmDB, "azurelinux": &rpmDB, "photon": &rpmDB,
}

func databaseOf(d *inventory.Distro) *packageDB {
	if db := familyDB[d.ID]; db != nil {
		return db
	}
	for _, like := range d.IDLike {
		if db := familyDB[like]; db != nil {
			return db
		}
	}
	return nil
}

// missingDatabase names the package database of distribution d when the
// image has none: d was read from a release file, no OS package was
// found, and none of the database's paths is in the final filesystem
// (deleted by a later layer, or never there). Such an image's OS packages
// are unknown, not absent, so its coverage must not be full. A database
// that is present but could not be read is a warning of its own.
func missingDatabase(s *stack, d *inventory.Distro, pkgs []inventory.Package) string {
	if d == nil || d.Source == "packages" {
		return ""
	}
	db := databaseOf(d)
	if db == nil || slices.ContainsFunc(pkgs, func(p inventory.Package) bool { return p.Type.IsOS() }) {
		return ""
	}
	for _, p := range db.paths {
		if s.exists(p) {
			return ""
		}
	}
	return db.name
}

// exists reports whether path p, a file or a directory, is in the final
// filesystem: the highest layer that mentions it has it rather than
// deleting it.
func (s *stack) exists(p string) bool {
	for j := len(s.layers) - 1; j >= 0; j-- {
		if s.layers[j].has(p) {
			return true
		}
		if s.deletes(j, p) {
			return false
		}
	}
	return false
}
