package report

import (
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/scan"
)

// imageName is a scanned image's name in registry terms.
type imageName struct {
	// Host is the registry ("registry.local:5000", "docker.io"); empty
	// for images read from files.
	Host string
	// Repo is the repository path ("team/app", "library/debian"),
	// lower-case and limited to the characters registries allow.
	Repo string
	Tags []string
}

// transports are the source prefixes of `vigil scan` that name a file or
// directory rather than a registry.
var transports = []string{"oci:", "archive:", "dir:", "rootfs:", "sbom:"}

// nameOf works out the repository of the subject: from the name the user
// gave when it is an image reference; for an image read from a file or
// directory, from its first repository tag or digest when the source
// recorded one (a docker-save archive does), else from the file's base
// name without extensions. Tags come from the reference and every
// repository tag.
func nameOf(s scan.Subject) imageName {
	var n imageName
	ref, _ := strings.CutPrefix(s.Name, "registry:")
	registry := true
	for _, t := range transports {
		r, ok := strings.CutPrefix(ref, t)
		if !ok {
			continue
		}
		switch {
		case len(s.RepoTags) > 0:
			ref = s.RepoTags[0]
		case len(s.RepoDigests) > 0:
			ref = s.RepoDigests[0]
		default:
			ref, registry = fileRepo(t, r), false
		}
		break
	}
	if registry {
		n.Host, n.Repo, n.Tags = splitRef(ref)
	} else {
		n.Repo, n.Tags = ref, nil
		if i := strings.LastIndex(n.Repo, ":"); i >= 0 {
			n.Repo, n.Tags = n.Repo[:i], []string{n.Repo[i+1:]}
		}
	}
	for _, t := range s.RepoTags {
		if _, _, tags := splitRef(t); len(tags) > 0 {
			n.Tags = append(n.Tags, tags...)
		}
	}
	n.Tags = uniq(n.Tags)
	n.Repo = sanitizeRepo(n.Repo)
	return n
}

// fileRepo turns "DIR[:TAG]" of a file transport into "base[:TAG]".
func fileRepo(transport, r string) string {
	tag := ""
	if transport == "oci:" || transport == "archive:" {
		// The tag follows the last colon, unless that colon is part
		// of the path ("oci:C:/images/app" has no tag).
		if i := strings.LastIndex(r, ":"); i >= 0 && !strings.Contains(r[i+1:], "/") {
			r, tag = r[:i], r[i+1:]
		}
	}
	base := path.Base(strings.TrimRight(strings.ReplaceAll(r, "\\", "/"), "/"))
	for _, ext := range []string{".gz", ".zst", ".tgz", ".tar", ".json", ".xml"} {
		base = strings.TrimSuffix(base, ext)
	}
	if tag != "" {
		return base + ":" + tag
	}
	return base
}

// splitRef splits an image reference "host/repo:tag@digest" into the
// registry, the repository and the tag, with Docker's defaults for names
// without a registry ("debian" is docker.io/library/debian).
func splitRef(ref string) (host, repo string, tags []string) {
	if ref == "" {
		return "", "", nil
	}
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i+1:], "/") {
		ref, tags = ref[:i], []string{ref[i+1:]}
	}
	first, rest, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest, tags
	}
	if !strings.Contains(ref, "/") {
		ref = "library/" + ref
	}
	return "docker.io", ref, tags
}

// sanitizeRepo keeps what registries allow in a repository name: lower
// case letters, digits, and the separators ".", "_", "-" and "/".
func sanitizeRepo(r string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(r) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '_', c == '-', c == '/':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "/.-_")
	if s == "" {
		return "unknown"
	}
	return s
}

// architecture is the architecture part of an "os/arch[/variant]"
// platform ("amd64"), as ECR reports it.
func architecture(platform string) string {
	_, rest, ok := strings.Cut(platform, "/")
	if !ok {
		return ""
	}
	arch, _, _ := strings.Cut(rest, "/")
	return arch
}

// platformOf names the distribution the way Inspector's
// awsEcrContainerImage.platform does: DEBIAN_12, ALPINE_LINUX_3_20,
// UBUNTU_22_04, AMAZON_LINUX_2023. Distributions Inspector does not list
// get their os-release ID in the same shape. Versions keep the parts
// Inspector keeps: Debian's, RHEL's and its rebuilds' major version,
// Alpine's major and minor.
func platformOf(d *inventory.Distro) string {
	if d == nil || d.ID == "" {
		return ""
	}
	names := map[string]string{
		"debian": "DEBIAN", "ubuntu": "UBUNTU", "alpine": "ALPINE_LINUX",
		"amzn": "AMAZON_LINUX", "rhel": "RHEL", "centos": "CENTOS",
		"almalinux": "ALMA_LINUX", "rocky": "ROCKY_LINUX", "ol": "ORACLE_LINUX",
		"fedora": "FEDORA", "sles": "SUSE", "opensuse-leap": "OPENSUSE_LEAP",
		"photon": "PHOTON_OS", "mariner": "CBL_MARINER", "azurelinux": "AZURE_LINUX",
		"wolfi": "WOLFI", "chainguard": "CHAINGUARD",
	}
	name, ok := names[d.ID]
	if !ok {
		name = upperSnake(d.ID)
	}
	parts := strings.FieldsFunc(d.VersionID, func(r rune) bool { return r == '.' || r == '-' || r == '_' })
	keep := len(parts)
	switch d.ID {
	case "debian", "rhel", "centos", "almalinux", "rocky", "ol", "amzn", "fedora":
		keep = 1
	case "alpine", "ubuntu", "sles", "opensuse-leap":
		keep = 2
	}
	if len(parts) > keep {
		parts = parts[:keep]
	}
	if len(parts) == 0 {
		return name
	}
	return name + "_" + upperSnake(strings.Join(parts, "_"))
}

func upperSnake(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
