package nvd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

const fixture = "testdata/page.json"

func parseAll(t testing.TB, r io.Reader) (Page, []CVE, []error, error) {
	t.Helper()
	var cves []CVE
	page, errs, err := Parse(r, func(c CVE) error {
		cves = append(cves, c)
		return nil
	})
	return page, cves, errs, err
}

func parseFixture(t *testing.T) (Page, []CVE) {
	t.Helper()
	f, err := os.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page, cves, errs, err := parseAll(t, f)
	if err != nil || len(errs) != 0 {
		t.Fatalf("err %v, record errors %v", err, errs)
	}
	return page, cves
}

// TestFixtureFollowsSchema validates the hand-written page against NVD's
// published schema, so that the fixture is a response NVD could send.
func TestFixtureFollowsSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	// NVD writes its timestamps without a zone ("2021-12-10T10:15:09.143",
	// UTC), which the "date-time" format its own schema declares does not
	// allow; real responses would fail too. Accept that form, still
	// rejecting anything that is not a time.
	c.RegisterFormat(&jsonschema.Format{Name: "date-time", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return nil
		}
		_, err := time.Parse("2006-01-02T15:04:05.999999999", s)
		return err
	}})
	add := func(url, file string) {
		f, err := os.Open(filepath.Join("testdata", "schema", file))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	const root = "https://csrc.nist.gov/schema/nvd/api/2.0/cve_api_json_2.0.schema"
	add(root, "cve_api_json_2.0.schema")
	for _, v := range []string{"2.0", "3.0", "3.1", "4.0"} {
		add("https://csrc.nist.gov/schema/nvd/api/2.0/external/cvss-v"+v+".json", "cvss-v"+v+".json")
	}
	schema, err := c.Compile(root)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(doc); err != nil {
		t.Errorf("%s does not follow NVD's schema: %v", fixture, err)
	}
	// The schemas must be able to say no.
	for what, edit := range map[string][2]string{
		"a CVE without published": {`"published": "2021-12-10T10:15:09.143",`, ``},
		"a bad published time":    {`"published": "2021-12-10T10:15:09.143"`, `"published": "10 Dec 2021"`},
		"a bad v3.1 vector":       {`"vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"`, `"vectorString": "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"`},
		"a bad v4.0 vector":       {`"vectorString": "CVSS:4.0/AV:N/AC:L/AT:N`, `"vectorString": "CVSS:4.0/AC:L/AV:N/AT:N`},
		"an unknown metric field": {`"cvssMetricV2": [`, `"cvssMetricV2": [{"source":"x","type":"Primary","cvssData":{"version":"2.0","vectorString":"AV:N/AC:L/Au:N/C:P/I:N/A:N","baseScore":5},"extra":1},`},
	} {
		broken := bytes.Replace(data, []byte(edit[0]), []byte(edit[1]), 1)
		if bytes.Equal(broken, data) {
			t.Fatalf("%s: edit did not apply", what)
		}
		doc, _ = jsonschema.UnmarshalJSON(bytes.NewReader(broken))
		if schema.Validate(doc) == nil {
			t.Errorf("the schema accepts %s", what)
		}
	}
}

// expected is the shape testdata/expect.py prints.
type expected struct {
	Page struct {
		ResultsPerPage, StartIndex, TotalResults int
		Format, Version, Timestamp               string
	} `json:"page"`
	CVEs []map[string]any `json:"cves"`
}

