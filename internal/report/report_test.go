package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testenv"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/vuln"
	"github.com/vigilsec/vigil/internal/vulndb"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The report the tests render is made the way `vigil scan` makes one:
// hand-built match findings over real advisories, scored by scan.Score
// with EPSS, KEV and NVD data served by a fake database, then filtered by
// scan.Filter with a VEX document. The advisory ids, versions, dates and
// texts, and the EPSS and KEV values, are those of the real records
// (TestFixtureIsRealData checks them against the shared test data when it
// is present); the NVD vectors are those NVD publishes for the CVEs.
//
// The image: registry.local:5000/team/app:1.4 on Debian 11, three layers.
//
//	libssl1.1  1.1.1n-0+deb11u3  CVE-2023-0286 (DSA-5343-1), fixed in 1.1.1n-0+deb11u4
//	stdlib     v1.22.5           GO-2024-3106 / CVE-2024-34156, fixed in 1.22.7; no
//	                             severity in the Go record and no NVD record: UNTRIAGED
//	jwt-go     v3.2.0            GO-2020-0017 / CVE-2020-26160: the module is archived,
//	                             no fix (every stdlib record of the Go database has a
//	                             fix, so the "no fix" path uses this real one)
//	x/net      v0.17.0           GO-2024-2687 / CVE-2023-45288, ignored by a VEX
//	                             statement (vulnerable code not in execute path)
//	systeminformation 5.3.0 (npm) CVE-2021-21315, in CISA KEV, EPSS 0.90675
//	zlib1g     1:1.2.13.dfsg-1   no finding (an epoch in a Debian version)

var (
	testTime  = time.Date(2026, 8, 20, 10, 0, 0, 0, time.UTC)
	testBuilt = time.Date(2026, 8, 16, 6, 0, 0, 0, time.UTC)
)

func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

var (
	testDigest = digestOf("manifest of registry.local:5000/team/app:1.4")
	testLayers = []inventory.LayerRef{
		{Index: 0, DiffID: digestOf("diff 0"), Digest: digestOf("blob 0")},
		{Index: 1, DiffID: digestOf("diff 1"), Digest: digestOf("blob 1")},
		{Index: 2, DiffID: digestOf("diff 2"), Digest: digestOf("blob 2")},
	}
	testDistro = &inventory.Distro{ID: "debian", VersionID: "11", Codename: "bullseye",
		Name: "Debian GNU/Linux", PrettyName: "Debian GNU/Linux 11 (bullseye)", Source: "etc/os-release"}
)

