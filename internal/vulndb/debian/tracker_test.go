package debian

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vigilsec/vigil/internal/vuln"
)

// TestTrackerFixture reads a hand-written tracker export (the tracker's
// JSON is not in the shared data; see its NOTE.md) covering every state:
// fixed, not affected (fixed_version "0"), open, open with no-DSA
// "ignored" and "postponed", undetermined, unimportant and end-of-life
// urgencies, NVD-derived urgencies ("low**"), a TEMP- id and one CVE in
// two source packages. The expectations follow the tracker's documented
// meaning of each state, one line per affected entry.
func TestTrackerFixture(t *testing.T) {
	f, err := os.Open("testdata/tracker.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// One byte at a time: the decoder must not depend on read sizes.
	advs, errs, err := ParseTrackerJSON(iotest.OneByteReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var got []string
	for _, a := range advs {
		got = append(got, a.ID+" severity="+a.VendorSeverity)
		for _, af := range a.Affected {
			got = append(got, "  "+renderAffected(af))
		}
	}
	want := []string{
		"DEBIAN-CVE-2013-7445 severity=unimportant",
		"  Debian:12 linux introduced 0 not-fixed",
		"  Debian:11 linux introduced 0 not-fixed",
		"  Debian:unstable linux introduced 0 not-fixed",
		"DEBIAN-CVE-2022-3602 severity=high",
		"  Debian:12 openssl introduced 0 fixed 3.0.7-1",
		// bullseye: fixed_version "0", not affected.
		"  Debian:unstable openssl introduced 0 fixed 3.0.7-1",
		"DEBIAN-CVE-2023-0286 severity=",
		"  Debian:12 openssl introduced 0 fixed 3.0.8-1",
		"  Debian:11 openssl introduced 0 fixed 1.1.1n-0+deb11u4",
		"  Debian:unstable openssl introduced 0 fixed 3.0.8-1",
		"DEBIAN-CVE-2023-1528 severity=",
		"  Debian:12 chromium introduced 0 fixed 111.0.5563.110-1",
		"  Debian:11 chromium introduced 0 will-not-fix",
		"  Debian:unstable chromium introduced 0 fixed 111.0.5563.110-1",
		"DEBIAN-CVE-2023-25751 severity=medium",
		"  Debian:12 firefox-esr introduced 0 fixed 102.9.0esr-1",
		"  Debian:11 firefox-esr introduced 0 fixed 102.9.0esr-1~deb11u1",
		"  Debian:12 thunderbird introduced 0 fixed 1:102.9.0-1",
		"  Debian:11 thunderbird introduced 0 fixed 1:102.9.0-1~deb11u1",
		"DEBIAN-CVE-2023-3164 severity=low",
		"  Debian:12 tiff introduced 0 not-fixed",
		"  Debian:11 tiff introduced 0 not-fixed",
		"DEBIAN-CVE-2023-45853 severity=",
		"  Debian:12 zlib introduced 0 will-not-fix",
		"  Debian:11 zlib introduced 0 will-not-fix",
		"  Debian:unstable zlib introduced 0 fixed 1:1.3.dfsg+really1.3.1-1",
		"  Debian:13 zlib introduced 0 fixed 1:1.3.dfsg+really1.3.1-1",
		"DEBIAN-CVE-2023-4806 severity=low",
		"  Debian:12 glibc introduced 0 fixed 2.36-9+deb12u3",
		"  Debian:11 glibc introduced 0 not-fixed",
		"DEBIAN-TEMP-0000000-1D9B5A severity=unimportant",
		"  Debian:unstable minicom introduced 0 not-fixed",
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}

	byID := map[string]vuln.Advisory{}
	for _, a := range advs {
		byID[a.ID] = a
		if a.Source != "debian-tracker" {
			t.Errorf("%s: source %q", a.ID, a.Source)
		}
	}
	zlib := byID["DEBIAN-CVE-2023-45853"]
	if !reflect.DeepEqual(zlib.Upstream, []string{"CVE-2023-45853"}) || !strings.HasPrefix(zlib.Details, "MiniZip in zlib") {
		t.Errorf("zlib: upstream %v, details %q", zlib.Upstream, zlib.Details)
	}
	wantRefs := []vuln.Reference{
		{Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/CVE-2023-45853"},
		{Type: "REPORT", URL: "https://bugs.debian.org/1054290"},
	}
	if !reflect.DeepEqual(zlib.References, wantRefs) {
		t.Errorf("zlib references %v", zlib.References)
	}
	var info map[string]string
	if err := json.Unmarshal(zlib.Affected[0].DatabaseSpecific, &info); err != nil {
		t.Fatal(err)
	}
	if info["release"] != "bookworm" || info["status"] != "open" || info["nodsa_reason"] != "ignored" ||
		!strings.HasPrefix(info["nodsa"], "contrib/minizip not built") {
		t.Errorf("zlib bookworm database_specific %v", info)
	}
	if temp := byID["DEBIAN-TEMP-0000000-1D9B5A"]; len(temp.Upstream) != 0 {
		t.Errorf("TEMP id has upstream %v", temp.Upstream)
	}
}

func TestTrackerMalformed(t *testing.T) {
	const data = `{
  "good": {"CVE-2024-0001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.0-1", "urgency": "low"}}}},
  "shapes": {
    "CVE-2024-0002": {"releases": "bookworm"},
    "CVE-2024-0003": {"releases": {"bookworm": {"status": "resolved", "urgency": "low"}, "bullseye": {"status": "resolved", "fixed_version": "0.9-1"}}},
    "CVE-2024-0004": {"releases": {"hurd": {"status": "open"}, "bookworm": {"status": "fixed"}}},
    "CVE-2024-0005": {"debianbug": "soon", "releases": {}},
    "not-an-id": {"releases": {}},
    "CVE-2024-0006": [1, {"a": [2]}]
  },
  "scalar": 42,
  "list": [{"CVE-2024-0007": {}}, []],
  "bad name!": {"CVE-2024-0008": {"releases": {}}},
  "after": {"CVE-2024-0001": {"releases": {"bullseye": {"status": "open", "urgency": "high"}}}}
}`
	advs, errs, err := ParseTrackerJSON(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range advs {
		got = append(got, a.ID+" severity="+a.VendorSeverity)
		for _, af := range a.Affected {
			got = append(got, "  "+renderAffected(af))
		}
	}
	want := []string{
		"DEBIAN-CVE-2024-0001 severity=high",
		"  Debian:12 good introduced 0 fixed 1.0-1",
		"  Debian:11 after introduced 0 not-fixed",
		"DEBIAN-CVE-2024-0003 severity=low",
		"  Debian:11 shapes introduced 0 fixed 0.9-1",
		"DEBIAN-CVE-2024-0004 severity=",
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
	var msgs []string
	for _, e := range errs {
		var re *RecordError
		if !errors.As(e, &re) {
			t.Errorf("%v is not a *RecordError", e)
		}
		msgs = append(msgs, e.Error())
	}
	for _, w := range []string{
		"debian: tracker: CVE-2024-0002 shapes: json: cannot unmarshal",
		"debian: tracker: CVE-2024-0003 shapes: release bookworm: resolved without a fixed_version",
		`debian: tracker: CVE-2024-0004 shapes: release bookworm: unknown status "fixed"`,
		`debian: tracker: CVE-2024-0004 shapes: release hurd: unknown release "hurd"`,
		"debian: tracker: CVE-2024-0005 shapes: json: invalid number literal",
		"debian: tracker: not-an-id shapes: not a CVE or TEMP id",
		"debian: tracker: CVE-2024-0006 shapes: json: cannot unmarshal array",
		"debian: tracker: scalar: package entry is not an object",
		"debian: tracker: list: package entry is not an object",
		"debian: tracker: CVE-2024-0008 bad name!: not a source package name",
	} {
		found := false
		for _, m := range msgs {
			found = found || strings.HasPrefix(m, w)
		}
		if !found {
			t.Errorf("no error starting %q in:\n%s", w, strings.Join(msgs, "\n"))
		}
	}
	if len(msgs) != 10 {
		t.Errorf("%d errors, want 10:\n%s", len(msgs), strings.Join(msgs, "\n"))
	}
}

func TestTrackerUnreadable(t *testing.T) {
	fixture, err := os.ReadFile("testdata/tracker.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"empty":          "",
		"array":          `[]`,
		"truncated":      string(fixture[:len(fixture)/2]),
		"trailing data":  `{} {}`,
		"bad syntax":     `{"p": {"CVE-2024-1": {"releases": {]}}}`,
		"key not string": `{"p": {1: {}}}`,
	} {
		advs, _, err := ParseTrackerJSON(strings.NewReader(data))
		if err == nil || advs != nil || !strings.HasPrefix(err.Error(), "debian: tracker JSON") {
			t.Errorf("%s: %d advisories, error %v; want none and an error", name, len(advs), err)
		}
	}
	if _, _, err := parseTracker(strings.NewReader(string(fixture)), 1000); err == nil || !strings.Contains(err.Error(), "larger than allowed") {
		t.Errorf("error %v, want the size cap", err)
	}
}

func FuzzParseTrackerJSON(f *testing.F) {
	fixture, err := os.ReadFile("testdata/tracker.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	f.Add([]byte(`{"p":{"CVE-2024-1":{"releases":{"sid":{"status":"open","nodsa_reason":"ignored"}}},"x":[{}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		advs, _, err := ParseTrackerJSON(strings.NewReader(string(data)))
		if err != nil {
			if advs != nil {
				t.Fatal("advisories returned with an error")
			}
			return
		}
		for _, a := range advs {
			if !strings.HasPrefix(a.ID, "DEBIAN-") {
				t.Fatalf("id %q", a.ID)
			}
			for _, af := range a.Affected {
				if af.Package.Name == "" || !strings.HasPrefix(af.Package.Ecosystem, "Debian:") || len(af.Ranges) != 1 {
					t.Fatalf("affected %+v", af)
				}
				fixed := len(af.Ranges[0].Events) == 2
				if fixed == (af.Status != "") {
					t.Fatalf("affected %+v has both or neither of a fix and a status", af)
				}
			}
		}
	})
}