// flat renders a CVE the way expect.py does, to compare the two readings.
func flat(c CVE) map[string]any {
	metrics := []map[string]any{}
	for _, m := range c.Metrics {
		metrics = append(metrics, map[string]any{
			"type": m.Type, "vector": m.Score, "source": m.Source, "primary": m.Primary,
			"version": m.Version, "baseScore": m.BaseScore, "baseSeverity": m.BaseSeverity,
		})
	}
	refs := []map[string]any{}
	for _, r := range c.References {
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		refs = append(refs, map[string]any{"url": r.URL, "source": r.Source, "tags": tags})
	}
	cwes := c.CWEs
	if cwes == nil {
		cwes = []string{}
	}
	kev := ""
	if !c.CISAExploitAdd.IsZero() {
		kev = c.CISAExploitAdd.Format(time.DateOnly)
	}
	m := map[string]any{
		"id": c.ID, "sourceIdentifier": c.SourceIdentifier,
		"published":    c.Published.Format("2006-01-02T15:04:05.000"),
		"lastModified": c.LastModified.Format("2006-01-02T15:04:05.000"),
		"status":       c.Status, "rejected": c.Rejected(), "description": c.Description,
		"cisaExploitAdd": kev, "metrics": metrics, "cwes": cwes, "references": refs,
	}
	// Round-trip through JSON so both sides have the same Go types.
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// TestParseFixture compares Parse with Python's reading of the fixture
// (testdata/expect.py), field by field.
func TestParseFixture(t *testing.T) {
	out, err := exec.Command(testenv.Tool(t, "python3"), "testdata/expect.py", fixture).Output()
	if err != nil {
		t.Fatalf("expect.py: %v", err)
	}
	var want expected
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	page, cves := parseFixture(t)

	wp := want.Page
	if page.ResultsPerPage != wp.ResultsPerPage || page.StartIndex != wp.StartIndex || page.TotalResults != wp.TotalResults ||
		page.Format != wp.Format || page.Version != wp.Version || page.Timestamp.Format("2006-01-02T15:04:05.000") != wp.Timestamp {
		t.Errorf("page %+v, python says %+v", page, wp)
	}
	if len(cves) != len(want.CVEs) || len(cves) != 5 {
		t.Fatalf("%d CVEs, python reads %d", len(cves), len(want.CVEs))
	}
	for i, c := range cves {
		got, w := flat(c), want.CVEs[i]
		for k := range w {
			if !reflect.DeepEqual(got[k], w[k]) {
				t.Errorf("%s: %s = %v, python says %v", c.ID, k, got[k], w[k])
			}
		}
		if len(got) != len(w) {
			t.Errorf("%s: %d fields, python has %d", c.ID, len(got), len(w))
		}
	}

	// What the fixture is there to show, stated outright.
	log4j := cves[0]
	if log4j.ID != "CVE-2021-44228" || len(log4j.Metrics) != 3 ||
		!log4j.Metrics[0].Primary || log4j.Metrics[0].Source != "nvd@nist.gov" || log4j.Metrics[0].BaseScore != 10.0 ||
		log4j.Metrics[1].Primary || log4j.Metrics[1].Source != "security@apache.org" ||
		log4j.Metrics[2].Type != vuln.CVSSv2 || log4j.Metrics[2].BaseScore != 9.3 || log4j.Metrics[2].BaseSeverity != "HIGH" {
		t.Errorf("Log4Shell metrics %+v", log4j.Metrics)
	}
	if strings.Join(log4j.CWEs, " ") != "CWE-20 CWE-400 CWE-502 CWE-917" || !strings.HasPrefix(log4j.Description, "Apache Log4j2 2.0-beta9") {
		t.Errorf("Log4Shell CWEs %v, description %.30q", log4j.CWEs, log4j.Description)
	}
	if v4 := cves[2]; len(v4.Metrics) != 1 || v4.Metrics[0].Type != vuln.CVSSv4 || v4.Metrics[0].Primary || v4.Status != "Awaiting Analysis" {
		t.Errorf("v4-only CVE %+v", v4)
	}
	if r := cves[3]; !r.Rejected() || len(r.Metrics) != 0 || len(r.References) != 0 {
		t.Errorf("rejected CVE %+v", r)
	}
	if old := cves[4]; !strings.HasPrefix(old.Description, "Buffer overflow") || strings.Join(old.CWEs, " ") != "CWE-120" {
		t.Errorf("CVE-2016-99003: description %q CWEs %v", old.Description, old.CWEs)
	}
}

// TestFixtureKEVDates checks the fixture's CISA dates against CISA's own
// catalog in the shared data.
func TestFixtureKEVDates(t *testing.T) {
	kev := testenv.Shared(t, "vulndb/kev/known_exploited_vulnerabilities.json")
	_, cves := parseFixture(t)
	n := 0
	for _, c := range cves {
		if c.CISAExploitAdd.IsZero() {
			continue
		}
		n++
		out, err := exec.Command(testenv.Tool(t, "jq"), "-r", `.vulnerabilities[]|select(.cveID=="`+c.ID+`").dateAdded`, kev).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := c.CISAExploitAdd.Format(time.DateOnly); got != strings.TrimSpace(string(out)) {
			t.Errorf("%s: cisaExploitAdd %s, CISA's catalog says %q", c.ID, got, out)
		}
	}
	if n != 2 {
		t.Errorf("%d CVEs with a KEV date, want 2", n)
	}
}

func TestAdvisory(t *testing.T) {
	_, cves := parseFixture(t)
	a := cves[0].Advisory()
	if a.ID != "CVE-2021-44228" || a.Source != "nvd" || a.Withdrawn != nil || !a.Modified.Equal(cves[0].LastModified) ||
		a.Details != cves[0].Description || len(a.Severity) != 3 || a.Severity[0].Source != "nvd@nist.gov" {
		t.Errorf("advisory %+v", a)
	}
	var types []string
	for _, r := range a.References {
		types = append(types, r.Type)
	}
	// Release Notes+Vendor Advisory, Issue Tracking+Patch, Exploit+Third
	// Party Advisory, US Government Resource.
	if strings.Join(types, " ") != "ADVISORY FIX ADVISORY WEB" {
		t.Errorf("reference types %v", types)
	}
	if string(a.DatabaseSpecific) != `{"cwe_ids":["CWE-20","CWE-400","CWE-502","CWE-917"]}` {
		t.Errorf("database_specific %s", a.DatabaseSpecific)
	}
	// Severities puts the Primary vectors first.
	mixed := CVE{Metrics: []Metric{
		{Severity: vuln.Severity{Type: vuln.CVSSv3, Score: "a", Source: "cna"}},
		{Severity: vuln.Severity{Type: vuln.CVSSv3, Score: "b", Source: "nvd@nist.gov"}, Primary: true},
		{Severity: vuln.Severity{Type: vuln.CVSSv2, Score: "c", Source: "nvd@nist.gov"}, Primary: true},
		{Severity: vuln.Severity{Type: vuln.CVSSv2, Score: "d", Source: "cna"}},
	}}
	var order []string
	for _, s := range mixed.Severities() {
		order = append(order, s.Score)
	}
	if strings.Join(order, "") != "bcad" {
		t.Errorf("Severities order %v, want b c a d", order)
	}
	r := cves[3].Advisory()
	if r.Withdrawn == nil || !r.Withdrawn.Equal(cves[3].LastModified) || r.DatabaseSpecific != nil {
		t.Errorf("rejected advisory %+v", r)
	}
}

func TestReferenceType(t *testing.T) {
	for _, tc := range []struct {
		tags []string
		want string
	}{
		{nil, "WEB"},
		{[]string{"Patch", "Vendor Advisory"}, "FIX"},
		{[]string{"Third Party Advisory", "Exploit"}, "ADVISORY"},
		{[]string{"Exploit", "VDB Entry"}, "EVIDENCE"},
		{[]string{"Issue Tracking"}, "REPORT"},
		{[]string{"Mailing List"}, "DISCUSSION"},
		{[]string{"Broken Link"}, "WEB"},
	} {
		if got := referenceType(tc.tags); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.tags, got, tc.want)
		}
	}
}

