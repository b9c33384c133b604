package report

import (
	"archive/zip"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

// TestFixtureIsRealData checks the fixture's EPSS, KEV and advisory data
// against the real feeds in the shared test data, read here directly
// (not with Vigil's feed parsers).
func TestFixtureIsRealData(t *testing.T) {
	t.Run("epss", func(t *testing.T) {
		f, err := os.Open(testenv.Shared(t, "vulndb/epss/epss_scores-2026-08-16.csv.gz"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			cols := strings.Split(sc.Text(), ",")
			want, ok := testEPSS[cols[0]]
			if !ok || len(cols) != 3 {
				continue
			}
			found++
			score, _ := strconv.ParseFloat(cols[1], 64)
			pct, _ := strconv.ParseFloat(cols[2], 64)
			if score != want.Score || pct != want.Percentile {
				t.Errorf("%s: feed %v %v, fixture %v %v", cols[0], score, pct, want.Score, want.Percentile)
			}
		}
		if found != len(testEPSS) {
			t.Errorf("found %d of the fixture's %d CVEs", found, len(testEPSS))
		}
	})

	t.Run("kev", func(t *testing.T) {
		data, err := os.ReadFile(testenv.Shared(t, "vulndb/kev/known_exploited_vulnerabilities.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cat struct {
			Vulnerabilities []map[string]any `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(data, &cat); err != nil {
			t.Fatal(err)
		}
		listed := map[string]map[string]any{}
		for _, v := range cat.Vulnerabilities {
			listed[v["cveID"].(string)] = v
		}
		for cve, want := range testKEV {
			got := listed[cve]
			if got == nil {
				t.Errorf("%s is not in KEV", cve)
				continue
			}
			if got["dateAdded"] != want.DateAdded.Format("2006-01-02") || got["dueDate"] != want.DueDate.Format("2006-01-02") ||
				got["vulnerabilityName"] != want.Name || got["vendorProject"] != want.VendorProject ||
				got["product"] != want.Product || got["requiredAction"] != want.RequiredAction {
				t.Errorf("%s: feed %v, fixture %+v", cve, got, want)
			}
		}
		// The fixture's other CVEs are not exploited, as far as CISA knows.
		for cve := range testEPSS {
			if _, fixture := testKEV[cve]; listed[cve] != nil && !fixture {
				t.Errorf("%s is in KEV but not in the fixture's", cve)
			}
		}
	})

	t.Run("go", func(t *testing.T) {
		z, err := zip.OpenReader(testenv.Shared(t, "vulndb/osv/Go/all.zip"))
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		want := map[string]*vuln.Advisory{}
		for _, m := range testMatches(testPackages()) {
			for _, a := range m.Advisories {
				if strings.HasPrefix(a.ID, "GO-") {
					want[a.ID] = a
				}
			}
		}
		for _, f := range z.File {
			id := strings.TrimSuffix(f.Name, ".json")
			w := want[id]
			if w == nil {
				continue
			}
			delete(want, id)
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			var got vuln.Advisory
			err = json.NewDecoder(rc).Decode(&got)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got.Summary != w.Summary || !strings.HasPrefix(got.Details, w.Details) ||
				strings.Join(got.Aliases, " ") != strings.Join(w.Aliases, " ") || !got.Published.Equal(w.Published) && got.Published.Year() > 1 {
				t.Errorf("%s differs from the record: %q %v %v", id, got.Summary, got.Aliases, got.Published)
			}
			if got.Published.Year() <= 1 && !w.Published.IsZero() {
				t.Errorf("%s: record has no published date, fixture %v", id, w.Published)
			}
			// The fixture keeps the affected entries of the packages it
			// is about.
			for _, af := range w.Affected {
				ok := false
				for _, g := range got.Affected {
					ok = ok || (af.Package == g.Package && sameEvents(af.Ranges, g.Ranges))
				}
				if !ok {
					t.Errorf("%s: no affected entry %s with the fixture's ranges", id, af.Package.Name)
				}
			}
		}
		for id := range want {
			t.Errorf("%s is not in the Go database", id)
		}
	})

	t.Run("dsa", func(t *testing.T) {
		data, err := os.ReadFile(testenv.Shared(t, "vulndb/debian/DSA/list"))
		if err != nil {
			t.Fatal(err)
		}
		entry := "[07 Feb 2023] DSA-5343-1 openssl - security update\n" +
			"\t{CVE-2022-2097 CVE-2022-4304 CVE-2022-4450 CVE-2023-0215 CVE-2023-0286}\n" +
			"\t[bullseye] - openssl 1.1.1n-0+deb11u4\n"
		if !strings.Contains(string(data), entry) {
			t.Errorf("DSA list has no entry\n%s", entry)
		}
		if d := time.Date(2023, 2, 7, 0, 0, 0, 0, time.UTC); !testMatches(testPackages())[0].Advisories[1].Published.Equal(d) {
			t.Error("fixture DSA date")
		}
	})
}

func sameEvents(a, b []vuln.Range) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || len(a[i].Events) != len(b[i].Events) {
			return false
		}
		for j := range a[i].Events {
			if a[i].Events[j] != b[i].Events[j] {
				return false
			}
		}
	}
	return true
}
