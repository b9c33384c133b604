package debian

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

// codenames is the release table the tests read the data with, written
// out from Debian's release history rather than taken from the parser.
var codenames = map[string]string{
	"woody": "3.0", "sarge": "3.1", "etch": "4", "lenny": "5", "squeeze": "6",
	"wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11",
	"bookworm": "12", "trixie": "13", "sid": "unstable",
}

func releaseOf(t *testing.T, eco string) string {
	t.Helper()
	for name, v := range codenames {
		if "Debian:"+v == eco {
			return name
		}
	}
	t.Fatalf("ecosystem %q is no release the test knows", eco)
	return ""
}

// awkList is an independent reading of a list with awk: one line per
// header (id and date), per CVE of a cross-reference, and per package line.
const awkList = `
/^\[/ { id = $4; d = $1 " " $2 " " $3; gsub(/[\[\]]/, "", d); print "H\t" id "\t" d; next }
/^[ \t]+\{/ { s = $0; gsub(/[{}]/, " ", s); n = split(s, f, /[ \t]+/); for (i = 1; i <= n; i++) if (f[i] != "") print "C\t" id "\t" f[i]; next }
/^[ \t]+\[[a-z]+\] - / { r = $1; gsub(/[\[\]]/, "", r); print "P\t" id "\t" r "\t" $3 "\t" $4 }
`

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		// grep exits 1 when nothing matches; that is a count of zero.
		if !(errors.As(err, &ee) && ee.ExitCode() == 1 && strings.HasSuffix(name, "grep")) {
			t.Fatalf("%s %v: %v", name, args, err)
		}
	}
	return string(out)
}

func TestRealLists(t *testing.T) {
	awk := testenv.Tool(t, "awk")
	grep := testenv.Tool(t, "grep")
	for _, kind := range []string{"DSA", "DLA"} {
		t.Run(kind, func(t *testing.T) {
			path := testenv.Shared(t, "vulndb/debian/"+kind+"/list")
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			advs, errs, err := ParseList(f, kind)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				t.Errorf("record error: %v", e)
			}

			// Advisories: one per header line.
			headers := strings.TrimSpace(run(t, grep, "-c", `^\[`, path))
			if fmt.Sprint(len(advs)) != headers {
				t.Errorf("%d advisories, grep counts %s headers", len(advs), headers)
			}

			// Package lines per release: every line is an affected entry
			// except the not-affected ones.
			want := map[string]int{}
			for _, r := range strings.Fields(run(t, grep, "-ohP", `^\s+\[\K[a-z]+(?=\] - )`, path)) {
				want[r]++
			}
			for _, r := range strings.Fields(run(t, grep, "-ohP", `^\s+\[\K[a-z]+(?=\] - \S+\s+<(not-affected|removed|itp)>)`, path)) {
				want[r]--
			}
			got := map[string]int{}
			for _, a := range advs {
				for _, af := range a.Affected {
					got[releaseOf(t, af.Package.Ecosystem)]++
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("affected entries per release: got %v, grep says %v", got, want)
			}

			// Everything, line by line, against awk's reading.
			var wantLines []string
			for _, l := range strings.Split(strings.TrimSpace(run(t, awk, awkList, path)), "\n") {
				f := strings.Split(l, "\t")
				switch {
				case f[0] == "P" && f[4] == "<not-affected>":
					continue
				case f[0] == "P" && f[4] == "<unfixed>":
					f[4] = string(vuln.NotFixed)
				case f[0] == "P" && f[4] == "<end-of-life>":
					f[4] = string(vuln.WillNotFix)
				case f[0] == "H" && len(f[2]) == len("2 Jan 2006"):
					f[2] = "0" + f[2]
				}
				wantLines = append(wantLines, strings.Join(f, "\t"))
			}
			var gotLines []string
			for _, a := range advs {
				gotLines = append(gotLines, "H\t"+a.ID+"\t"+a.Published.Format("02 Jan 2006"))
				for _, c := range a.Related {
					gotLines = append(gotLines, "C\t"+a.ID+"\t"+c)
				}
				for _, af := range a.Affected {
					v := string(af.Status)
					if v == "" {
						v = af.Ranges[0].Events[1].Fixed
					}
					gotLines = append(gotLines, strings.Join([]string{"P", a.ID, releaseOf(t, af.Package.Ecosystem), af.Package.Name, v}, "\t"))
				}
			}
			sort.Strings(wantLines)
			sort.Strings(gotLines)
			wantLines, gotLines = dedup(wantLines), dedup(gotLines)
			if g, w := strings.Join(gotLines, "\n"), strings.Join(wantLines, "\n"); g != w {
				t.Errorf("records differ from awk's reading:\n%s", diff(wantLines, gotLines))
			}
		})
	}
}

