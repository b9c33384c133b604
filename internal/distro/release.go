package distro

import (
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// debianCodenames maps Debian major versions to codenames, for releases
// whose os-release lacks VERSION_CODENAME and for debian_version.
var debianCodenames = map[string]string{
	"4":  "etch",
	"5":  "lenny",
	"6":  "squeeze",
	"7":  "wheezy",
	"8":  "jessie",
	"9":  "stretch",
	"10": "buster",
	"11": "bullseye",
	"12": "bookworm",
	"13": "trixie",
	"14": "forky",
	"15": "duke",
}

// parseDebianVersion reads etc/debian_version: a point release ("12.15",
// "6.0.10") on stable releases, "<codename>/sid" on testing and unstable.
// The major version is what Debian's os-release calls VERSION_ID.
func parseDebianVersion(s string) *inventory.Distro {
	d := &inventory.Distro{ID: "debian", Name: "Debian GNU/Linux"}
	if major := leadingDigits(s); major != "" {
		d.VersionID = major
		d.Codename = debianCodenames[major]
		return d
	}
	code, _, _ := strings.Cut(s, "/")
	if code == "" || strings.ContainsAny(code, " \t") {
		return nil
	}
	d.Codename = code
	return d
}

// redhatIDs maps the product names that start redhat-release style lines
// to os-release IDs. Longer names come first so that "CentOS Stream" is
// not taken for "CentOS".
var redhatIDs = []struct {
	prefix, id string
	majorOnly  bool // the os-release VERSION_ID is the major version only
}{
	{"Red Hat Enterprise Linux", "rhel", false},
	{"CentOS Stream", "centos", true},
	{"CentOS Linux", "centos", true},
	{"CentOS", "centos", true},
	{"AlmaLinux", "almalinux", false},
	{"Rocky Linux", "rocky", false},
	{"Amazon Linux AMI", "amzn", false},
	{"Amazon Linux", "amzn", true}, // "2", "2023" as in os-release
	{"Fedora", "fedora", true},
	{"Oracle Linux Server", "ol", false},
	{"Oracle Linux", "ol", false},
	{"CBL-Mariner", "mariner", false},
}

// parseRedHatRelease reads a line such as "CentOS Linux release 7.9.2009
// (Core)": product, "release", version, and the codename in parentheses.
// The version is given as the distribution's os-release gives it, so that
// both sources agree ("7" for CentOS 7.9.2009, "8.4" for RHEL 8.4).
func parseRedHatRelease(line string) *inventory.Distro {
	name, rest, ok := strings.Cut(line, " release ")
	if !ok {
		return nil
	}
	var id string
	majorOnly := false
	for _, r := range redhatIDs {
		if strings.HasPrefix(name, r.prefix) {
			id, majorOnly = r.id, r.majorOnly
			break
		}
	}
	if id == "" {
		return nil
	}
	version, codename, _ := strings.Cut(strings.TrimSpace(rest), " ")
	codename = strings.TrimSpace(codename)
	if strings.HasPrefix(codename, "(") && strings.HasSuffix(codename, ")") {
		codename = codename[1 : len(codename)-1]
	} else {
		codename = ""
	}
	if majorOnly {
		version = leadingDigits(version)
	}
	return &inventory.Distro{ID: id, VersionID: version, Codename: codename, Name: name, PrettyName: line}
}
