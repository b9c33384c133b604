package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/scan"
)

// inspectorOut renders the report and decodes it generically.
func inspectorOut(t *testing.T, r *scan.Report, o Options) []map[string]any {
	t.Helper()
	var fs []map[string]any
	decodeJSON(t, render(t, WriteInspector, r, o), &fs)
	return fs
}

// get walks a decoded JSON value by keys and array indexes.
func get(t *testing.T, v any, path string) any {
	t.Helper()
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				t.Fatalf("%s: no element %q", path, k)
			}
			v = x[i]
		default:
			t.Fatalf("%s: cannot index %T with %q", path, v, k)
		}
	}
	return v
}

func byTitle(t *testing.T, fs []map[string]any, id string) map[string]any {
	t.Helper()
	for _, f := range fs {
		if get(t, f, "packageVulnerabilityDetails.vulnerabilityId") == id {
			return f
		}
	}
	t.Fatalf("no Inspector finding for %s", id)
	return nil
}

// band is the severity band of a score, from aws-formats.md: 0
// INFORMATIONAL, 0.1–3.9 LOW, 4.0–6.9 MEDIUM, 7.0–8.9 HIGH, 9.0–10.0
// CRITICAL.
func band(s float64) string {
	switch {
	case s == 0:
		return "INFORMATIONAL"
	case s < 4:
		return "LOW"
	case s < 7:
		return "MEDIUM"
	case s < 9:
		return "HIGH"
	}
	return "CRITICAL"
}

var arnRE = regexp.MustCompile(`^arn:aws:inspector2:local:000000000000:finding/[a-f0-9]{32}$`)

