package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/scan"
)

func compileCycloneDX(t testing.TB) *jsonschema.Schema {
	t.Helper()
	dir := filepath.Join(moduleDir(t, "github.com/CycloneDX/cyclonedx-go"), "schema")
	return compileSchema(t, map[string]string{
		"http://cyclonedx.org/schema/bom-1.6.schema.json":  filepath.Join(dir, "bom-1.6.schema.json"),
		"http://cyclonedx.org/schema/spdx.schema.json":     filepath.Join(dir, "spdx.schema.json"),
		"http://cyclonedx.org/schema/jsf-0.82.schema.json": filepath.Join(dir, "jsf-0.82.schemax.json"),
	}, "http://cyclonedx.org/schema/bom-1.6.schema.json")
}

func TestCycloneDXSchema(t *testing.T) {
	s := compileCycloneDX(t)
	validate(t, s, render(t, WriteCycloneDX, testReport(t), testOptions()), "specVersion")
	validate(t, s, render(t, WriteCycloneDX, &scan.Report{Time: testTime}, testOptions()), "bomFormat")
	// A severity CycloneDX does not have is refused.
	bad := bytes.Replace(render(t, WriteCycloneDX, testReport(t), testOptions()), []byte(`"severity": "high"`), []byte(`"severity": "HIGH"`), 1)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	if s.Validate(v) == nil {
		t.Error(`schema accepted severity "HIGH"`)
	}
}

type cdxDoc struct {
	SpecVersion  string `json:"specVersion"`
	SerialNumber string `json:"serialNumber"`
	Metadata     struct {
		Component struct {
			BOMRef, Type, Name, Version string
		}
	}
	Components []struct {
		BOMRef string `json:"bom-ref"`
		Type   string
		Name   string
		PURL   string
	}
	Vulnerabilities []struct {
		BOMRef  string `json:"bom-ref"`
		ID      string
		Source  struct{ Name, URL string }
		Ratings []struct {
			Source        struct{ Name string }
			Score         *float64
			Severity      string
			Method        string
			Vector        string
			Justification string
		}
		References []struct {
			ID     string
			Source struct{ Name, URL string }
		}
		Description    string
		Recommendation string
		Advisories     []struct{ Title, URL string }
		Published      string
		Updated        string
		Analysis       *struct{ State, Justification, Detail string }
		Affects        []struct {
			Ref      string
			Versions []struct{ Version, Range, Status string }
		}
		Properties []struct{ Name, Value string }
	}
}

func cdxOut(t *testing.T, r *scan.Report, o Options) (cdxDoc, []byte) {
	t.Helper()
	out := render(t, WriteCycloneDX, r, o)
	var d cdxDoc
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return d, out
}

