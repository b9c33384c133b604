package match_test

import (
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
)

// TestAmazonSupported: Amazon Linux 2 and 2023 have advisories (the
// repositories' updateinfo.xml); the Amazon Linux AMI has no feed.
func TestAmazonSupported(t *testing.T) {
	for v, want := range map[string]bool{"2": true, "2023": true, "2018.03": false} {
		if got := match.Supported(&inventory.Distro{ID: "amzn", VersionID: v}); got != want {
			t.Errorf("amzn %s: supported %v, want %v", v, got, want)
		}
	}
}
