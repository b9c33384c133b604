package distro

import (
	"encoding/json"
	"sort"
	"strings"
)

// contentManifests is where Red Hat's container builds record the
// repositories (content sets) an image's RPMs were installed from:
// /root/buildinfo/content_manifests/<component>-<version>-<release>.json,
// one file per build in the image's history.
const contentManifests = "root/buildinfo/content_manifests/"

// IsContentManifest reports whether path is one of those files.
func IsContentManifest(path string) bool {
	rest, ok := strings.CutPrefix(path, contentManifests)
	return ok && rest != "" && !strings.Contains(rest, "/") && strings.HasSuffix(rest, ".json")
}

// ContentSets reads the content_sets of every content manifest given
// (path → content), sorted and without repeats. Manifests that are not
// JSON objects are passed over: they say nothing of the image's streams.
func ContentSets(manifests map[string][]byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, b := range manifests {
		var m struct {
			ContentSets []string `json:"content_sets"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		for _, cs := range m.ContentSets {
			cs = strings.TrimSpace(cs)
			if cs != "" && !seen[cs] {
				seen[cs] = true
				out = append(out, cs)
			}
		}
	}
	sort.Strings(out)
	return out
}

// RedHatCPEs names the Red Hat product streams, as CPE 2.2 URIs, that a
// RHEL or UBI image's RPMs come from: from its content sets when it has
// them, else the release's two default streams, BaseOS and AppStream, as
// every UBI and RHEL 8 and 9 image starts from.
//
// Content set names follow Red Hat's repository naming:
//
//	rhel-9-for-x86_64-baseos-rpms           cpe:/o:redhat:enterprise_linux:9::baseos
//	rhel-9-for-x86_64-appstream-rpms        cpe:/a:redhat:enterprise_linux:9::appstream
//	rhel-9-for-x86_64-codeready-builder-rpms cpe:/a:redhat:enterprise_linux:9::crb
//	ubi-9-for-x86_64-baseos-rpms, ubi-9-baseos-rpms: as the rhel ones
//	rhel-9-for-x86_64-appstream-eus-rpms__9_DOT_2 cpe:/a:redhat:rhel_eus:9.2::appstream
//	(and -aus-, -e4s-, -tus- for rhel_aus, rhel_e4s, rhel_tus)
//	rhel-7-server-rpms                      cpe:/o:redhat:enterprise_linux:7::server
//
// A content set of another product (OpenShift, Satellite…) names no RHEL
// stream and is left out; if none names one, the defaults are given.
func RedHatCPEs(contentSets []string, versionID string) []string {
	seen := map[string]bool{}
	var out []string
	for _, cs := range contentSets {
		if cpe := contentSetCPE(cs); cpe != "" && !seen[cpe] {
			seen[cpe] = true
			out = append(out, cpe)
		}
	}
	if len(out) == 0 {
		major := leadingDigits(versionID)
		switch major {
		case "":
			return nil
		case "7":
			return []string{"cpe:/o:redhat:enterprise_linux:7::server"}
		}
		out = []string{"cpe:/o:redhat:enterprise_linux:" + major + "::baseos", "cpe:/a:redhat:enterprise_linux:" + major + "::appstream"}
	}
	sort.Strings(out)
	return out
}

// contentSetCPE maps one content set name to its stream's CPE, or "".
func contentSetCPE(cs string) string {
	name, minor, _ := strings.Cut(strings.ToLower(cs), "__")
	name, ok := strings.CutSuffix(name, "-rpms")
	if !ok {
		return ""
	}
	if strings.HasSuffix(name, "-source") || strings.HasSuffix(name, "-debug") {
		return ""
	}
	parts := strings.Split(name, "-")
	if len(parts) < 3 || (parts[0] != "rhel" && parts[0] != "ubi") {
		return ""
	}
	major := parts[1]
	if leadingDigits(major) != major || major == "" {
		return ""
	}
	rest := parts[2:]
	if len(rest) >= 2 && rest[0] == "for" {
		rest = rest[2:] // the architecture
	}
	if major == "7" && len(rest) == 1 && rest[0] == "server" {
		return "cpe:/o:redhat:enterprise_linux:7::server"
	}
	product := "enterprise_linux"
	version := major
	if n := len(rest); n >= 2 {
		switch rest[n-1] {
		case "eus", "aus", "e4s", "tus":
			product = "rhel_" + rest[n-1]
			rest = rest[:n-1]
			// The minor release is in the name's __9_DOT_2 suffix.
			m, ok := strings.CutPrefix(minor, major+"_dot_")
			if !ok || m == "" || leadingDigits(m) != m {
				return ""
			}
			version = major + "." + m
		}
	}
	variant := strings.Join(rest, "-")
	part := "a"
	switch variant {
	case "baseos":
		part = "o"
	case "appstream":
	case "codeready-builder":
		variant = "crb"
	default:
		return ""
	}
	return "cpe:/" + part + ":redhat:" + product + ":" + version + "::" + variant
}