func dedup(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func diff(want, got []string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	for _, l := range got {
		g[l] = true
	}
	var b strings.Builder
	n := 0
	for _, l := range got {
		if !w[l] && n < 20 {
			fmt.Fprintf(&b, "+ %s\n", l)
			n++
		}
	}
	for _, l := range want {
		if !g[l] && n < 40 {
			fmt.Fprintf(&b, "- %s\n", l)
			n++
		}
	}
	return b.String()
}

const list = `[29 Mar 2023] DSA-5380-1 xorg-server - security update
	{CVE-2023-1393}
	[bullseye] - xorg-server 2:1.20.11-1+deb11u6
[17 Mar 2023] DSA-5356-2 sox - regression update
	[bullseye] - sox 14.4.2+git20190427-2+deb11u2
[26 Feb 2009] DSA-1727-1  - SQL injection vulnerabilites
	{CVE-2009-0510 CVE-2009-0511 CVE-2009-0510}
        [etch] - proftpd-dfsg 1.3.0-19etch2 (low)
	[lenny] - proftpd-dfsg 1.3.1-17lenny1 (bug #502674; high)
	[woody] - proftpd <not-affected> (Vulnerable code not present)
	NOTE: fixed in testing at time of DSA
[08 Jul 2008] DSA-1605-1 glibc - DNS cache poisoning
        {CVE-2008-1447}
	[etch] - glibc <unfixed>
	[sarge] - glibc <end-of-life>
        NOTE: <unfixed> (backport too complicated)
[01 Jan 2020] DSA-9000-1 broken - one bad line spoils the record
	{CVE-2020-0001}
	[bullseye] - broken
[02 Jan 2020] DSA-9001-1 unknown - release
	[hurd] - pkg 1.0
[03 Jan 2020] DSA-9002-1 odd - pseudo-version
	[bullseye] - pkg <fixed-later>
[04 Jan 2020] DLA-9003-1 wrong - list
[31 Feb 2020] DSA-9004-1 bad - date
This is not a header
[05 Jan 2020] DSA-9005-1 good - after the bad ones
	[bookworm] - good 1.0-1
`

func TestParseList(t *testing.T) {
	advs, errs, err := ParseList(strings.NewReader(list), "DSA")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range advs {
		line := fmt.Sprintf("%s %s %q related=%v severity=%q", a.ID, a.Published.Format("2006-01-02"), a.Summary, a.Related, a.VendorSeverity)
		for _, af := range a.Affected {
			line += " | " + renderAffected(af)
		}
		got = append(got, line)
	}
	want := []string{
		`DSA-5380-1 2023-03-29 "xorg-server - security update" related=[CVE-2023-1393] severity="" | Debian:11 xorg-server introduced 0 fixed 2:1.20.11-1+deb11u6`,
		`DSA-5356-2 2023-03-17 "sox - regression update" related=[] severity="" | Debian:11 sox introduced 0 fixed 14.4.2+git20190427-2+deb11u2`,
		`DSA-1727-1 2009-02-26 "- SQL injection vulnerabilites" related=[CVE-2009-0510 CVE-2009-0511] severity="high" | Debian:4 proftpd-dfsg introduced 0 fixed 1.3.0-19etch2 | Debian:5 proftpd-dfsg introduced 0 fixed 1.3.1-17lenny1`,
		`DSA-1605-1 2008-07-08 "glibc - DNS cache poisoning" related=[CVE-2008-1447] severity="" | Debian:4 glibc introduced 0 not-fixed | Debian:3.1 glibc introduced 0 will-not-fix`,
		`DSA-9005-1 2020-01-05 "good - after the bad ones" related=[] severity="" | Debian:12 good introduced 0 fixed 1.0-1`,
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
	if advs[0].Source != "debian-dsa" || advs[0].References[0].URL != "https://www.debian.org/security/2023/dsa-5380" {
		t.Errorf("source %q, references %v", advs[0].Source, advs[0].References)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	wantErrs := []string{
		`debian: DSA list line 19: DSA-9000-1: malformed package line "[bullseye] - broken"`,
		`debian: DSA list line 21: DSA-9001-1: unknown release "hurd"`,
		`debian: DSA list line 23: DSA-9002-1: unknown pseudo-version <fixed-later>`,
		`debian: DSA list line 24: DLA-9003-1: not a DSA id`,
		`debian: DSA list line 25: DSA-9004-1: date "31 Feb 2020"`,
		`debian: DSA list line 26: malformed header "This is not a header"`,
	}
	if len(msgs) != len(wantErrs) {
		t.Fatalf("errors:\n%s\nwant %d", strings.Join(msgs, "\n"), len(wantErrs))
	}
	for i, w := range wantErrs {
		if !strings.HasPrefix(msgs[i], w) {
			t.Errorf("error %d = %q, want it to start with %q", i, msgs[i], w)
		}
	}
}

func TestParseListDLA(t *testing.T) {
	advs, errs, err := ParseList(strings.NewReader("[30 Mar 2023] DLA-3193-2 joblib - security update\n\t{CVE-2022-21797}\n\t[buster] - joblib 0.13.0-2+deb10u2\n"), "DLA")
	if err != nil || len(errs) != 0 || len(advs) != 1 {
		t.Fatalf("%v %v %v", advs, errs, err)
	}
	if a := advs[0]; a.Source != "debian-dla" || a.References[0].URL != "https://www.debian.org/lts/security/2023/dla-3193-2" || a.Affected[0].Package.Ecosystem != "Debian:10" {
		t.Errorf("%+v", a)
	}
}

func TestParseListFailures(t *testing.T) {
	if _, _, err := ParseList(strings.NewReader(list), "USN"); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, _, err := parseList(strings.NewReader(list), "DSA", 100); err == nil || !strings.Contains(err.Error(), "larger than allowed") {
		t.Errorf("error %v, want the size cap", err)
	}
	long := "[29 Mar 2023] DSA-1-1 x - y\n\t{" + strings.Repeat("CVE-2023-0001 ", maxLineSize/14+1) + "}\n"
	if _, _, err := ParseList(strings.NewReader(long), "DSA"); err == nil {
		t.Error("an over-long line was accepted")
	}
	_, errs, err := ParseList(strings.NewReader("\t{CVE-2020-1}\n[01 Jan 2020] DSA-1-1 a - b\n"), "DSA")
	if err != nil || len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 1: annotation before any advisory") {
		t.Errorf("errors %v, %v", errs, err)
	}
}

func FuzzParseList(f *testing.F) {
	f.Add([]byte(list), false)
	f.Add([]byte("[01 Apr 2023] DLA-3380-1 firmware-nonfree - security update\n\t[buster] - firmware-nonfree 20190114+really20220913-0+deb10u1\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, dla bool) {
		kind := "DSA"
		if dla {
			kind = "DLA"
		}
		advs, _, err := ParseList(strings.NewReader(string(data)), kind)
		if err != nil {
			return
		}
		for _, a := range advs {
			if !strings.HasPrefix(a.ID, kind+"-") || a.Published.IsZero() {
				t.Fatalf("advisory %+v", a)
			}
			for _, af := range a.Affected {
				if af.Package.Name == "" || !strings.HasPrefix(af.Package.Ecosystem, "Debian:") || len(af.Ranges) != 1 || af.Ranges[0].Events[0].Introduced != "0" {
					t.Fatalf("affected %+v", af)
				}
				fixed := len(af.Ranges[0].Events) == 2 && af.Ranges[0].Events[1].Fixed != ""
				if fixed == (af.Status != "") {
					t.Fatalf("affected %+v has both or neither of a fix and a status", af)
				}
			}
		}
	})
}

// renderAffected writes an affected entry on one line: ecosystem,
// package, events, status.
func renderAffected(af vuln.Affected) string {
	parts := []string{af.Package.Ecosystem, af.Package.Name}
	for _, r := range af.Ranges {
		for _, e := range r.Events {
			switch {
			case e.Introduced != "":
				parts = append(parts, "introduced "+e.Introduced)
			case e.Fixed != "":
				parts = append(parts, "fixed "+e.Fixed)
			default:
				parts = append(parts, fmt.Sprintf("%+v", e))
			}
		}
	}
	if af.Status != "" {
		parts = append(parts, string(af.Status))
	}
	return strings.Join(parts, " ")
}
