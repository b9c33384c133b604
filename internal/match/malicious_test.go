package match_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/vuln"
)

type advisoryList []*vuln.Advisory

func (l advisoryList) Affecting(_ context.Context, eco, name string) ([]*vuln.Advisory, error) {
	var out []*vuln.Advisory
	for _, a := range l {
		for _, af := range a.Affected {
			if af.Package.Ecosystem == eco && af.Package.Name == name {
				out = append(out, a)
				break
			}
		}
	}
	return out, nil
}

// TestMatchMaliciousApart: the real MAL-2022-9 record makes a finding of
// its own, marked malicious and reported under its MAL- id, even beside
// a vulnerability record of the same package that shares its alias.
func TestMatchMaliciousApart(t *testing.T) {
	b, err := os.ReadFile("../vulndb/osv/testdata/malicious/MAL-2022-9.json")
	if err != nil {
		t.Fatal(err)
	}
	mal := new(vuln.Advisory)
	if err := json.Unmarshal(b, mal); err != nil {
		t.Fatal(err)
	}
	// A vulnerability record aliasing the same GHSA id and a CVE.
	other := &vuln.Advisory{ID: "GHSA-8p6v-2gf9-8hhm", Aliases: []string{"CVE-2022-0001"}, Affected: []vuln.Affected{{
		Package: vuln.Package{Ecosystem: "npm", Name: "0-dns"},
		Ranges:  []vuln.Range{{Type: vuln.RangeSemver, Events: []vuln.Event{{Introduced: "0"}}}},
	}}}
	inv := &inventory.Inventory{Packages: []inventory.Package{{Name: "0-dns", Version: "1.0.0", Type: inventory.NPM, PURL: "pkg:npm/0-dns@1.0.0", Path: "/app/node_modules/0-dns/package.json"}}}
	res, err := match.Match(context.Background(), advisoryList{mal, other}, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 {
		t.Fatalf("%d findings, want the malware and the vulnerability apart: %+v", len(res.Findings), res.Findings)
	}
	got := map[string]bool{}
	for _, f := range res.Findings {
		got[f.ID] = f.Malicious
	}
	if m, ok := got["MAL-2022-9"]; !ok || !m {
		t.Errorf("MAL-2022-9 not a malicious finding: %v", got)
	}
	if m, ok := got["CVE-2022-0001"]; !ok || m {
		t.Errorf("the vulnerability is not a plain finding: %v", got)
	}
}