// record builds one element of the vulnerabilities array.
func record(id, extra string) string {
	return fmt.Sprintf(`{"cve":{"id":%q,"published":"2024-01-02T03:04:05.678","lastModified":"2024-02-03T04:05:06.789","descriptions":[{"lang":"en","value":"d"}],"references":[]%s}}`, id, extra)
}

func page(records ...string) string {
	return `{"resultsPerPage":` + fmt.Sprint(len(records)) + `,"startIndex":0,"totalResults":` + fmt.Sprint(len(records)) +
		`,"format":"NVD_CVE","version":"2.0","timestamp":"2024-03-01T00:00:00.000","vulnerabilities":[` + strings.Join(records, ",") + `]}`
}

func TestParseMalformedRecords(t *testing.T) {
	in := page(
		record("CVE-2024-0001", ""),
		record("CVE-24-1", ""),
		`{"cve":{"id":"CVE-2024-0003","published":5}}`,
		`"not an object"`,
		`{"notcve":{}}`,
		strings.Replace(record("CVE-2024-0006", ""), "2024-01-02T03:04:05.678", "yesterday", 1),
		record("CVE-2024-0007", `,"cisaExploitAdd":"soon","metrics":{"cvssMetricV31":[`+
			`{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","vectorString":"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N","baseScore":7.5}},`+
			`{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","baseScore":7.5}},`+
			`{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N","baseScore":7.5,"baseSeverity":"HIGH"}}]}`),
		record("CVE-2024-0008", ""),
	)
	_, cves, errs, err := parseAll(t, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cves {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, " ") != "CVE-2024-0001 CVE-2024-0007 CVE-2024-0008" {
		t.Errorf("kept %v", ids)
	}
	if m := cves[1].Metrics; len(m) != 1 || m[0].Score != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" || !cves[1].CISAExploitAdd.IsZero() {
		t.Errorf("CVE-2024-0007 metrics %+v", m)
	}
	all := ""
	for _, e := range errs {
		if !strings.HasPrefix(e.Error(), "nvd: ") {
			t.Errorf("error %q lacks the package prefix", e)
		}
		all += e.Error() + "\n"
	}
	for _, want := range []string{
		`vulnerabilities[1]: id "CVE-24-1" is not a CVE id`,
		`vulnerabilities[2] (CVE-2024-0003): json: cannot unmarshal number`,
		`vulnerabilities[3]: json: cannot unmarshal string`,
		`vulnerabilities[4]: no "cve" object`,
		`vulnerabilities[5] (CVE-2024-0006): published: "yesterday" is not a time`,
		`CVE-2024-0007: cisaExploitAdd "soon"`,
		`CVE-2024-0007: CVSS_V3 vector "CVSS:3.0/AV:N`,
		`CVE-2024-0007: CVSS_V3 vector "" from nvd@nist.gov left out`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors do not say %q:\n%s", want, all)
		}
	}
	if len(errs) != 8 {
		t.Errorf("%d errors, want 8:\n%s", len(errs), all)
	}
}

