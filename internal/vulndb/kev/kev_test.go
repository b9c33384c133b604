package kev

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"
)

const realCatalog = "vulndb/kev/known_exploited_vulnerabilities.json"

func parseFile(t *testing.T, path string) (Catalog, []error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, errs, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return c, errs
}

func jq(t *testing.T, filter, path string) []byte {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "jq"), "-c", filter, path).Output()
	if err != nil {
		t.Fatalf("jq %s: %v", filter, err)
	}
	return out
}

// TestRealCatalog reads the real 2025-08-25 catalog and checks it against
// jq's reading of the same file.
func TestRealCatalog(t *testing.T) {
	path := testenv.Shared(t, realCatalog)
	c, errs := parseFile(t, path)
	if len(errs) != 0 {
		t.Errorf("errors on the real catalog: %v", errs)
	}

	n, err := strconv.Atoi(strings.TrimSpace(string(jq(t, ".vulnerabilities|length", path))))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1404 || c.Count != 1404 || len(c.Vulnerabilities) != n {
		t.Errorf("jq counts %d entries, the catalog says %d, Parse returned %d; want 1404", n, c.Count, len(c.Vulnerabilities))
	}

	var head struct {
		Title, CatalogVersion, DateReleased string
	}
	if err := json.Unmarshal(jq(t, "{title, catalogVersion, dateReleased}", path), &head); err != nil {
		t.Fatal(err)
	}
	if c.Title != head.Title || c.CatalogVersion != head.CatalogVersion || c.CatalogVersion != "2025.08.25" {
		t.Errorf("title %q version %q, jq says %q %q", c.Title, c.CatalogVersion, head.Title, head.CatalogVersion)
	}
	if want := time.Date(2025, 8, 25, 17, 4, 19, 979600000, time.UTC); !c.DateReleased.Equal(want) || head.DateReleased != "2025-08-25T17:04:19.9796Z" {
		t.Errorf("dateReleased %v (jq %q), want %v", c.DateReleased, head.DateReleased, want)
	}

	ransomware := 0
	for _, e := range c.Vulnerabilities {
		if e.KnownRansomwareCampaignUse {
			ransomware++
		}
	}
	known, _ := strconv.Atoi(strings.TrimSpace(string(jq(t, `[.vulnerabilities[]|select(.knownRansomwareCampaignUse=="Known")]|length`, path))))
	if ransomware != known || known == 0 {
		t.Errorf("%d entries with known ransomware use, jq counts %d", ransomware, known)
	}

	idx := c.Index()
	// The first and last entries, Log4Shell, and an entry without CWEs.
	noCWE := strings.Trim(strings.TrimSpace(string(jq(t, `[.vulnerabilities[]|select(.cwes==[])][0].cveID`, path))), `"`)
	for _, id := range []string{"CVE-2025-48384", "CVE-2020-29583", "CVE-2021-44228", noCWE} {
		t.Run(id, func(t *testing.T) {
			var want rawEntry
			if err := json.Unmarshal(jq(t, `.vulnerabilities[]|select(.cveID=="`+id+`")`, path), &want); err != nil {
				t.Fatal(err)
			}
			got, ok := idx[id]
			if !ok {
				t.Fatalf("%s not in the catalog", id)
			}
			added, _ := time.Parse("2006-01-02", want.DateAdded)
			due, _ := time.Parse("2006-01-02", want.DueDate)
			wantEntry := Entry{
				CVEID: want.CVEID, VendorProject: want.VendorProject, Product: want.Product,
				VulnerabilityName: want.VulnerabilityName, DateAdded: added,
				ShortDescription: want.ShortDescription, RequiredAction: want.RequiredAction,
				DueDate: due, KnownRansomwareCampaignUse: want.KnownRansomwareCampaignUse == "Known",
				Notes: want.Notes, CWEs: want.CWEs,
			}
			if !reflect.DeepEqual(got, wantEntry) {
				t.Errorf("got\n%+v\njq says\n%+v", got, wantEntry)
			}
			if got.DateAdded.IsZero() || got.VulnerabilityName == "" {
				t.Errorf("%s: empty fields %+v", id, got)
			}
		})
	}
	if first, last := c.Vulnerabilities[0].CVEID, c.Vulnerabilities[len(c.Vulnerabilities)-1].CVEID; first != "CVE-2025-48384" || last != "CVE-2020-29583" {
		t.Errorf("first %s last %s: the catalog order is not kept", first, last)
	}
	if l := idx["CVE-2021-44228"]; !l.KnownRansomwareCampaignUse || l.DateAdded != time.Date(2021, 12, 10, 0, 0, 0, 0, time.UTC) {
		t.Errorf("Log4Shell: %+v", l)
	}
}

