package match

import (
	"sort"

	"github.com/vigilsec/vigil/internal/distro"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/vuln"
)

// redHatEcosystems are the ecosystems a RHEL or UBI image's RPMs are
// looked up in: each product stream the image's content sets name (or,
// without content manifests, the release's BaseOS and AppStream), and each
// of those streams' whole release ("Red Hat:enterprise_linux:9"), which
// is what Red Hat's statements of known affected packages name. Streams
// the image does not use are never asked, so a fix or an affected
// statement of another stream (another minor release's EUS, another major
// release) cannot report a package.
func redHatEcosystems(d *inventory.Distro) []string {
	cpes := d.CPEs
	if len(cpes) == 0 {
		cpes = distro.RedHatCPEs(d.ContentSets, d.VersionID)
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range cpes {
		eco := vuln.RedHatEcosystem(c)
		if eco == "" {
			continue
		}
		for _, e := range []string{eco, vuln.RedHatRelease(eco)} {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	sort.Strings(out)
	return out
}

// redHatQueries are the lookups of one RPM of a Red Hat image in each of
// the image's streams: by its binary name, as Red Hat lists every fixed
// binary RPM, and by its source package's, as Red Hat names a component
// known to be affected.
func redHatQueries(p *inventory.Package, d *inventory.Distro) []query {
	var qs []query
	for _, eco := range redHatEcosystems(d) {
		qs = append(qs, query{eco, p.Name, p.Version})
		if s := p.Source; s != nil && s.Name != "" && s.Name != p.Name {
			qs = append(qs, query{eco, s.Name, p.Version})
		}
	}
	return qs
}

// redHatHeld finds, among the ecosystems the database holds, one of the
// image's streams: a RHEL image is covered when Red Hat's data for any of
// them is there.
func redHatHeld(d *inventory.Distro, has map[string]bool) (string, bool) {
	for _, e := range redHatEcosystems(d) {
		if has[e] {
			return e, true
		}
	}
	return "", false
}