func TestParseNotNVD(t *testing.T) {
	for name, in := range map[string]string{
		"empty":            ``,
		"not json":         `<html>`,
		"array":            `[]`,
		"no vulns":         `{"format":"NVD_CVE","version":"2.0"}`,
		"no format":        `{"vulnerabilities":[]}`,
		"cpe feed":         `{"format":"NVD_CPE","version":"2.0","products":[]}`,
		"api 1.0":          `{"format":"NVD_CVE","version":"1.0","vulnerabilities":[]}`,
		"vulns not array":  `{"format":"NVD_CVE","version":"2.0","vulnerabilities":{}}`,
		"trailing data":    page() + `{}`,
		"truncated":        page(record("CVE-2024-0001", ""))[:200],
		"format no string": `{"format":5,"version":"2.0","vulnerabilities":[]}`,
	} {
		if _, _, _, err := parseAll(t, strings.NewReader(in)); err == nil || !strings.HasPrefix(err.Error(), "nvd: ") {
			t.Errorf("%s: err %v", name, err)
		}
	}
	// A null array is an empty page, not an error; a bad count is
	// reported but the page is read.
	_, cves, errs, err := parseAll(t, strings.NewReader(`{"format":"NVD_CVE","version":"2.0","totalResults":"many","vulnerabilities":null}`))
	if err != nil || len(cves) != 0 || len(errs) != 1 {
		t.Errorf("null vulnerabilities: %v %v", errs, err)
	}
}

