package report

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
)

func TestTableGolden(t *testing.T) {
	golden(t, "table.golden", render(t, WriteTable, testReport(t), testOptions()))
}

func TestTableFacts(t *testing.T) {
	out := string(render(t, WriteTable, testReport(t), testOptions()))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")

	for _, want := range []string{
		"Image     registry.local:5000/team/app:1.4",
		"Digest    " + testDigest,
		"Distro    debian 11 (Debian GNU/Linux 11 (bullseye))",
		// Built 2026-08-16 06:00, scanned 2026-08-20 10:00: 4 days and 4 hours.
		"Database  built 2026-08-16 06:00 UTC, 4 days old",
		// The package header names the fix; the layer line the layer
		// that brought the package and the file it was read from.
		"libssl1.1 1.1.1n-0+deb11u3 (deb)  fixed in 1.1.1n-0+deb11u4",
		"  layer 0 (" + testLayers[0].DiffID[7:19] + ")  /var/lib/dpkg/status",
		"github.com/dgrijalva/jwt-go v3.2.0+incompatible (golang)  (no fix)",
		// 3 HIGH (8.4, 7.8, 7.5), the stdlib finding UNTRIAGED; the
		// x/net one ignored.
		"Total: 4 (CRITICAL 0, HIGH 3, MEDIUM 0, LOW 0, INFORMATIONAL 0, UNTRIAGED 1)",
		"Ignored: 1",
		"  CVE-2023-45288  golang.org/x/net  VEX not affected: vulnerable code not in execute path",
	} {
		if !containsLine(lines, want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}

	// Packages are ordered by their worst score: the scores follow from
	// package score's rules — libssl1.1 NVD 7.4 + 1.0 for EPSS 0.595 >=
	// 0.5; systeminformation GHSA 7.8, KEV floor 7.0 already met, EPSS
	// not added on top of KEV; jwt-go NVD 7.5, EPSS 0.02 below the
	// thresholds; stdlib unscored.
	order := []string{"libssl1.1 ", "systeminformation ", "github.com/dgrijalva/jwt-go ", "stdlib "}
	last := -1
	for _, name := range order {
		i := indexPrefix(lines, name)
		if i < 0 || i <= last {
			t.Errorf("package %q at line %d, want after line %d", name, i, last)
		}
		last = i
	}
	rows := map[string][]string{}
	for _, l := range lines[:indexPrefix(lines, "Total:")] {
		if f := strings.Fields(l); len(f) >= 4 && strings.HasPrefix(f[0], "CVE-") && strings.HasPrefix(l, "  ") {
			rows[f[0]] = f
		}
	}
	for id, want := range map[string][]string{
		"CVE-2023-0286":  {"HIGH", "8.4", "1.1.1n-0+deb11u4"},
		"CVE-2021-21315": {"HIGH", "7.8", "5.3.1", "[exploited]"},
		"CVE-2020-26160": {"HIGH", "7.5", "(no", "fix)"},
		"CVE-2024-34156": {score.Untriaged, "-", "1.22.7"},
	} {
		got := rows[id]
		if len(got) < len(want)+1 {
			t.Errorf("%s: row %q", id, got)
			continue
		}
		for i, w := range want {
			if got[i+1] != w {
				t.Errorf("%s: column %d is %q, want %q (row %q)", id, i+2, got[i+1], w, got)
			}
		}
	}
	if _, ok := rows["CVE-2023-45288"]; ok {
		t.Error("the ignored finding is listed among the findings")
	}
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n > tableWidth {
			t.Errorf("line %d is %d columns wide: %q", i+1, n, l)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("escape sequences without Color")
	}
}

// TestTableUnreachable: a finding whose code the image does not contain
// is marked so, beside its lowered score.
func TestTableUnreachable(t *testing.T) {
	r := testReport(t)
	var f *scan.Finding
	for _, x := range r.Findings {
		if x.ID == "CVE-2020-26160" {
			f = x
		}
	}
	if f == nil {
		t.Fatal("no CVE-2020-26160 in the test report")
	}
	f.NotReachable = "the binary does not contain the package github.com/dgrijalva/jwt-go"
	out := string(render(t, WriteTable, r, testOptions()))
	if row := lineWith(out, "CVE-2020-26160"); !strings.Contains(row, "[unreachable]") {
		t.Errorf("row %q is not marked", row)
	}
	if row := lineWith(out, "CVE-2023-0286"); strings.Contains(row, "[unreachable]") {
		t.Errorf("row %q is marked", row)
	}
}

func TestTableColor(t *testing.T) {
	o := testOptions()
	o.Color = true
	out := string(render(t, WriteTable, testReport(t), o))
	row := lineWith(out, "CVE-2023-0286  ")
	if !strings.Contains(row, "\x1b[31mHIGH") || !strings.Contains(row, colorReset) {
		t.Errorf("HIGH is not red: %q", row)
	}
	if row := lineWith(out, "CVE-2024-34156"); !strings.Contains(row, "\x1b[35mUNTRIAGED") {
		t.Errorf("UNTRIAGED is not magenta: %q", row)
	}
	// Only the severity is colored: without the escapes the row is the
	// same as without color.
	plain := string(render(t, WriteTable, testReport(t), testOptions()))
	stripped := strings.NewReplacer("\x1b[1;31m", "", "\x1b[31m", "", "\x1b[33m", "", "\x1b[34m", "", "\x1b[2m", "", "\x1b[35m", "", colorReset, "").Replace(out)
	if stripped != plain {
		t.Errorf("colored table differs from the plain one beyond colors:\n%s", firstDiff(plain, stripped))
	}
}

func TestTableCleansText(t *testing.T) {
	r := testReport(t)
	f := finding(t, r, "CVE-2023-0286")
	// A description that tries to set the terminal title, and a
	// right-to-left override in a package path.
	f.Description = "Bad\x1b]0;pwned\x07 thing\nsecond line"
	f.Pkg.Path = "/var/lib/dpkg/\u202estatus"
	out := string(render(t, WriteTable, r, testOptions()))
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
	if row := lineWith(out, "CVE-2023-0286  "); !strings.HasSuffix(row, "  Bad]0;pwned thing") {
		t.Errorf("row %q", row)
	}
}

func TestTableEmpty(t *testing.T) {
	r := &scan.Report{Subject: scan.Subject{Name: "dir:/srv/rootfs"}, Time: testTime}
	out := string(render(t, WriteTable, r, testOptions()))
	for _, want := range []string{"Image     dir:/srv/rootfs", "Database  unknown", "No vulnerabilities found.",
		"Total: 0 (CRITICAL 0, HIGH 0, MEDIUM 0, LOW 0, INFORMATIONAL 0, UNTRIAGED 0)"} {
		if !containsLine(strings.Split(out, "\n"), want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}
}

func TestPackageFix(t *testing.T) {
	fixed := func(v string) *scan.Finding {
		return &scan.Finding{Finding: &match.Finding{ID: "X", Ecosystem: "Debian:12", Fix: match.Fixed, FixedVersion: v}}
	}
	state := func(s match.FixState) *scan.Finding {
		return &scan.Finding{Finding: &match.Finding{ID: "X", Ecosystem: "Debian:12", Fix: s}}
	}
	for _, tc := range []struct {
		name string
		fs   []*scan.Finding
		want string
	}{
		// dpkg orders 1.10 after 1.9 and ~ before anything: the greatest
		// by Debian's rules, not by string order.
		{"greatest", []*scan.Finding{fixed("1.9-1"), fixed("1.10-1~deb12u1"), fixed("1.10-1~deb12u1~")}, "fixed in 1.10-1~deb12u1"},
		{"partial", []*scan.Finding{fixed("2.0-1"), state(match.NotFixed)}, "fixed in 2.0-1 (1 finding without a fix)"},
		{"none", []*scan.Finding{state(match.NotFixed), state(match.WillNotFix)}, "(no fix)"},
		{"will not fix", []*scan.Finding{state(match.WillNotFix)}, "(will not fix)"},
	} {
		if got := packageFix(tc.fs); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func indexPrefix(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func TestNilReport(t *testing.T) {
	for name, write := range map[string]func(io.Writer, *scan.Report, Options) error{
		"table": WriteTable, "json": WriteJSON, "inspector": WriteInspector,
		"sarif": WriteSARIF, "cyclonedx": WriteCycloneDX, "openvex": WriteOpenVEX,
	} {
		if err := write(io.Discard, nil, Options{}); err == nil || err.Error() != "report: "+name+": no report" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteError(t *testing.T) {
	r := testReport(t)
	for name, write := range map[string]func(io.Writer, *scan.Report, Options) error{
		"table": WriteTable, "json": WriteJSON, "inspector": WriteInspector,
		"sarif": WriteSARIF, "cyclonedx": WriteCycloneDX, "openvex": WriteOpenVEX,
	} {
		err := write(failWriter{}, r, testOptions())
		if err == nil || !strings.HasPrefix(err.Error(), "report: "+name+": ") || !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
