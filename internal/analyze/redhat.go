package analyze

import (
	"github.com/vigilsec/vigil/internal/distro"
	"github.com/vigilsec/vigil/internal/inventory"
)

// fillRedHat records which Red Hat product streams a RHEL or UBI image's
// packages come from: the content sets of the content manifests present
// in the final image, and the CPEs they map to.
func (s *stack) fillRedHat(d *inventory.Distro) {
	if d == nil || d.ID != "rhel" {
		return
	}
	manifests := map[string][]byte{}
	for j := len(s.layers) - 1; j >= 0; j-- {
		for p, b := range s.layers[j].System {
			if _, done := manifests[p]; done || !distro.IsContentManifest(p) || s.hidden(p, j) {
				continue
			}
			manifests[p] = b
		}
	}
	d.ContentSets = distro.ContentSets(manifests)
	d.CPEs = distro.RedHatCPEs(d.ContentSets, d.VersionID)
}
