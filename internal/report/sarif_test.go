package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
)

func compileSARIF(t testing.TB) *jsonschema.Schema {
	t.Helper()
	const id = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
	return compileSchema(t, map[string]string{id: filepath.Join("testdata", "schema", "sarif-schema-2.1.0.json")}, id)
}

func TestSARIFSchema(t *testing.T) {
	s := compileSARIF(t)
	validate(t, s, render(t, WriteSARIF, testReport(t), testOptions()), "version")
	validate(t, s, render(t, WriteSARIF, &scan.Report{Time: testTime}, testOptions()), "runs")
	// A level SARIF does not have is refused too.
	bad := bytes.Replace(render(t, WriteSARIF, testReport(t), testOptions()), []byte(`"level": "note"`), []byte(`"level": "info"`), 1)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	if s.Validate(v) == nil {
		t.Error("schema accepted level \"info\"")
	}
}

type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name, Version, InformationURI string
				Rules                         []struct {
					ID               string
					ShortDescription struct{ Text string }
					FullDescription  struct{ Text string }
					Help             struct{ Text, Markdown string }
					HelpURI          string
					Properties       map[string]any
				}
			}
		}
		Results []struct {
			RuleID    string
			RuleIndex int
			Level     string
			Message   struct{ Text string }
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI string }
					Region           struct{ StartLine int }
				}
			}
			PartialFingerprints map[string]string
			Suppressions        []struct{ Kind, Justification string }
		}
	}
}

func sarifOut(t *testing.T, r *scan.Report) sarifDoc {
	t.Helper()
	var d sarifDoc
	if err := json.Unmarshal(render(t, WriteSARIF, r, testOptions()), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Runs) != 1 {
		t.Fatalf("%d runs", len(d.Runs))
	}
	return d
}

