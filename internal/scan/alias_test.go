package scan_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// TestGHSAAliasBringsVector: DSA-5283-1 fixed CVE-2020-36518,
// CVE-2022-42003 and CVE-2022-42004 in bullseye's jackson-databind
// 2.12.1-1+deb11u1, and says nothing of their severity; GitHub's advisory
// of each CVE (GHSA-57j2-w4cx-62h2, GHSA-jjjh-jjxp-wpff,
// GHSA-rgv9-q543-rqg4, Maven records) carries a CVSS vector. The Debian
// finding of the unfixed 2.12.1-1, DSA-5283-1, relates the three GHSAs
// and is scored from their vectors instead of staying UNTRIAGED.
func TestGHSAAliasBringsVector(t *testing.T) {
	d, err := vulndb.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Import(ctx, []string{testenv.Shared(t, "vulndb/debian/DSA/list"), testenv.Shared(t, "vulndb/osv/Maven/all.zip")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(ctx, d.DatabasePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inv := &inventory.Inventory{
		Distro: &inventory.Distro{ID: "debian", VersionID: "11", Codename: "bullseye"},
		Packages: []inventory.Package{{Name: "libjackson2-databind-java", Version: "2.12.1-1", Type: inventory.Deb,
			PURL:   "pkg:deb/debian/libjackson2-databind-java@2.12.1-1?distro=debian-11",
			Source: &inventory.Source{Name: "jackson-databind", Version: "2.12.1-1"}}},
	}
	res, err := match.Match(ctx, db, inv)
	if err != nil {
		t.Fatal(err)
	}
	found, err := scan.Score(ctx, db, res.Findings)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != "DSA-5283-1" {
		t.Fatalf("findings %v, want DSA-5283-1", found)
	}
	f := found[0]
	for _, ghsa := range []string{"GHSA-57j2-w4cx-62h2", "GHSA-jjjh-jjxp-wpff", "GHSA-rgv9-q543-rqg4"} {
		if !strings.Contains(strings.Join(f.Related, " "), ghsa) {
			t.Errorf("related %v lack %s", f.Related, ghsa)
		}
	}
	// Each GHSA's vector is CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H, 7.5.
	if f.Score.ScoreSource != score.SourceAlias || f.Score.Base.Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" || f.Score.Base.BaseScore != 7.5 {
		t.Errorf("scored %s %.1f %q from %q, want the GHSAs' 7.5", f.Score.Severity, f.Score.Base.BaseScore, f.Score.Base.Vector, f.Score.ScoreSource)
	}
}
