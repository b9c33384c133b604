package match_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
)

// A stored inventory whose distribution lacks its package database, as
// a rescan reads it back, is judged not covered however fully the
// database holds the release; once an OS package is known, the release
// is judged by its advisories as before.
func TestCoverMissingPackageDatabase(t *testing.T) {
	db := importDB(t, "vulndb/debian")
	var inv inventory.Inventory
	stored := `{"distro":{"id":"debian","versionId":"11","source":"/etc/os-release","missingDatabase":"/var/lib/dpkg/status"},"packages":[]}`
	if err := json.Unmarshal([]byte(stored), &inv); err != nil {
		t.Fatal(err)
	}
	scopes, err := match.Cover(context.Background(), db, &inv)
	if err != nil {
		t.Fatal(err)
	}
	cov := coverage.New(scopes, nil)
	if cov.Full || cov.Reason != coverage.ReasonIncomplete || len(scopes) != 1 || scopes[0].Ecosystem != "Debian:11" || scopes[0].Covered ||
		len(cov.Gaps()) != 1 || cov.Gaps()[0] != "debian 11: package database missing (/var/lib/dpkg/status)" {
		t.Errorf("coverage %+v, gaps %q", cov, cov.Gaps())
	}

	inv.Packages = []inventory.Package{{Name: "libc6", Version: "2.31-13+deb11u5", Type: inventory.Deb, Path: "/var/lib/dpkg/status"}}
	if scopes, err = match.Cover(context.Background(), db, &inv); err != nil {
		t.Fatal(err)
	}
	if cov := coverage.New(scopes, nil); !cov.Full || len(scopes) != 1 || !scopes[0].Covered || scopes[0].Packages != 1 {
		t.Errorf("with a package: coverage %+v", cov)
	}
}
