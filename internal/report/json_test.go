package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/scan"
)

func TestJSONGolden(t *testing.T) {
	golden(t, "report.golden.json", render(t, WriteJSON, testReport(t), testOptions()))
}

func TestJSONFacts(t *testing.T) {
	out := render(t, WriteJSON, testReport(t), testOptions())
	var doc map[string]any
	decodeJSON(t, out, &doc)

	str := func(v any, path ...string) string {
		t.Helper()
		for _, k := range path {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q", path, k)
			}
			v = m[k]
		}
		s, _ := v.(string)
		if n, ok := v.(json.Number); ok {
			s = n.String()
		}
		return s
	}
	if got := str(doc, "schema"); got != SchemaJSON {
		t.Errorf("schema %q", got)
	}
	if got := str(doc, "tool", "name") + " " + str(doc, "tool", "version"); got != "vigil 1.4.0" {
		t.Errorf("tool %q", got)
	}
	if got := str(doc, "time"); got != "2026-08-20T10:00:00Z" {
		t.Errorf("time %q", got)
	}
	// 2026-08-16T06:00 to 2026-08-20T10:00 is 100 hours.
	if got := str(doc, "database", "ageSeconds"); got != "360000" {
		t.Errorf("database age %q", got)
	}
	if got := str(doc, "distro", "versionId"); got != "11" {
		t.Errorf("distro %q", got)
	}

	sum := doc["summary"].(map[string]any)
	by := sum["bySeverity"].(map[string]any)
	if len(by) != 6 {
		t.Errorf("bySeverity has %d severities, want all 6: %v", len(by), by)
	}
	for sev, n := range map[string]string{"CRITICAL": "0", "HIGH": "3", "MEDIUM": "0", "LOW": "0", "INFORMATIONAL": "0", "UNTRIAGED": "1"} {
		if got := str(by, sev); got != n {
			t.Errorf("bySeverity %s = %s, want %s", sev, got, n)
		}
	}
	for k, n := range map[string]string{"total": "4", "fixable": "3", "exploited": "1", "ignored": "1", "packages": "6", "skipped": "1", "warnings": "1"} {
		if got := str(sum, k); got != n {
			t.Errorf("summary %s = %s, want %s", k, got, n)
		}
	}

	fs := doc["findings"].([]any)
	ids := []string{}
	for _, f := range fs {
		ids = append(ids, str(f, "id"))
	}
	if want := []string{"CVE-2023-0286", "CVE-2021-21315", "CVE-2020-26160", "CVE-2024-34156"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("finding order %v, want %v (by score)", ids, want)
	}
	ssl := fs[0]
	for path, want := range map[string]string{
		"score/value":          "8.4",
		"score/severity":       "HIGH",
		"score/source":         "NVD",
		"score/base/vector":    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H",
		"fix/state":            "fixed",
		"fix/version":          "1.1.1n-0+deb11u4",
		"package/name":         "libssl1.1",
		"package/layer/diffId": testLayers[0].DiffID,
		"ecosystem":            "Debian:11",
		"epss/score":           "0.59501",
	} {
		if got := str(ssl, strings.Split(path, "/")...); got != want {
			t.Errorf("findings[0].%s = %q, want %q", path, got, want)
		}
	}
	adj := ssl.(map[string]any)["score"].(map[string]any)["adjustments"].([]any)
	if len(adj) != 1 || str(adj[0], "metric") != "epss" {
		t.Errorf("adjustments %v, want one epss adjustment", adj)
	}
	// The unscored finding has a null value, not 0, which would read as
	// INFORMATIONAL.
	untriaged := fs[3].(map[string]any)["score"].(map[string]any)
	if v, ok := untriaged["value"]; !ok || v != nil {
		t.Errorf("UNTRIAGED score value %v (present %v), want null", v, ok)
	}
	if got := str(fs[1], "kev", "dateAdded"); got != "2022-01-18T00:00:00Z" {
		t.Errorf("kev dateAdded %q", got)
	}

	ign := doc["ignored"].([]any)
	if len(ign) != 1 || str(ign[0], "id") != "CVE-2023-45288" ||
		str(ign[0], "ignoredBecause") != "VEX not affected: vulnerable code not in execute path" {
		t.Errorf("ignored %v", ign)
	}
	if got := str(doc["skipped"].([]any)[0], "purl"); got != "pkg:generic/busybox@1.36.1" {
		t.Errorf("skipped %q", got)
	}
	if got := str(doc["warnings"].([]any)[0], "message"); got != "not a Go binary: truncated build info" {
		t.Errorf("warnings %q", got)
	}
}

// An empty report has empty lists, not nulls.
func TestJSONEmptyLists(t *testing.T) {
	out := render(t, WriteJSON, &scan.Report{Time: testTime}, testOptions())
	var doc map[string]any
	decodeJSON(t, out, &doc)
	for _, k := range []string{"findings", "ignored", "skipped", "warnings"} {
		if l, ok := doc[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %#v, want []", k, doc[k])
		}
	}
	if _, ok := doc["database"]; ok {
		t.Error("database present without one")
	}
}

// The document reads back into Document unchanged.
func TestJSONRoundTrip(t *testing.T) {
	r := testReport(t)
	out := render(t, WriteJSON, r, testOptions())
	var back Document
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	want := NewDocument(r, testOptions())
	if !reflect.DeepEqual(want.Summary, back.Summary) || len(back.Findings) != len(want.Findings) {
		t.Fatalf("summary or findings changed: %+v", back.Summary)
	}
	for i := range want.Findings {
		w, g := want.Findings[i], back.Findings[i]
		if w.ID != g.ID || !reflect.DeepEqual(w.Package, g.Package) || w.Fix != g.Fix || !reflect.DeepEqual(w.Score, g.Score) {
			t.Errorf("finding %d changed:\n%+v\n%+v", i, w, g)
		}
	}
}
