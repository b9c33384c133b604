package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	packageurl "github.com/package-url/packageurl-go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigilsec/vigil/internal/scan"
)

func compileOpenVEX(t testing.TB) *jsonschema.Schema {
	t.Helper()
	const id = "https://github.com/openvex/spec/openvex_json_schema_0.2.0.json"
	return compileSchema(t, map[string]string{id: filepath.Join("testdata", "schema", "openvex_json_schema.json")}, id)
}

func TestOpenVEXSchema(t *testing.T) {
	s := compileOpenVEX(t)
	out := render(t, WriteOpenVEX, testReport(t), testOptions())
	validate(t, s, out, "@context")
	// An affected statement without its action statement is refused.
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["statements"].([]any)[0].(map[string]any), "action_statement")
	if s.Validate(doc) == nil {
		t.Error("schema accepted an affected statement without action_statement")
	}
}

type vexOut struct {
	Context    string `json:"@context"`
	ID         string `json:"@id"`
	Author     string
	Timestamp  string
	Version    int
	Tooling    string
	Statements []struct {
		Vulnerability struct {
			ID      string `json:"@id"`
			Name    string
			Aliases []string
		}
		Products []struct {
			ID            string `json:"@id"`
			Identifiers   map[string]string
			Subcomponents []struct {
				ID          string `json:"@id"`
				Identifiers map[string]string
			}
		}
		Status          string
		StatusNotes     string `json:"status_notes"`
		Justification   string
		ImpactStatement string `json:"impact_statement"`
		ActionStatement string `json:"action_statement"`
	}
}

func TestOpenVEXFacts(t *testing.T) {
	r := testReport(t)
	out := render(t, WriteOpenVEX, r, testOptions())
	var d vexOut
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	if d.Context != "https://openvex.dev/ns/v0.2.0" || d.Version != 1 || d.Timestamp != "2026-08-20T10:00:00Z" ||
		d.Author != "vigil" || !uuidV5.MatchString(d.ID) {
		t.Errorf("document %s %s v%d %s %s", d.Context, d.ID, d.Version, d.Timestamp, d.Author)
	}
	if len(d.Statements) != 5 {
		t.Fatalf("%d statements, want one per vulnerability (5)", len(d.Statements))
	}
	byName := map[string]int{}
	for i, st := range d.Statements {
		byName[st.Vulnerability.Name] = i
		if len(st.Products) != 1 {
			t.Fatalf("%s: %d products", st.Vulnerability.Name, len(st.Products))
		}
		// The product is the image, by its OCI purl.
		p := st.Products[0]
		if p.ID != p.Identifiers["purl"] {
			t.Errorf("product @id %q, purl %q", p.ID, p.Identifiers["purl"])
		}
		u, err := packageurl.FromString(p.ID)
		if err != nil {
			t.Fatalf("product %q: %v", p.ID, err)
		}
		if u.Type != "oci" || u.Name != "app" || u.Version != testDigest || u.Qualifiers.Map()["repository_url"] != "registry.local:5000/team/app" {
			t.Errorf("product purl %q: %+v", p.ID, u)
		}
		// The purl specification writes the digest's colon as %3A.
		if !strings.HasPrefix(p.ID, "pkg:oci/app@sha256%3A") {
			t.Errorf("product %q", p.ID)
		}
		if len(p.Subcomponents) != 1 {
			t.Errorf("%s: subcomponents %+v", st.Vulnerability.Name, p.Subcomponents)
		}
	}

	ssl := d.Statements[byName["CVE-2023-0286"]]
	if ssl.Status != "affected" || ssl.ActionStatement != "Upgrade libssl1.1 to a version built from openssl 1.1.1n-0+deb11u4 or later." {
		t.Errorf("CVE-2023-0286: %s %q", ssl.Status, ssl.ActionStatement)
	}
	if sub := ssl.Products[0].Subcomponents[0]; sub.ID != finding(t, r, "CVE-2023-0286").Pkg.PURL {
		t.Errorf("subcomponent %q", sub.ID)
	}
	if ssl.Vulnerability.ID != "https://nvd.nist.gov/vuln/detail/CVE-2023-0286" {
		t.Errorf("vulnerability @id %q", ssl.Vulnerability.ID)
	}
	if jwt := d.Statements[byName["CVE-2020-26160"]]; jwt.Status != "affected" ||
		strings.Join(jwt.Vulnerability.Aliases, " ") != "GHSA-w73w-5m7g-f7qc GO-2020-0017" {
		t.Errorf("CVE-2020-26160: %s %v", jwt.Status, jwt.Vulnerability.Aliases)
	}
	xnet := d.Statements[byName["CVE-2023-45288"]]
	if xnet.Status != "not_affected" || xnet.Justification != "vulnerable_code_not_in_execute_path" || xnet.ActionStatement != "" {
		t.Errorf("CVE-2023-45288: %+v", xnet)
	}
}