// Fake database contents, from vulndb/epss/epss_scores-2026-08-16.csv.gz,
// vulndb/kev/known_exploited_vulnerabilities.json and NVD.
var (
	testEPSS = map[string]vulndb.EPSS{
		"CVE-2023-0286":  {Score: 0.59501, Percentile: 0.99045},
		"CVE-2021-21315": {Score: 0.90675, Percentile: 0.99796},
		"CVE-2024-34156": {Score: 0.01127, Percentile: 0.63581},
		"CVE-2020-26160": {Score: 0.02158, Percentile: 0.80626},
		"CVE-2023-45288": {Score: 0.91969, Percentile: 0.99811},
	}
	testKEV = map[string]vulndb.KEV{
		"CVE-2021-21315": {
			CVE: "CVE-2021-21315", VendorProject: "Npm package", Product: "System Information Library for Node.JS",
			Name:      "System Information Library for Node.JS Command Injection",
			DateAdded: time.Date(2022, 1, 18, 0, 0, 0, 0, time.UTC), DueDate: time.Date(2022, 2, 1, 0, 0, 0, 0, time.UTC),
			RequiredAction: "Apply updates per vendor instructions.",
		},
	}
	testNVD = map[string]vulndb.NVD{
		"CVE-2023-0286":  {CVE: "CVE-2023-0286", Severity: []vuln.Severity{{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H", Source: "nvd@nist.gov"}}},
		"CVE-2020-26160": {CVE: "CVE-2020-26160", Severity: []vuln.Severity{{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Source: "nvd@nist.gov"}}},
		"CVE-2023-45288": {CVE: "CVE-2023-45288", Severity: []vuln.Severity{{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Source: "nvd@nist.gov"}}},
	}
)

type fakeDB struct{}

func (fakeDB) EPSS(_ context.Context, cve string) (*vulndb.EPSS, error) {
	if e, ok := testEPSS[cve]; ok {
		return &e, nil
	}
	return nil, nil
}

func (fakeDB) KEV(_ context.Context, cve string) (*vulndb.KEV, error) {
	if k, ok := testKEV[cve]; ok {
		return &k, nil
	}
	return nil, nil
}

func (fakeDB) NVD(_ context.Context, cve string) (*vulndb.NVD, error) {
	if n, ok := testNVD[cve]; ok {
		return &n, nil
	}
	return nil, nil
}

func testPackages() []inventory.Package {
	pkgs := []inventory.Package{
		{Name: "libssl1.1", Version: "1.1.1n-0+deb11u3", Type: inventory.Deb, Arch: "amd64",
			Source: &inventory.Source{Name: "openssl", Version: "1.1.1n-0+deb11u3"},
			Path:   "/var/lib/dpkg/status", Layer: testLayers[0], Cataloger: "dpkg", Evidence: inventory.Installed},
		{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: inventory.Deb, Arch: "amd64",
			Source: &inventory.Source{Name: "zlib", Version: "1:1.2.13.dfsg-1"},
			Path:   "/var/lib/dpkg/status", Layer: testLayers[0], Cataloger: "dpkg", Evidence: inventory.Installed},
		{Name: "systeminformation", Version: "5.3.0", Type: inventory.NPM,
			Path: "/app/node_modules/systeminformation/package.json", Layer: testLayers[1],
			Cataloger: "npm", Evidence: inventory.Installed, Licenses: []string{"MIT"}},
		{Name: "stdlib", Version: "v1.22.5", Type: inventory.Go, Path: "/usr/local/bin/app", Layer: testLayers[2],
			Cataloger: "gobin", Evidence: inventory.Installed, Metadata: map[string]string{"go.toolchain": "go1.22.5"}},
		{Name: "github.com/dgrijalva/jwt-go", Version: "v3.2.0+incompatible", Type: inventory.Go, Path: "/usr/local/bin/app",
			Layer: testLayers[2], Cataloger: "gobin", Evidence: inventory.Installed},
		{Name: "golang.org/x/net", Version: "v0.17.0", Type: inventory.Go, Path: "/usr/local/bin/app",
			Layer: testLayers[2], Cataloger: "gobin", Evidence: inventory.Installed},
	}
	for i := range pkgs {
		pkgs[i].PURL = inventory.PURL(&pkgs[i], testDistro)
	}
	return pkgs
}

func semverRange(fixed string) []vuln.Range {
	ev := []vuln.Event{{Introduced: "0"}}
	if fixed != "" {
		ev = append(ev, vuln.Event{Fixed: fixed})
	}
	return []vuln.Range{{Type: vuln.RangeSemver, Events: ev}}
}

// testMatches are the matcher's findings for testPackages.
func testMatches(pkgs []inventory.Package) []*match.Finding {
	deb := vuln.Affected{Package: vuln.Package{Ecosystem: "Debian:11", Name: "openssl"},
		Ranges: []vuln.Range{{Type: vuln.RangeEcosystem, Events: []vuln.Event{{Introduced: "0"}, {Fixed: "1.1.1n-0+deb11u4"}}}}}
	tracker := &vuln.Advisory{ID: "DEBIAN-CVE-2023-0286", Source: "debian-tracker", Upstream: []string{"CVE-2023-0286"},
		Details: "There is a type confusion vulnerability relating to X.400 address processing inside an X.509 GeneralName. " +
			"X.400 addresses were parsed as an ASN1_STRING but the public structure definition for GENERAL_NAME incorrectly " +
			"specified the type of the x400Address field as ASN1_TYPE.",
		References: []vuln.Reference{{Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/CVE-2023-0286"}},
		Affected:   []vuln.Affected{deb}}
	dsa := &vuln.Advisory{ID: "DSA-5343-1", Source: "debian-dsa", Summary: "openssl - security update",
		Published: time.Date(2023, 2, 7, 0, 0, 0, 0, time.UTC),
		Related:   []string{"CVE-2022-2097", "CVE-2022-4304", "CVE-2022-4450", "CVE-2023-0215", "CVE-2023-0286"},
		Affected:  []vuln.Affected{deb}}
	gob := &vuln.Advisory{ID: "GO-2024-3106", Source: "osv/Go", Aliases: []string{"CVE-2024-34156"}, Related: []string{"CVE-2022-30635"},
		Summary: "Stack exhaustion in Decoder.Decode in encoding/gob",
		Details: "Calling Decoder.Decode on a message which contains deeply nested structures can cause a panic due to stack exhaustion. This is a follow-up to CVE-2022-30635.",
		Affected: []vuln.Affected{{Package: vuln.Package{Ecosystem: "Go", Name: "stdlib"},
			Ranges: []vuln.Range{{Type: vuln.RangeSemver, Events: []vuln.Event{{Introduced: "0"}, {Fixed: "1.22.7"}, {Introduced: "1.23.0-0"}, {Fixed: "1.23.1"}}}}}},
		References: []vuln.Reference{{Type: "FIX", URL: "https://go.dev/cl/611239"}, {Type: "REPORT", URL: "https://go.dev/issue/69139"}}}
	jwt := &vuln.Advisory{ID: "GO-2020-0017", Source: "osv/Go", Aliases: []string{"CVE-2020-26160", "GHSA-w73w-5m7g-f7qc"},
		Published: time.Date(2021, 4, 14, 20, 4, 52, 0, time.UTC),
		Summary:   "Authorization bypass in github.com/dgrijalva/jwt-go",
		Details:   "If a JWT contains an audience claim with an array of strings, rather than a single string, and MapClaims.VerifyAudience is called with req set to false, then audience verification will be bypassed, allowing an invalid set of audiences to be provided.",
		Affected: []vuln.Affected{{Package: vuln.Package{Ecosystem: "Go", Name: "github.com/dgrijalva/jwt-go"},
			Ranges: []vuln.Range{{Type: vuln.RangeSemver, Events: []vuln.Event{{Introduced: "0.0.0-20150717181359-44718f8a89b0"}}}}}}}
	xnet := &vuln.Advisory{ID: "GO-2024-2687", Source: "osv/Go", Aliases: []string{"CVE-2023-45288", "GHSA-4v7x-pqxf-cx7m"},
		Summary:  "HTTP/2 CONTINUATION flood in net/http",
		Details:  "An attacker may cause an HTTP/2 endpoint to read arbitrary amounts of header data by sending an excessive number of CONTINUATION frames.",
		Affected: []vuln.Affected{{Package: vuln.Package{Ecosystem: "Go", Name: "golang.org/x/net"}, Ranges: semverRange("0.23.0")}}}
	si := &vuln.Advisory{ID: "GHSA-2m8v-572m-ff2v", Source: "osv/npm", Aliases: []string{"CVE-2021-21315"},
		Published: time.Date(2021, 2, 16, 16, 26, 11, 0, time.UTC),
		Modified:  time.Date(2023, 9, 11, 16, 14, 59, 0, time.UTC),
		Summary:   "Command Injection in systeminformation",
		Severity:  []vuln.Severity{{Type: vuln.CVSSv3, Score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}},
		Affected: []vuln.Affected{{Package: vuln.Package{Ecosystem: "npm", Name: "systeminformation"},
			Ranges: []vuln.Range{{Type: vuln.RangeEcosystem, Events: []vuln.Event{{Introduced: "0"}, {Fixed: "5.3.1"}}}}}},
		References: []vuln.Reference{
			{Type: "WEB", URL: "https://github.com/sebhildebrandt/systeminformation/security/advisories/GHSA-2m8v-572m-ff2v"},
			{Type: "ADVISORY", URL: "https://nvd.nist.gov/vuln/detail/CVE-2021-21315"}}}

	byName := map[string]*inventory.Package{}
	for i := range pkgs {
		byName[pkgs[i].Name] = &pkgs[i]
	}
	return []*match.Finding{
		{ID: "CVE-2023-0286", Related: []string{"DSA-5343-1"}, Advisories: []*vuln.Advisory{tracker, dsa},
			Package: byName["libssl1.1"], Ecosystem: "Debian:11", Version: "1.1.1n-0+deb11u3",
			Fix: match.Fixed, FixedVersion: "1.1.1n-0+deb11u4"},
		{ID: "CVE-2024-34156", Aliases: []string{"GO-2024-3106"}, Related: []string{"CVE-2022-30635"}, Advisories: []*vuln.Advisory{gob},
			Package: byName["stdlib"], Ecosystem: "Go", Version: "1.22.5", Fix: match.Fixed, FixedVersion: "1.22.7"},
		{ID: "CVE-2020-26160", Aliases: []string{"GHSA-w73w-5m7g-f7qc", "GO-2020-0017"}, Advisories: []*vuln.Advisory{jwt},
			Package: byName["github.com/dgrijalva/jwt-go"], Ecosystem: "Go", Version: "3.2.0+incompatible", Fix: match.NotFixed},
		{ID: "CVE-2023-45288", Aliases: []string{"GHSA-4v7x-pqxf-cx7m", "GO-2024-2687"}, Advisories: []*vuln.Advisory{xnet},
			Package: byName["golang.org/x/net"], Ecosystem: "Go", Version: "0.17.0", Fix: match.Fixed, FixedVersion: "0.23.0"},
		{ID: "CVE-2021-21315", Aliases: []string{"GHSA-2m8v-572m-ff2v"}, Advisories: []*vuln.Advisory{si},
			Package: byName["systeminformation"], Ecosystem: "npm", Version: "5.3.0", Fix: match.Fixed, FixedVersion: "5.3.1"},
	}
}

// testVEX silences CVE-2023-45288 in golang.org/x/net.
const testVEX = `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/app-1",
  "author": "Team App",
  "timestamp": "2026-08-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2023-45288"},
    "products": [{"@id": "pkg:golang/golang.org/x/net@v0.17.0"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}`

// testReport builds the report.
func testReport(t testing.TB) *scan.Report {
	t.Helper()
	pkgs := testPackages()
	scored, err := scan.Score(context.Background(), fakeDB{}, testMatches(pkgs))
	if err != nil {
		t.Fatal(err)
	}
	r := &scan.Report{
		Subject: scan.Subject{
			Name: "registry.local:5000/team/app:1.4", Digest: testDigest, Platform: "linux/amd64",
			RepoDigests: []string{"registry.local:5000/team/app@" + testDigest},
			Layers:      testLayers, Created: time.Date(2026, 8, 19, 17, 30, 0, 0, time.UTC),
		},
		Distro:   testDistro,
		Packages: pkgs,
		Findings: scored,
		Skipped:  []match.Skip{{PURL: "pkg:generic/busybox@1.36.1", Reason: "no vulnerability data for generic packages"}},
		Warnings: []analyze.Warning{{Layer: 2, DiffID: testLayers[2].DiffID, Path: "usr/local/bin/tool", Message: "not a Go binary: truncated build info"}},
		Database: &scan.Database{Path: "/var/cache/vigil/db/vigil.db", Built: testBuilt},
		Time:     testTime,
	}
	vex, err := scan.ParseVEX("app.openvex.json", []byte(testVEX))
	if err != nil {
		t.Fatal(err)
	}
	scan.Filter{VEX: vex, Now: testTime}.Apply(r)
	if len(r.Findings) != 4 || len(r.Ignored) != 1 {
		t.Fatalf("fixture: %d findings, %d ignored; want 4 and 1", len(r.Findings), len(r.Ignored))
	}
	return r
}

func testOptions() Options {
	return Options{Tool: "vigil", Version: "1.4.0", Now: testTime}
}

// render runs a writer and fails the test on error.
func render(t testing.TB, write func(io.Writer, *scan.Report, Options) error, r *scan.Report, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf, r, o); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// golden compares out with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, out []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking the change):\n%s", name, firstDiff(string(want), string(out)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + w + "\n got: " + g
		}
	}
	return ""
}

// decodeJSON decodes out keeping numbers as json.Number, so that tests
// can tell numbers from strings.
func decodeJSON(t testing.TB, out []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
}

// compileSchema compiles a JSON schema from files, mapping their URLs to
// local copies.
func compileSchema(t testing.TB, files map[string]string, root string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile(root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validate checks out against a schema, and that the schema can fail: the
// same document without its required key is refused.
func validate(t testing.TB, s *jsonschema.Schema, out []byte, requiredKey string) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("schema: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("document is not an object")
	}
	delete(m, requiredKey)
	if s.Validate(m) == nil {
		t.Errorf("schema accepted a document without %q", requiredKey)
	}
}

// moduleDir returns the directory of a module in the module cache.
func moduleDir(t testing.TB, mod string) string {
	t.Helper()
	gobin := testenv.Tool(t, "go")
	out, err := exec.Command(gobin, "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", mod, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("module %s is not in the module cache", mod)
	}
	return dir
}

// finding returns the report's finding (active or ignored) with an id.
func finding(t testing.TB, r *scan.Report, id string) *scan.Finding {
	t.Helper()
	for _, f := range append(append([]*scan.Finding{}, r.Findings...), r.Ignored...) {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no finding %s", id)
	return nil
}