func TestCycloneDXFacts(t *testing.T) {
	r := testReport(t)
	d, _ := cdxOut(t, r, testOptions())
	if d.SpecVersion != "1.6" || d.Metadata.Component.Type != "container" || d.Metadata.Component.Version != testDigest {
		t.Errorf("spec %s, image %+v", d.SpecVersion, d.Metadata.Component)
	}
	refs := map[string]string{} // bom-ref → purl
	for _, c := range d.Components {
		refs[c.BOMRef] = c.PURL
	}
	// Every package is a component, and the distribution one more.
	if len(d.Components) != len(r.Packages)+1 {
		t.Errorf("%d components for %d packages and a distribution", len(d.Components), len(r.Packages))
	}
	byID := map[string]int{}
	for i, v := range d.Vulnerabilities {
		byID[v.ID] = i
		if len(v.Affects) == 0 {
			t.Errorf("%s affects nothing", v.ID)
		}
		for _, a := range v.Affects {
			if _, ok := refs[a.Ref]; !ok {
				t.Errorf("%s affects %q, which is no component", v.ID, a.Ref)
			}
		}
		if v.Ratings[0].Source.Name != "vigil" || v.Ratings[0].Method != "other" {
			t.Errorf("%s: first rating %+v, want Vigil's", v.ID, v.Ratings[0])
		}
	}
	if len(d.Vulnerabilities) != 5 {
		t.Fatalf("%d vulnerabilities, want 5", len(d.Vulnerabilities))
	}

	ssl := d.Vulnerabilities[byID["CVE-2023-0286"]]
	if got := refs[ssl.Affects[0].Ref]; got != finding(t, r, "CVE-2023-0286").Pkg.PURL {
		t.Errorf("CVE-2023-0286 affects %s", got)
	}
	if v := ssl.Affects[0].Versions; len(v) != 2 || v[0] != (struct{ Version, Range, Status string }{"1.1.1n-0+deb11u3", "", "affected"}) ||
		v[1] != (struct{ Version, Range, Status string }{"1.1.1n-0+deb11u4", "", "unaffected"}) {
		t.Errorf("versions %+v", v)
	}
	if rt := ssl.Ratings[0]; rt.Score == nil || *rt.Score != 8.4 || rt.Severity != "high" {
		t.Errorf("vigil rating %+v", rt)
	}
	if rt := ssl.Ratings[1]; rt.Method != "CVSSv31" || rt.Vector != "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H" ||
		*rt.Score != 7.4 || rt.Severity != "high" || rt.Source.Name != "NVD" {
		t.Errorf("NVD rating %+v", rt)
	}
	if ssl.Source.Name != "debian-tracker" || ssl.Published != "2023-02-07T00:00:00Z" || ssl.Analysis != nil {
		t.Errorf("source %+v published %s analysis %+v", ssl.Source, ssl.Published, ssl.Analysis)
	}
	if len(ssl.Advisories) != 2 || ssl.Advisories[1] != (struct{ Title, URL string }{"DSA-5343-1", "https://security-tracker.debian.org/tracker/DSA-5343-1"}) {
		t.Errorf("advisories %+v", ssl.Advisories)
	}

	si := d.Vulnerabilities[byID["CVE-2021-21315"]]
	props := map[string]string{}
	for _, p := range si.Properties {
		props[p.Name] = p.Value
	}
	if props["vigil:kev:dateAdded"] != "2022-01-18" || props["vigil:epss:score"] != "0.90675" {
		t.Errorf("properties %v", props)
	}
	if len(si.References) != 1 || si.References[0].ID != "GHSA-2m8v-572m-ff2v" || si.References[0].Source.URL != "https://github.com/advisories/GHSA-2m8v-572m-ff2v" {
		t.Errorf("references %+v", si.References)
	}

	if std := d.Vulnerabilities[byID["CVE-2024-34156"]]; std.Ratings[0].Score != nil || std.Ratings[0].Severity != "unknown" {
		t.Errorf("UNTRIAGED rating %+v", std.Ratings[0])
	}
	jwt := d.Vulnerabilities[byID["CVE-2020-26160"]]
	if len(jwt.Affects[0].Versions) != 1 || jwt.Recommendation != "No fixed version of github.com/dgrijalva/jwt-go is available yet." {
		t.Errorf("no-fix versions %+v, recommendation %q", jwt.Affects[0].Versions, jwt.Recommendation)
	}

	xnet := d.Vulnerabilities[byID["CVE-2023-45288"]]
	if a := xnet.Analysis; a == nil || a.State != "not_affected" || a.Justification != "code_not_reachable" ||
		a.Detail != "VEX not affected: vulnerable code not in execute path" {
		t.Errorf("analysis %+v", a)
	}
}

var uuidV5 = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCycloneDXReproducible(t *testing.T) {
	d1, out1 := cdxOut(t, testReport(t), testOptions())
	_, out2 := cdxOut(t, testReport(t), testOptions())
	if !bytes.Equal(out1, out2) {
		t.Error("same report and time, different bytes")
	}
	if !uuidV5.MatchString(d1.SerialNumber) {
		t.Errorf("serial number %q", d1.SerialNumber)
	}
	o := testOptions()
	o.Now = o.Now.Add(time.Second)
	if d3, _ := cdxOut(t, testReport(t), o); d3.SerialNumber == d1.SerialNumber {
		t.Error("another time, same serial number")
	}
}

// A finding whose package is not in the inventory still affects a
// component: one is added for it.
func TestCycloneDXPackageNotInInventory(t *testing.T) {
	r := testReport(t)
	f := finding(t, r, "CVE-2020-26160")
	stray := *f.Pkg
	stray.Path = "/usr/local/bin/other"
	stray.PURL = inventory.PURL(&stray, nil)
	f.Pkg = &stray
	d, out := cdxOut(t, r, testOptions())
	validate(t, compileCycloneDX(t), out, "specVersion")
	ref := ""
	for _, v := range d.Vulnerabilities {
		if v.ID == "CVE-2020-26160" {
			ref = v.Affects[0].Ref
		}
	}
	found := false
	for _, c := range d.Components {
		found = found || (c.BOMRef == ref && c.PURL == stray.PURL)
	}
	if !found {
		t.Errorf("no component %q", ref)
	}
}

// A finding whose package is a copy of an inventory package (a report
// read back from JSON) affects that package's component.
func TestCycloneDXPackageCopy(t *testing.T) {
	r := testReport(t)
	f := finding(t, r, "CVE-2023-0286")
	cp := *f.Pkg
	f.Pkg = &cp
	d, _ := cdxOut(t, r, testOptions())
	if len(d.Components) != len(r.Packages)+1 {
		t.Errorf("%d components, want no new one", len(d.Components))
	}
	for _, v := range d.Vulnerabilities {
		if v.ID == "CVE-2023-0286" && !strings.HasPrefix(v.Affects[0].Ref, "pkg:deb/debian/libssl1.1@") {
			t.Errorf("affects %s", v.Affects[0].Ref)
		}
	}
}