func TestInspectorFinding(t *testing.T) {
	r := testReport(t)
	fs := inspectorOut(t, r, testOptions())
	if len(fs) != 5 {
		t.Fatalf("%d findings, want 4 active and 1 suppressed", len(fs))
	}
	arns := map[string]bool{}
	for _, f := range fs {
		// The fields Inspector's Finding requires.
		for _, k := range []string{"awsAccountId", "description", "findingArn", "firstObservedAt", "lastObservedAt", "remediation", "resources", "severity", "status", "type"} {
			if _, ok := f[k]; !ok {
				t.Errorf("%s: no %s", f["title"], k)
			}
		}
		arn, _ := f["findingArn"].(string)
		if !arnRE.MatchString(arn) {
			t.Errorf("findingArn %q", arn)
		}
		if arns[arn] {
			t.Errorf("findingArn %q repeats", arn)
		}
		arns[arn] = true
		if f["awsAccountId"] != "000000000000" || f["type"] != "PACKAGE_VULNERABILITY" {
			t.Errorf("account %v type %v", f["awsAccountId"], f["type"])
		}
		// Timestamps are numbers: epoch seconds of the scan.
		for _, k := range []string{"firstObservedAt", "lastObservedAt", "updatedAt"} {
			n, ok := f[k].(json.Number)
			if !ok || n.String() != strconv.FormatInt(testTime.Unix(), 10) {
				t.Errorf("%s = %#v, want the number %d", k, f[k], testTime.Unix())
			}
		}
		// The severity is the band of the score, by AWS's table.
		if s, ok := f["inspectorScore"].(json.Number); ok {
			v, _ := s.Float64()
			if want := band(v); f["severity"] != want {
				t.Errorf("%s: severity %v for score %v, want %s", f["title"], f["severity"], v, want)
			}
			if adj := get(t, f, "inspectorScoreDetails.adjustedCvss.score"); adj != nil && adj.(json.Number) != s {
				t.Errorf("adjustedCvss.score %v, inspectorScore %v", adj, s)
			}
		} else if f["severity"] != "UNTRIAGED" {
			t.Errorf("%s: no score but severity %v", f["title"], f["severity"])
		}
	}

	ssl := byTitle(t, fs, "CVE-2023-0286")
	for path, want := range map[string]any{
		"title":                          "CVE-2023-0286 - libssl1.1, openssl",
		"status":                         "ACTIVE",
		"severity":                       "HIGH",
		"fixAvailable":                   "YES",
		"exploitAvailable":               "NO",
		"epss.score":                     json.Number("0.59501"),
		"remediation.recommendation.Url": "https://security-tracker.debian.org/tracker/CVE-2023-0286",
		"inspectorScoreDetails.adjustedCvss.scoreSource":          "NVD",
		"inspectorScoreDetails.adjustedCvss.cvssSource":           "NVD",
		"inspectorScoreDetails.adjustedCvss.scoringVector":        "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H",
		"inspectorScoreDetails.adjustedCvss.version":              "3.1",
		"inspectorScoreDetails.adjustedCvss.adjustments.0.metric": "epss",
		"packageVulnerabilityDetails.source":                      "debian-tracker",
		"packageVulnerabilityDetails.cvss.0.baseScore":            json.Number("7.4"),
		"packageVulnerabilityDetails.cvss.0.source":               "NVD",
		"packageVulnerabilityDetails.relatedVulnerabilities.0":    "DSA-5343-1",
		// DSA-5343-1 was published on 7 Feb 2023.
		"packageVulnerabilityDetails.vendorCreatedAt": json.Number(strconv.FormatInt(time.Date(2023, 2, 7, 0, 0, 0, 0, time.UTC).Unix(), 10)),
		// Debian's 1.1.1n-0+deb11u3 is upstream 1.1.1n, revision 0+deb11u3.
		"packageVulnerabilityDetails.vulnerablePackages.0.name":            "libssl1.1",
		"packageVulnerabilityDetails.vulnerablePackages.0.version":         "1.1.1n",
		"packageVulnerabilityDetails.vulnerablePackages.0.release":         "0+deb11u3",
		"packageVulnerabilityDetails.vulnerablePackages.0.epoch":           json.Number("0"),
		"packageVulnerabilityDetails.vulnerablePackages.0.arch":            "amd64",
		"packageVulnerabilityDetails.vulnerablePackages.0.packageManager":  "OS",
		"packageVulnerabilityDetails.vulnerablePackages.0.fixedInVersion":  "1.1.1n-0+deb11u4",
		"packageVulnerabilityDetails.vulnerablePackages.0.remediation":     "apt-get install --only-upgrade libssl1.1",
		"packageVulnerabilityDetails.vulnerablePackages.0.filePath":        "/var/lib/dpkg/status",
		"packageVulnerabilityDetails.vulnerablePackages.0.sourceLayerHash": testLayers[0].Digest,
	} {
		if got := get(t, ssl, path); got != want {
			t.Errorf("CVE-2023-0286 %s = %#v, want %#v", path, got, want)
		}
	}

	si := byTitle(t, fs, "CVE-2021-21315")
	for path, want := range map[string]any{
		"exploitAvailable": "YES",
		// CISA added it to KEV on 18 Jan 2022.
		"exploitabilityDetails.lastKnownExploitAt": json.Number("1642464000"),
		"epss.score": json.Number("0.90675"),
		"inspectorScoreDetails.adjustedCvss.scoreSource":                  "VENDOR",
		"inspectorScoreDetails.adjustedCvss.cvssSource":                   "osv/npm",
		"packageVulnerabilityDetails.vendorSeverity":                      "HIGH",
		"packageVulnerabilityDetails.vulnerablePackages.0.packageManager": "NODEPKG",
		"packageVulnerabilityDetails.vulnerablePackages.0.filePath":       "/app/node_modules/systeminformation/package.json",
		"packageVulnerabilityDetails.vulnerablePackages.0.remediation":    "npm install systeminformation@5.3.1",
		"packageVulnerabilityDetails.relatedVulnerabilities.0":            "GHSA-2m8v-572m-ff2v",
	} {
		if got := get(t, si, path); got != want {
			t.Errorf("CVE-2021-21315 %s = %#v, want %#v", path, got, want)
		}
	}
	if kev := get(t, si, "inspectorScoreDetails.adjustedCvss.adjustments.0.metric"); kev != "kev" {
		t.Errorf("first adjustment %v, want kev", kev)
	}

	jwt := byTitle(t, fs, "CVE-2020-26160")
	for path, want := range map[string]any{
		"fixAvailable":                    "NO",
		"remediation.recommendation.text": "No fixed version of github.com/dgrijalva/jwt-go is available yet.",
		"packageVulnerabilityDetails.vulnerablePackages.0.fixedInVersion": "NotAvailable",
		"packageVulnerabilityDetails.vulnerablePackages.0.packageManager": "GOBINARY",
		"packageVulnerabilityDetails.vulnerablePackages.0.version":        "v3.2.0+incompatible",
		// The Go record was published 2021-04-14T20:04:52Z; its
		// modified time is zeroed in the repository copy: left out.
		"packageVulnerabilityDetails.vendorCreatedAt": json.Number("1618430692"),
		"packageVulnerabilityDetails.vendorUpdatedAt": nil,
	} {
		if got := get(t, jwt, path); got != want {
			t.Errorf("CVE-2020-26160 %s = %#v, want %#v", path, got, want)
		}
	}
	if _, ok := jwt["exploitabilityDetails"]; ok {
		t.Error("exploitabilityDetails without KEV")
	}

	std := byTitle(t, fs, "CVE-2024-34156")
	if std["severity"] != "UNTRIAGED" {
		t.Errorf("stdlib severity %v", std["severity"])
	}
	for _, k := range []string{"inspectorScore", "inspectorScoreDetails"} {
		if _, ok := std[k]; ok {
			t.Errorf("UNTRIAGED finding has %s", k)
		}
	}
	if got := get(t, std, "remediation.recommendation.text"); got != "Rebuild the program with Go 1.22.7 or later." {
		t.Errorf("stdlib remediation %q", got)
	}

	if got := byTitle(t, fs, "CVE-2023-45288")["status"]; got != "SUPPRESSED" {
		t.Errorf("ignored finding status %v", got)
	}

	res := get(t, ssl, "resources.0").(map[string]any)
	for path, want := range map[string]any{
		"type":      "AWS_ECR_CONTAINER_IMAGE",
		"id":        "arn:aws:ecr:local:000000000000:repository/team/app/" + testDigest,
		"partition": "aws",
		"region":    "local",
		"details.awsEcrContainerImage.repositoryName": "team/app",
		"details.awsEcrContainerImage.registry":       "000000000000",
		"details.awsEcrContainerImage.imageHash":      testDigest,
		"details.awsEcrContainerImage.imageTags.0":    "1.4",
		"details.awsEcrContainerImage.architecture":   "amd64",
		"details.awsEcrContainerImage.platform":       "DEBIAN_11",
		"details.awsEcrContainerImage.pushedAt":       json.Number(strconv.FormatInt(r.Subject.Created.Unix(), 10)),
	} {
		if got := get(t, res, path); got != want {
			t.Errorf("resource %s = %#v, want %#v", path, got, want)
		}
	}
}

