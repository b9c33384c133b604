package vuln

import "strings"

// RedHatEcosystemPrefix starts the ecosystem of every Red Hat product
// stream.
const RedHatEcosystemPrefix = "Red Hat:"

// RedHatEcosystem is the ecosystem of the RPMs of one Red Hat product
// stream, named by its CPE 2.2 URI as Red Hat's VEX documents and
// repository metadata name it: "cpe:/a:redhat:enterprise_linux:9::appstream"
// is "Red Hat:enterprise_linux:9::appstream", the form osv.dev gives Red
// Hat's ecosystems. Trailing empty parts are dropped, so that
// "cpe:/o:redhat:enterprise_linux:8:" and "…:8" are one stream. It returns
// "" for a CPE that is not Red Hat's.
func RedHatEcosystem(cpe string) string {
	rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(cpe)), "cpe:/")
	if !ok || len(rest) < 2 || rest[1] != ':' {
		return ""
	}
	rest, ok = strings.CutPrefix(rest[2:], "redhat:")
	if !ok {
		return ""
	}
	rest = strings.TrimRight(rest, ":")
	if rest == "" {
		return ""
	}
	return RedHatEcosystemPrefix + rest
}

// RedHatRelease is the stream's product and version alone, without its
// variant: "Red Hat:enterprise_linux:9::appstream" is
// "Red Hat:enterprise_linux:9". Red Hat states what is known to be
// affected, and not, of a whole release this way.
func RedHatRelease(ecosystem string) string {
	rest, ok := strings.CutPrefix(ecosystem, RedHatEcosystemPrefix)
	if !ok {
		return ""
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) < 2 {
		return ecosystem
	}
	return RedHatEcosystemPrefix + parts[0] + ":" + parts[1]
}
