package version

import "testing"

// TestOSVVersions parses every version of the OSV data for the ecosystems
// whose comparators have no reference tool here, and checks that each
// ecosystem's versions sort into one order.
func TestOSVVersions(t *testing.T) {
	for _, tc := range []struct {
		zip string
		cmp Comparer
	}{
		{"vulndb/osv/Go/all.zip", Go{}},
		{"vulndb/osv/crates.io/all.zip", SemVer{}},
	} {
		t.Run(tc.zip, func(t *testing.T) {
			valid, rejected := sortedValid(tc.cmp, osvVersions(t, tc.zip))
			for _, v := range rejected {
				t.Errorf("rejected %q", v)
			}
			t.Logf("%d distinct versions", len(valid))
			checkOrder(t, tc.cmp, valid)
		})
	}
}