// scan's VEX reader, the one `vigil scan --vex` uses, reads the document
// back: not_affected silences the ignored finding, for this image only;
// affected statements silence nothing.
func TestOpenVEXReadBack(t *testing.T) {
	r := testReport(t)
	out := render(t, WriteOpenVEX, r, testOptions())
	vex, err := scan.ParseVEX("vigil.openvex.json", out)
	if err != nil {
		t.Fatal(err)
	}
	if got := vex.Verdict(finding(t, r, "CVE-2023-45288"), r.Subject); got != "VEX not affected: vulnerable code not in execute path" {
		t.Errorf("ignored finding: verdict %q", got)
	}
	for _, f := range r.Findings {
		if got := vex.Verdict(f, r.Subject); got != "" {
			t.Errorf("%s: verdict %q, want none", f.ID, got)
		}
	}
	other := r.Subject
	other.Digest = digestOf("another image")
	if got := vex.Verdict(finding(t, r, "CVE-2023-45288"), other); got != "" {
		t.Errorf("another image: verdict %q, want none", got)
	}
}

func TestOpenVEXStatuses(t *testing.T) {
	r := testReport(t)
	x := finding(t, r, "CVE-2023-45288")
	jwt := finding(t, r, "CVE-2020-26160")
	std := finding(t, r, "CVE-2024-34156")
	// Ignore two more findings with other reasons, and make the one
	// finding left uncertain.
	ssl := finding(t, testReport(t), "CVE-2023-0286")
	ssl.Uncertain = "version 1.1.1n-0+deb11u3 could not be compared with DSA-5343-1's ranges: bad"
	r.Findings = []*scan.Finding{ssl}
	jwt.IgnoredBecause = "ignore file: only used at build time"
	std.IgnoredBecause = "VEX fixed"
	x.IgnoredBecause = "ignore file: not affected, we never parse untrusted gob"
	r.Ignored = []*scan.Finding{x, jwt, std}
	r.Packages = append(r.Packages, *ssl.Pkg)

	out := render(t, WriteOpenVEX, r, testOptions())
	validate(t, compileOpenVEX(t), out, "statements")
	var d vexOut
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range d.Statements {
		got[st.Vulnerability.Name] = strings.Join([]string{st.Status, st.Justification, st.ImpactStatement, st.StatusNotes}, "|")
	}
	for id, want := range map[string]string{
		"CVE-2023-0286":  "under_investigation|||version 1.1.1n-0+deb11u3 could not be compared with DSA-5343-1's ranges: bad",
		"CVE-2020-26160": "affected|||ignored in this report: ignore file: only used at build time",
		"CVE-2024-34156": "fixed|||VEX fixed",
		"CVE-2023-45288": "not_affected||ignore file: not affected, we never parse untrusted gob|",
	} {
		if got[id] != want {
			t.Errorf("%s: %q, want %q", id, got[id], want)
		}
	}
}

func TestVerdictOf(t *testing.T) {
	for reason, want := range map[string]verdict{
		"VEX not affected: vulnerable code not present": {"not_affected", "vulnerable_code_not_present"},
		"VEX not affected: component not present":       {"not_affected", "component_not_present"},
		"VEX not affected: the parser is never reached": {"not_affected", ""},
		"VEX fixed": {"fixed", ""},
		"ignore file: vulnerable_code_not_in_execute_path per SEC-1": {"not_affected", "vulnerable_code_not_in_execute_path"},
		"ignore file: Inline mitigations already exist (WAF)":        {"not_affected", "inline_mitigations_already_exist"},
		"ignore file: fixed in our fork":                             {},
		"ignore file: only used at build time":                       {},
		"":                                                           {},
	} {
		if got := verdictOf(reason); got != want {
			t.Errorf("%q: %+v, want %+v", reason, got, want)
		}
	}
}

func TestOpenVEXReproducible(t *testing.T) {
	a := render(t, WriteOpenVEX, testReport(t), testOptions())
	b := render(t, WriteOpenVEX, testReport(t), testOptions())
	if !bytes.Equal(a, b) {
		t.Error("same report and time, different documents")
	}
	o := testOptions()
	o.Now = o.Now.Add(time.Hour)
	var d1, d2 vexOut
	json.Unmarshal(a, &d1)
	json.Unmarshal(render(t, WriteOpenVEX, testReport(t), o), &d2)
	if d1.ID == d2.ID {
		t.Error("another time, same @id")
	}
}

func TestOpenVEXEmpty(t *testing.T) {
	out := render(t, WriteOpenVEX, &scan.Report{Subject: scan.Subject{Name: "dir:/srv/rootfs"}, Time: testTime}, testOptions())
	var d map[string]any
	decodeJSON(t, out, &d)
	if st, ok := d["statements"].([]any); !ok || len(st) != 0 {
		t.Errorf("statements %#v, want []", d["statements"])
	}
}

func TestOCIPURL(t *testing.T) {
	for _, tc := range []struct {
		s    scan.Subject
		want string
	}{
		{scan.Subject{Name: "debian:12", Digest: "sha256:abc"}, "pkg:oci/debian@sha256%3Aabc?repository_url=docker.io/library/debian"},
		{scan.Subject{Name: "oci:./images/app:latest"}, "pkg:oci/app?repository_url=app"},
		{scan.Subject{Name: "registry.local:5000/a/b/c@sha256:def", Digest: "sha256:def"}, "pkg:oci/c@sha256%3Adef?repository_url=registry.local:5000/a/b/c"},
	} {
		if got := ociPURL(tc.s); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.s, got, tc.want)
		}
	}
}
