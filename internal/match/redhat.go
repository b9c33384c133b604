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

// streamEcosystems are the ecosystems of the product streams an image's
// OS packages belong to, for distributions whose vendor files advisories
// by stream (Red Hat, SUSE); nil for the others, which have one ecosystem
// per release.
func streamEcosystems(d *inventory.Distro) []string {
	if d == nil {
		return nil
	}
	switch d.ID {
	case "rhel":
		return redHatEcosystems(d)
	case "sles", "opensuse-leap", "opensuse-tumbleweed":
		return suseEcosystems(d)
	}
	return nil
}

// streamQueries are the lookups of one RPM of such an image in each of
// its streams: by its binary name, as Red Hat and SUSE list every fixed
// binary RPM, and by its source package's, as Red Hat names a component
// known to be affected.
func streamQueries(p *inventory.Package, ecosystems []string) []query {
	var qs []query
	for _, eco := range ecosystems {
		qs = append(qs, query{eco, p.Name, p.Version})
		if s := p.Source; s != nil && s.Name != "" && s.Name != p.Name {
			qs = append(qs, query{eco, s.Name, p.Version})
		}
	}
	return qs
}

// streamHeld finds, among the ecosystems the database holds, one of the
// image's streams: the image is covered when its vendor's data for any of
// them is there.
func streamHeld(d *inventory.Distro, has map[string]bool) (string, bool) {
	for _, e := range streamEcosystems(d) {
		if has[e] {
			return e, true
		}
	}
	return "", false
}
