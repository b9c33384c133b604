package analyze_test

import "testing"

// A distribution whose package database the final filesystem lacks is
// marked, and only then: a database at any of the places the package
// manager keeps it, even one listing nothing, is not missing.
func TestMissingPackageDatabase(t *testing.T) {
	osRelease := func(id, like string) entry {
		s := "ID=" + id + "\nVERSION_ID=\"12\"\n"
		if like != "" {
			s += "ID_LIKE=" + like + "\n"
		}
		return file("etc/os-release", s)
	}
	for _, c := range []struct {
		name   string
		layers [][]byte
		want   string
	}{
		{"dpkg deleted", [][]byte{
			tarball(t, file("etc/os-release", debianRelease), file("var/lib/dpkg/status", status("libc6=2.36-9"))),
			tarball(t, file("var/lib/.wh.dpkg", "")),
		}, "/var/lib/dpkg/status"},
		{"dpkg hidden by an opaque directory", [][]byte{
			tarball(t, file("etc/os-release", debianRelease), file("var/lib/dpkg/status", status("libc6=2.36-9"))),
			tarball(t, dir("var/lib/dpkg"), file("var/lib/dpkg/.wh..wh..opq", "")),
		}, "/var/lib/dpkg/status"},
		{"dpkg never there", [][]byte{tarball(t, file("etc/os-release", debianRelease))}, "/var/lib/dpkg/status"},
		{"derivative by ID_LIKE", [][]byte{tarball(t, osRelease("pureos", "debian"))}, "/var/lib/dpkg/status"},
		{"dpkg intact", [][]byte{
			tarball(t, file("etc/os-release", debianRelease), file("var/lib/dpkg/status", status("libc6=2.36-9"))),
			tarball(t, file("var/lib/.wh.apt", "")),
		}, ""},
		{"dpkg rewritten empty", [][]byte{
			tarball(t, file("etc/os-release", debianRelease), file("var/lib/dpkg/status", status("libc6=2.36-9"))),
			tarball(t, file("var/lib/.wh.dpkg", ""), file("var/lib/dpkg/status", "")),
		}, ""},
		{"distroless status.d", [][]byte{tarball(t, file("etc/os-release", debianRelease), dir("var/lib/dpkg/status.d"))}, ""},
		{"apk deleted", [][]byte{
			tarball(t, osRelease("alpine", ""), file("lib/apk/db/installed", "")),
			tarball(t, file("lib/apk/.wh.db", "")),
		}, "/lib/apk/db/installed"},
		{"wolfi apk", [][]byte{tarball(t, osRelease("wolfi", ""), file("lib/apk/db/installed", ""))}, ""},
		{"rpm under sysimage", [][]byte{tarball(t, osRelease("almalinux", "rhel centos fedora"), file("usr/lib/sysimage/rpm/rpmdb.sqlite", ""))}, ""},
		{"rpm in var/lib/rpm", [][]byte{tarball(t, osRelease("rhel", "fedora"), file("var/lib/rpm/Packages", ""))}, ""},
		{"rpm deleted", [][]byte{
			tarball(t, osRelease("rhel", "fedora"), file("var/lib/rpm/rpmdb.sqlite", "")),
			tarball(t, file("var/lib/.wh.rpm", "")),
		}, "/var/lib/rpm"},
		{"unknown distribution", [][]byte{tarball(t, osRelease("plan9", ""))}, ""},
		{"no distribution", [][]byte{tarball(t, file("app/main", "x"))}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := analyzeImage(t, layered(t, c.layers...))
			got := ""
			if d := res.Inventory.Distro; d != nil {
				got = d.MissingDatabase
			}
			if got != c.want {
				t.Errorf("missing database %q, want %q (distro %+v)", got, c.want, res.Inventory.Distro)
			}
		})
	}
}