func TestParseTruncatedKeepsEarlierCVEs(t *testing.T) {
	in := page(record("CVE-2024-0001", ""), record("CVE-2024-0002", ""), record("CVE-2024-0003", ""))
	cut := strings.Index(in, "CVE-2024-0003")
	_, cves, _, err := parseAll(t, strings.NewReader(in[:cut]))
	if err == nil || len(cves) != 2 {
		t.Errorf("%d CVEs, err %v", len(cves), err)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, _, err := Parse(strings.NewReader(page(record("CVE-2024-0001", ""), record("CVE-2024-0002", ""))), func(CVE) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 || !strings.Contains(err.Error(), "CVE-2024-0001") {
		t.Errorf("n %d err %v", n, err)
	}
}

// hugeRecord streams a page whose one CVE description never ends.
type hugeRecord struct {
	head []byte
	left int
}

func (h *hugeRecord) Read(p []byte) (int, error) {
	if len(h.head) > 0 {
		n := copy(p, h.head)
		h.head = h.head[n:]
		return n, nil
	}
	if h.left <= 0 {
		return 0, io.EOF
	}
	n := min(len(p), h.left)
	for i := range n {
		p[i] = 'A'
	}
	h.left -= n
	return n, nil
}

func TestRecordSizeCap(t *testing.T) {
	r := &hugeRecord{
		head: []byte(`{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-2024-0001","descriptions":[{"lang":"en","value":"`),
		left: 4 * maxRecord,
	}
	_, _, _, err := parseAll(t, r)
	if !errors.Is(err, errTooLarge) {
		t.Errorf("err %v, want %v", err, errTooLarge)
	}
	if consumed := 4*maxRecord - r.left; consumed > maxRecord+1<<20 {
		t.Errorf("read %d bytes of one record before stopping", consumed)
	}
}

func TestErrorsAreBounded(t *testing.T) {
	var recs []string
	for range 300 {
		recs = append(recs, `{"cve":{"id":"bad"}}`)
	}
	_, _, errs, err := parseAll(t, strings.NewReader(page(recs...)))
	if err != nil || len(errs) != maxErrors+1 || !strings.Contains(errs[maxErrors].Error(), "200 more") {
		t.Errorf("%d errors, err %v", len(errs), err)
	}
}

// BenchmarkParsePage parses a full page of 2,000 copies of the Log4Shell
// record, the size NVD serves.
func BenchmarkParsePage(b *testing.B) {
	data, err := os.ReadFile(fixture)
	if err != nil {
		b.Fatal(err)
	}
	var doc struct {
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		b.Fatal(err)
	}
	recs := make([]string, 2000)
	for i := range recs {
		recs[i] = strings.Replace(string(doc.Vulnerabilities[0]), "CVE-2021-44228", fmt.Sprintf("CVE-2021-%d", 10000+i), 1)
	}
	in := []byte(page(recs...))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, _, err := Parse(bytes.NewReader(in), func(CVE) error { n++; return nil }); err != nil || n != 2000 {
			b.Fatal(n, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile(fixture)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(page(record("CVE-2024-0001", `,"metrics":{"cvssMetricV2":[{"source":"x","type":"Primary","cvssData":{"version":"2.0","vectorString":"AV:N/AC:L/Au:N/C:P/I:N/A:N","baseScore":5}}]}`))))
	f.Add([]byte(`{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":null},{},[]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, errs, _ := Parse(bytes.NewReader(data), func(c CVE) error {
			if !cveID.MatchString(c.ID) {
				t.Fatalf("bad id %q passed on", c.ID)
			}
			for _, m := range c.Metrics {
				if m.Score == "" || m.Type == "" {
					t.Fatalf("%s: empty metric %+v", c.ID, m)
				}
			}
			return nil
		})
		if len(errs) > maxErrors+1 {
			t.Fatalf("%d errors", len(errs))
		}
	})
}