// Finding ARNs identify a finding across scans: they do not change with
// the scan time, and change with the image, the file and the
// vulnerability.
func TestInspectorARNStable(t *testing.T) {
	arns := func(r *scan.Report, o Options) []string {
		var out []string
		for _, f := range inspectorOut(t, r, o) {
			out = append(out, f["findingArn"].(string))
		}
		return out
	}
	r := testReport(t)
	first := arns(r, testOptions())
	later := testOptions()
	later.Now = testTime.Add(72 * time.Hour)
	if again := arns(testReport(t), later); strings.Join(again, " ") != strings.Join(first, " ") {
		t.Errorf("ARNs changed between scans:\n%v\n%v", first, again)
	}

	r2 := testReport(t)
	r2.Subject.Digest = digestOf("another manifest")
	for i, a := range arns(r2, testOptions()) {
		if a == first[i] {
			t.Errorf("ARN %s is the same for another image", a)
		}
	}

	r3 := testReport(t)
	finding(t, r3, "CVE-2023-0286").Pkg.Path = "/var/lib/dpkg/status.d/libssl1.1"
	if got := arns(r3, testOptions()); got[0] == first[0] || got[1] != first[1] {
		t.Errorf("moving one package changed %v to %v", first[:2], got[:2])
	}

	o := testOptions()
	o.AccountID, o.Region = "123456789012", "eu-west-1"
	for i, a := range arns(r, o) {
		want := strings.Replace(first[i], "local:000000000000", "eu-west-1:123456789012", 1)
		if a != want {
			t.Errorf("ARN %s, want %s", a, want)
		}
	}
}