func TestParseMalformedEntries(t *testing.T) {
	const catalog = `{"title":"t","catalogVersion":"1","dateReleased":"yesterday","count":7,"vulnerabilities":[
	 {"cveID":"CVE-2021-44228","dateAdded":"2021-12-10","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Known","cwes":["CWE-20"]},
	 {"cveID":"CVE-21-1","dateAdded":"2021-12-10"},
	 {"cveID":"CVE-2022-0001","dateAdded":5},
	 "not an object",
	 {"cveID":"CVE-2014-0160","dateAdded":"14 April 2014","dueDate":"2022-05-25","knownRansomwareCampaignUse":"Maybe"},
	 {"cveID":"CVE-2021-44228","dateAdded":"2022-01-01","knownRansomwareCampaignUse":"Unknown"}
	]}`
	c, errs, err := Parse(strings.NewReader(catalog))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range c.Vulnerabilities {
		ids = append(ids, e.CVEID)
	}
	// Heartbleed's bad date and ransomware word are reported, the entry
	// kept; the second Log4Shell is a duplicate.
	if strings.Join(ids, " ") != "CVE-2021-44228 CVE-2014-0160" {
		t.Errorf("kept %v", ids)
	}
	if !c.Vulnerabilities[1].DateAdded.IsZero() || c.Vulnerabilities[1].DueDate != time.Date(2022, 5, 25, 0, 0, 0, 0, time.UTC) {
		t.Errorf("Heartbleed dates %+v", c.Vulnerabilities[1])
	}
	all := ""
	for _, e := range errs {
		if !strings.HasPrefix(e.Error(), "kev: ") {
			t.Errorf("error %q lacks the package prefix", e)
		}
		all += e.Error() + "\n"
	}
	for _, want := range []string{
		`dateReleased "yesterday"`,
		`entry 2: cveID "CVE-21-1" is not a CVE id`,
		`entry 3: CVE-2022-0001: json: cannot unmarshal number`,
		`entry 4: json: cannot unmarshal string`,
		`CVE-2014-0160: dateAdded "14 April 2014" is not a date; entry kept`,
		`CVE-2014-0160: knownRansomwareCampaignUse "Maybe"`,
		`entry 6 (CVE-2021-44228): duplicate`,
		`count says 7 entries, the catalog has 6`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors do not say %q:\n%s", want, all)
		}
	}
	if len(errs) != 8 {
		t.Errorf("%d errors, want 8:\n%s", len(errs), all)
	}
}

func TestParseNotACatalog(t *testing.T) {
	for _, in := range []string{``, `nope`, `[]`, `{"title":"x"}`, `{"vulnerabilities":{}}`, `{"count":"1","vulnerabilities":[]}`} {
		if _, _, err := Parse(strings.NewReader(in)); err == nil || !strings.HasPrefix(err.Error(), "kev: ") {
			t.Errorf("Parse(%q): error %v, want a kev: error", in, err)
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	big := spaces{n: maxSize + 10}
	if _, _, err := Parse(&big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
}

// spaces yields n spaces without holding them in memory.
type spaces struct{ n int }

func (r *spaces) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	copy(p, bytes.Repeat([]byte(" "), k))
	r.n -= k
	return k, nil
}

func TestErrorsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"count":0,"vulnerabilities":[`)
	for i := 0; i < 500; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"cveID":"bad"}`)
	}
	b.WriteString(`]}`)
	_, errs, err := Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != maxErrors+1 || !strings.Contains(errs[maxErrors].Error(), "401 more errors") {
		t.Errorf("%d errors, last %v", len(errs), errs[len(errs)-1])
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"title":"t","catalogVersion":"1","dateReleased":"2025-08-25T17:04:19.9796Z","count":1,"vulnerabilities":[{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Known","cwes":["CWE-20"]}]}`))
	f.Add([]byte(`{"count":2,"vulnerabilities":[{"cveID":"x"},1,null,{"cveID":"CVE-2000-0001","cwes":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, errs, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(errs) > maxErrors+1 {
			t.Fatalf("%d errors", len(errs))
		}
		seen := map[string]bool{}
		for _, e := range c.Vulnerabilities {
			if !cveID.MatchString(e.CVEID) || seen[e.CVEID] {
				t.Fatalf("bad or duplicate id %q kept", e.CVEID)
			}
			seen[e.CVEID] = true
		}
	})
}