func TestSARIFFacts(t *testing.T) {
	r := testReport(t)
	d := sarifOut(t, r)
	if d.Version != "2.1.0" {
		t.Errorf("version %q", d.Version)
	}
	run := d.Runs[0]
	drv := run.Tool.Driver
	if drv.Name != "vigil" || drv.Version != "1.4.0" || drv.InformationURI != infoURI {
		t.Errorf("driver %s %s %s", drv.Name, drv.Version, drv.InformationURI)
	}
	rules := map[string]int{}
	for i, rule := range drv.Rules {
		if _, dup := rules[rule.ID]; dup {
			t.Errorf("rule %s twice", rule.ID)
		}
		rules[rule.ID] = i
		if rule.ShortDescription.Text == "" || len([]rune(rule.ShortDescription.Text)) > 1024 || len([]rune(rule.FullDescription.Text)) > 1024 {
			t.Errorf("rule %s descriptions %q / %d characters", rule.ID, rule.ShortDescription.Text, len(rule.FullDescription.Text))
		}
		tags, _ := rule.Properties["tags"].([]any)
		if len(tags) < 2 || tags[0] != "security" {
			t.Errorf("rule %s tags %v", rule.ID, tags)
		}
	}
	if len(drv.Rules) != 5 {
		t.Errorf("%d rules, want one per vulnerability (5)", len(drv.Rules))
	}
	// security-severity is the score as a string; absent when unscored.
	for id, want := range map[string]any{"CVE-2023-0286": "8.4", "CVE-2021-21315": "7.8", "CVE-2020-26160": "7.5", "CVE-2024-34156": nil} {
		if got := drv.Rules[rules[id]].Properties["security-severity"]; got != want {
			t.Errorf("%s security-severity %#v, want %#v", id, got, want)
		}
	}
	ssl := drv.Rules[rules["CVE-2023-0286"]]
	if ssl.ShortDescription.Text != "There is a type confusion vulnerability relating to X.400 address processing inside an X.509 GeneralName." {
		t.Errorf("shortDescription %q", ssl.ShortDescription.Text)
	}
	if ssl.HelpURI != "https://security-tracker.debian.org/tracker/CVE-2023-0286" ||
		!strings.Contains(ssl.Help.Markdown, "| libssl1.1 | 1.1.1n-0+deb11u3 | 1.1.1n-0+deb11u4 | /var/lib/dpkg/status |") {
		t.Errorf("help %s\n%s", ssl.HelpURI, ssl.Help.Markdown)
	}
	if tags := drv.Rules[rules["CVE-2021-21315"]].Properties["tags"].([]any); tags[len(tags)-1] != "known-exploited" {
		t.Errorf("KEV rule tags %v", tags)
	}

	wantLevel := map[string]string{"CVE-2023-0286": "error", "CVE-2021-21315": "error", "CVE-2020-26160": "error", "CVE-2024-34156": "note", "CVE-2023-45288": "error"}
	fps := map[string]bool{}
	for _, res := range run.Results {
		if i, ok := rules[res.RuleID]; !ok || i != res.RuleIndex {
			t.Errorf("result %s: ruleIndex %d, rule at %d", res.RuleID, res.RuleIndex, i)
		}
		if res.Level != wantLevel[res.RuleID] {
			t.Errorf("%s: level %s, want %s", res.RuleID, res.Level, wantLevel[res.RuleID])
		}
		if len(res.Locations) != 1 || strings.HasPrefix(res.Locations[0].PhysicalLocation.ArtifactLocation.URI, "/") ||
			res.Locations[0].PhysicalLocation.Region.StartLine != 1 {
			t.Errorf("%s: locations %+v", res.RuleID, res.Locations)
		}
		fp := res.PartialFingerprints["vigilFinding/v1"]
		if len(fp) != 32 || fps[fp] {
			t.Errorf("%s: fingerprint %q (repeated: %v)", res.RuleID, fp, fps[fp])
		}
		fps[fp] = true
		ignored := res.RuleID == "CVE-2023-45288"
		if ignored != (len(res.Suppressions) == 1) {
			t.Errorf("%s: suppressions %+v", res.RuleID, res.Suppressions)
		}
		if ignored && (res.Suppressions[0].Kind != "external" || res.Suppressions[0].Justification != "VEX not affected: vulnerable code not in execute path") {
			t.Errorf("suppression %+v", res.Suppressions[0])
		}
	}
	first := run.Results[0]
	if first.RuleID != "CVE-2023-0286" || first.Locations[0].PhysicalLocation.ArtifactLocation.URI != "var/lib/dpkg/status" ||
		first.Message.Text != "libssl1.1 1.1.1n-0+deb11u3 is affected by CVE-2023-0286 (HIGH, score 8.4). "+
			"Upgrade libssl1.1 to a version built from openssl 1.1.1n-0+deb11u4 or later. "+
			"Installed by layer 0 ("+testLayers[0].DiffID+") of registry.local:5000/team/app:1.4." {
		t.Errorf("first result %+v", first)
	}
}

// Fingerprints stay the same when the image is rebuilt (new digest) and
// the package upgraded but still vulnerable.
func TestSARIFFingerprintStable(t *testing.T) {
	fp := func(r *scan.Report) string {
		return sarifOut(t, r).Runs[0].Results[0].PartialFingerprints["vigilFinding/v1"]
	}
	before := fp(testReport(t))
	r := testReport(t)
	r.Subject.Digest = digestOf("rebuilt")
	finding(t, r, "CVE-2023-0286").Pkg.Version = "1.1.1n-0+deb11u3.1"
	if after := fp(r); after != before {
		t.Errorf("fingerprint changed on rebuild: %s, %s", before, after)
	}
	r = testReport(t)
	finding(t, r, "CVE-2023-0286").Pkg.Path = "/var/lib/dpkg/status.d/libssl1.1"
	if after := fp(r); after == before {
		t.Error("fingerprint did not change with the file")
	}
}

func TestSARIFLevel(t *testing.T) {
	for sev, want := range map[string]string{
		score.Critical: "error", score.High: "error", score.Medium: "warning",
		score.Low: "note", score.Informational: "note", score.Untriaged: "note",
	} {
		if got := sarifLevel(sev); got != want {
			t.Errorf("%s: %s, want %s", sev, got, want)
		}
	}
}

func TestArtifactURI(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/dpkg/status":              "var/lib/dpkg/status",
		"/app/app.war!/WEB-INF/lib/a b.jar": "app/app.war%21/WEB-INF/lib/a%20b.jar",
		"/opt/c:d/x":                        "opt/c:d/x",
		"c:d":                               "./c:d",
		"/":                                 "",
	} {
		if got := artifactURI(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