func TestInspectorOptions(t *testing.T) {
	r := testReport(t)
	for _, o := range []Options{{AccountID: "12345"}, {AccountID: "00000000000a"}, {Region: "Local Region"}} {
		if err := WriteInspector(&bytes.Buffer{}, r, o); err == nil || !strings.HasPrefix(err.Error(), "report: inspector: ") {
			t.Errorf("%+v: error %v", o, err)
		}
	}
}

func TestInspectorDescriptionBound(t *testing.T) {
	r := testReport(t)
	finding(t, r, "CVE-2023-0286").Description = strings.Repeat("é", 3000)
	finding(t, r, "CVE-2020-26160").Description = ""
	fs := inspectorOut(t, r, testOptions())
	if d := byTitle(t, fs, "CVE-2023-0286")["description"].(string); utf8.RuneCountInString(d) != 1024 || !strings.HasSuffix(d, "…") {
		t.Errorf("description of %d characters", utf8.RuneCountInString(d))
	}
	if d := byTitle(t, fs, "CVE-2020-26160")["description"]; d != "CVE-2020-26160 - github.com/dgrijalva/jwt-go" {
		t.Errorf("empty description became %q, want the title", d)
	}
}

func TestEpochJSON(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 9, 4, 16, 55, 38, 411e6, time.UTC), "1725468938.411"},
		{time.Unix(0, 0), "0"},
		{time.Date(2026, 8, 20, 10, 0, 0, 999999, time.UTC), "1787220000"},
	} {
		b, _ := json.Marshal(Epoch(tc.t))
		if string(b) != tc.want {
			t.Errorf("%v: %s, want %s", tc.t, b, tc.want)
		}
	}
}

func TestPackageManager(t *testing.T) {
	for _, tc := range []struct {
		typ  inventory.Type
		path string
		want string
	}{
		{inventory.Deb, "/var/lib/dpkg/status", "OS"},
		{inventory.APK, "/lib/apk/db/installed", "OS"},
		{inventory.RPM, "/var/lib/rpm/rpmdb.sqlite", "OS"},
		{inventory.Go, "/usr/local/bin/app", "GOBINARY"},
		{inventory.Go, "/src/go.mod", "GOMOD"},
		{inventory.Maven, "/app/app.war!/WEB-INF/lib/log4j-core-2.14.1.jar", "JAR"},
		{inventory.Maven, "/src/pom.xml", "POM"},
		{inventory.NPM, "/app/package-lock.json", "NPM"},
		{inventory.NPM, "/app/yarn.lock", "YARN"},
		{inventory.NPM, "/app/pnpm-lock.yaml", "NPM"},
		{inventory.NPM, "/app/node_modules/lodash/package.json", "NODEPKG"},
		{inventory.PyPI, "/app/requirements.txt", "PIP"},
		{inventory.PyPI, "/app/requirements-dev.txt", "PIP"},
		{inventory.PyPI, "/app/Pipfile.lock", "PIPENV"},
		{inventory.PyPI, "/app/poetry.lock", "POETRY"},
		{inventory.PyPI, "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", "PYTHONPKG"},
		{inventory.Gem, "/app/Gemfile.lock", "BUNDLER"},
		{inventory.Gem, "/usr/local/bundle/specifications/rack-3.0.8.gemspec", "GEMSPEC"},
		{inventory.Cargo, "/src/Cargo.lock", "CARGO"},
		{inventory.Composer, "/app/composer.lock", "COMPOSER"},
		{inventory.NuGet, "/app/app.deps.json", "NUGET"},
	} {
		if got := packageManager(&inventory.Package{Type: tc.typ, Path: tc.path}); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.typ, tc.path, got, tc.want)
		}
	}
}

