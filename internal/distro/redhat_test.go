package distro

import (
	"fmt"
	"os"
	"testing"
)

// TestRPMReleases detects RHEL 7, 8 and 9, UBI 8, Oracle Linux 7, 8 and 9,
// SLES 15, openSUSE Leap 15 and Photon OS from their real os-release
// files (provenance in testdata/os-release/README.md). UBI images carry
// RHEL's own os-release: they are RHEL to every scanner, and Red Hat's
// data for RHEL is theirs.
func TestRPMReleases(t *testing.T) {
	for file, want := range map[string]struct{ id, version, name string }{
		"rhel-7":           {"rhel", "7.7", "Red Hat Enterprise Linux Server"},
		"rhel-8":           {"rhel", "8.1", "Red Hat Enterprise Linux"},
		"rhel-9":           {"rhel", "9.0", "Red Hat Enterprise Linux"},
		"ubi-8":            {"rhel", "8.0", "Red Hat Enterprise Linux"},
		"ol-7":             {"ol", "7.7", "Oracle Linux Server"},
		"ol-8":             {"ol", "8.3", "Oracle Linux Server"},
		"ol-9":             {"ol", "9.2", "Oracle Linux Server"},
		"sles-15":          {"sles", "15.2", "SLES"},
		"opensuse-leap-15": {"opensuse-leap", "15.2", "openSUSE Leap"},
		"photon-2":         {"photon", "2.0", "VMware Photon OS"},
		"photon-3":         {"photon", "3.0", "VMware Photon OS"},
	} {
		b, err := os.ReadFile("testdata/os-release/" + file)
		if err != nil {
			t.Fatal(err)
		}
		d := Detect(func(p string) ([]byte, bool) { return b, p == etcOSRelease })
		if d == nil || d.ID != want.id || d.VersionID != want.version || d.Name != want.name || d.Source != "/etc/os-release" {
			t.Errorf("%s: %+v, want %+v", file, d, want)
		}
	}
}

func TestContentManifests(t *testing.T) {
	for p, want := range map[string]bool{
		"root/buildinfo/content_manifests/ubi9-minimal-container-9.4-949.json": true,
		"root/buildinfo/content_manifests/x.json":                              true,
		"root/buildinfo/content_manifests/":                                    false,
		"root/buildinfo/content_manifests/sub/x.json":                          false,
		"root/buildinfo/Dockerfile-ubi9-9.4":                                   false,
		"root/buildinfo/content_manifests/x.txt":                               false,
	} {
		if got := IsContentManifest(p); got != want || Wants(p) != want {
			t.Errorf("%s: %v, want %v", p, got, want)
		}
	}
	sets := ContentSets(map[string][]byte{
		"a.json": []byte(`{"content_sets": ["rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-rpms"]}`),
		"b.json": []byte(`{"content_sets": ["rhel-9-for-x86_64-appstream-rpms"], "image_contents": []}`),
		"c.json": []byte(`not json`),
	})
	if fmt.Sprint(sets) != "[rhel-9-for-x86_64-appstream-rpms rhel-9-for-x86_64-baseos-rpms]" {
		t.Errorf("content sets %v", sets)
	}
}

func TestRedHatCPEs(t *testing.T) {
	for _, c := range []struct {
		sets    []string
		version string
		want    string
	}{
		{[]string{"rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-rpms"}, "9.4",
			"[cpe:/a:redhat:enterprise_linux:9::appstream cpe:/o:redhat:enterprise_linux:9::baseos]"},
		{[]string{"rhel-8-for-aarch64-baseos-eus-rpms__8_DOT_6", "rhel-8-for-aarch64-appstream-eus-rpms__8_DOT_6"}, "8.6",
			"[cpe:/a:redhat:rhel_eus:8.6::appstream cpe:/o:redhat:rhel_eus:8.6::baseos]"},
		{[]string{"rhel-8-for-x86_64-appstream-e4s-rpms__8_DOT_4"}, "8.4", "[cpe:/a:redhat:rhel_e4s:8.4::appstream]"},
		{[]string{"ubi-9-for-x86_64-baseos-rpms", "ubi-9-codeready-builder-rpms"}, "9.4",
			"[cpe:/a:redhat:enterprise_linux:9::crb cpe:/o:redhat:enterprise_linux:9::baseos]"},
		{[]string{"rhel-7-server-rpms"}, "7.9", "[cpe:/o:redhat:enterprise_linux:7::server]"},
		// Another product's repositories, and source or debug ones,
		// name no RHEL stream: the release's defaults stand.
		{[]string{"rhocp-4.16-for-rhel-9-x86_64-rpms", "rhel-9-for-x86_64-baseos-source-rpms"}, "9.4",
			"[cpe:/a:redhat:enterprise_linux:9::appstream cpe:/o:redhat:enterprise_linux:9::baseos]"},
		// An EUS name without its minor release is not guessed at.
		{[]string{"rhel-9-for-x86_64-baseos-eus-rpms"}, "9.2",
			"[cpe:/a:redhat:enterprise_linux:9::appstream cpe:/o:redhat:enterprise_linux:9::baseos]"},
		{nil, "8.10", "[cpe:/a:redhat:enterprise_linux:8::appstream cpe:/o:redhat:enterprise_linux:8::baseos]"},
		{nil, "", "[]"},
	} {
		if got := fmt.Sprint(RedHatCPEs(c.sets, c.version)); got != c.want {
			t.Errorf("%v %s: %s, want %s", c.sets, c.version, got, c.want)
		}
	}
}
