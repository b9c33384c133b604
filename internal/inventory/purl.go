package inventory

import (
	"strconv"
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// PURL returns the package-url of p, following the purl specification for
// its type. OS packages carry the distribution as namespace and as the
// "distro" qualifier, so d should be the image's distribution (it may be
// nil for language packages or when the distribution is unknown).
func PURL(p *Package, d *Distro) string {
	var (
		namespace, name = "", p.Name
		version         = p.Version
		q               = map[string]string{}
	)
	switch p.Type {
	case Deb, APK, RPM:
		namespace = osNamespace(p.Type, d)
		if p.Arch != "" {
			q["arch"] = p.Arch
		}
		if dq := d.Qualifier(); dq != "" {
			q["distro"] = dq
		}
		if p.Type == RPM {
			version = strings.TrimPrefix(version, strconv.Itoa(p.Epoch)+":")
			if p.Epoch != 0 {
				q["epoch"] = strconv.Itoa(p.Epoch)
			}
		}
		if s := p.Source; s != nil && s.Name != "" && s.Name != p.Name {
			q["upstream"] = s.Name
		}
	case Go, NPM, Composer:
		if i := strings.LastIndex(p.Name, "/"); i >= 0 {
			namespace, name = p.Name[:i], p.Name[i+1:]
		}
	case Maven:
		if i := strings.Index(p.Name, ":"); i >= 0 {
			namespace, name = p.Name[:i], p.Name[i+1:]
		}
	case PyPI:
		name = NormalizePyPI(p.Name)
	}
	var quals packageurl.Qualifiers
	if len(q) > 0 {
		quals = packageurl.QualifiersFromMap(q)
	}
	return packageurl.NewPackageURL(string(p.Type), namespace, name, version, quals, "").ToString()
}

// NormalizePyPI returns a Python project name in its normalized form
// (PEP 503): lowercase, with runs of "-", "_" and "." made one "-".
func NormalizePyPI(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteByte(c)
	}
	return b.String()
}

// osNamespace is the purl namespace of an OS package: the distribution's
// vendor, per the purl spec's examples ("debian", "ubuntu", "alpine",
// "fedora", "centos", "redhat", "almalinux", "rocky", "amzn").
func osNamespace(t Type, d *Distro) string {
	if d != nil && d.ID != "" {
		switch d.ID {
		case "rhel":
			return "redhat"
		case "ol":
			return "oracle"
		case "opensuse-leap", "opensuse-tumbleweed", "sles":
			return "opensuse"
		}
		return d.ID
	}
	switch t {
	case Deb:
		return "debian"
	case APK:
		return "alpine"
	}
	return ""
}