func TestSplitVersion(t *testing.T) {
	for _, tc := range []struct {
		p                inventory.Package
		epoch            int
		version, release string
	}{
		{inventory.Package{Type: inventory.Deb, Version: "1:1.2.13.dfsg-1"}, 1, "1.2.13.dfsg", "1"},
		{inventory.Package{Type: inventory.Deb, Version: "2.36-9+deb12u7"}, 0, "2.36", "9+deb12u7"},
		{inventory.Package{Type: inventory.Deb, Version: "1.0-beta-2"}, 0, "1.0-beta", "2"},
		{inventory.Package{Type: inventory.Deb, Version: "20230311"}, 0, "20230311", ""},
		{inventory.Package{Type: inventory.APK, Version: "3.3.2-r0"}, 0, "3.3.2", "r0"},
		{inventory.Package{Type: inventory.APK, Version: "1.36.1-r29"}, 0, "1.36.1", "r29"},
		{inventory.Package{Type: inventory.RPM, Version: "1:3.0.7-27.el9", Epoch: 1, Release: "27.el9"}, 1, "3.0.7", "27.el9"},
		{inventory.Package{Type: inventory.RPM, Version: "2.34-100.el9_4.2", Release: "100.el9_4.2"}, 0, "2.34", "100.el9_4.2"},
		{inventory.Package{Type: inventory.NPM, Version: "1.0.0-rc.1"}, 0, "1.0.0-rc.1", ""},
	} {
		e, v, rel := splitVersion(&tc.p)
		if e != tc.epoch || v != tc.version || rel != tc.release {
			t.Errorf("%s %s: %d %q %q, want %d %q %q", tc.p.Type, tc.p.Version, e, v, rel, tc.epoch, tc.version, tc.release)
		}
	}
}

func TestPlatformOf(t *testing.T) {
	for _, tc := range []struct {
		id, version, want string
	}{
		{"debian", "12", "DEBIAN_12"},
		{"alpine", "3.20.3", "ALPINE_LINUX_3_20"},
		{"ubuntu", "22.04", "UBUNTU_22_04"},
		{"amzn", "2023", "AMAZON_LINUX_2023"},
		{"amzn", "2", "AMAZON_LINUX_2"},
		{"rhel", "9.4", "RHEL_9"},
		{"almalinux", "9.4", "ALMA_LINUX_9"},
		{"opensuse-leap", "15.5", "OPENSUSE_LEAP_15_5"},
		{"debian", "", "DEBIAN"},
		{"nixos", "24.05", "NIXOS_24_05"},
	} {
		if got := platformOf(&inventory.Distro{ID: tc.id, VersionID: tc.version}); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.id, tc.version, got, tc.want)
		}
	}
	if got := platformOf(nil); got != "" {
		t.Errorf("no distro: %q", got)
	}
}

func TestNameOf(t *testing.T) {
	for _, tc := range []struct {
		s          scan.Subject
		host, repo string
		tags       []string
	}{
		{scan.Subject{Name: "registry.local:5000/team/app:1.4"}, "registry.local:5000", "team/app", []string{"1.4"}},
		{scan.Subject{Name: "registry:registry.local/team/app@sha256:abc"}, "registry.local", "team/app", nil},
		{scan.Subject{Name: "localhost/app"}, "localhost", "app", nil},
		{scan.Subject{Name: "debian:12"}, "docker.io", "library/debian", []string{"12"}},
		{scan.Subject{Name: "bitnami/redis:7.2"}, "docker.io", "bitnami/redis", []string{"7.2"}},
		{scan.Subject{Name: "oci:./images/app:latest"}, "", "app", []string{"latest"}},
		{scan.Subject{Name: "oci:/srv/My Images/App Image"}, "", "app-image", nil},
		{scan.Subject{Name: "archive:/tmp/app.tar", RepoTags: []string{"vigil/app:1.0", "vigil/app:latest"}}, "docker.io", "vigil/app", []string{"1.0", "latest"}},
		{scan.Subject{Name: "rootfs:/tmp/rootfs.tar.gz"}, "", "rootfs", nil},
		{scan.Subject{Name: "sbom:app.cdx.json"}, "", "app.cdx", nil},
		{scan.Subject{Name: ""}, "", "unknown", nil},
	} {
		n := nameOf(tc.s)
		if n.Host != tc.host || n.Repo != tc.repo || strings.Join(n.Tags, ",") != strings.Join(tc.tags, ",") {
			t.Errorf("%+v: %+v, want %s %s %v", tc.s, n, tc.host, tc.repo, tc.tags)
		}
	}
}
