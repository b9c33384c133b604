package alpine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/internal/vuln"
)

// pythonTriples is an independent reading of a secdb file with Python's
// json module: one line per (advisory id, origin package, fixed version),
// skipping the "0" (never affected) key. Ids are found with two regular
// expressions over the whole entry, not token by token as the parser does.
const pythonTriples = `
import json, re, sys
d = json.load(open(sys.argv[1]))
print(d["distroversion"])
for p in d["packages"] or []:
    name = p["pkg"]["name"]
    for ver, entries in p["pkg"]["secfixes"].items():
        if ver == "0":
            continue
        for e in entries or []:
            ids = ["CVE-%s-%s" % m for m in re.findall(r"CVE[-_ ](\d{4})-(\d{4,})", e)]
            if not ids:
                ids = re.findall(r"[A-Za-z]+(?:-[A-Za-z0-9]+)+", e.split("(")[0])
            for i in ids:
                print("ALPINE-%s\t%s\t%s" % (i, name, ver))
`

func TestRealSecdb(t *testing.T) {
	python := testenv.Tool(t, "python3")
	root := testenv.Shared(t, "vulndb/alpine-secdb")
	files, err := filepath.Glob(filepath.Join(root, "v3.*", "*.json"))
	if err != nil || len(files) != 18 {
		t.Fatalf("found %d secdb files (%v), want 18", len(files), err)
	}
	var all []vuln.Advisory
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		t.Run(rel, func(t *testing.T) {
			out, err := exec.Command(python, "-c", pythonTriples, file).Output()
			if err != nil {
				t.Fatalf("python3: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			branch, want := lines[0], uniqueSorted(lines[1:])

			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			advs, errs, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				var re *RecordError
				if !errors.As(e, &re) || !re.Warning {
					t.Errorf("record error: %v", e)
				}
			}
			var got []string
			for _, a := range advs {
				if a.Source != "alpine-secdb" || len(a.Upstream) == 0 || "ALPINE-"+a.Upstream[0] != a.ID {
					t.Errorf("%s: source %q, upstream %v", a.ID, a.Source, a.Upstream)
				}
				for _, af := range a.Affected {
					if af.Package.Ecosystem != "Alpine:"+branch {
						t.Errorf("%s: ecosystem %q, want Alpine:%s", a.ID, af.Package.Ecosystem, branch)
					}
					if len(af.Ranges) == 0 {
						t.Errorf("%s %s: affected entry without a range", a.ID, af.Package.Name)
					}
					for _, r := range af.Ranges {
						if len(r.Events) != 2 || r.Events[0].Introduced != "0" || r.Events[1].Fixed == "" || r.Events[1].Fixed == "0" {
							t.Errorf("%s %s: range %+v, want introduced 0 and a fix", a.ID, af.Package.Name, r)
							continue
						}
						got = append(got, fmt.Sprintf("%s\t%s\t%s", a.ID, af.Package.Name, r.Events[1].Fixed))
					}
				}
			}
			got = uniqueSorted(got)
			if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
				t.Errorf("(id, package, fixed) triples differ from python's reading (%d vs %d):\n%s", len(got), len(want), diff(want, got))
			}
			all = append(all, advs...)
		})
	}

	// The same vulnerability fixed in several branches is one advisory
	// once merged, with an affected entry per branch: musl's
	// CVE-2019-14697 is fixed in v3.7 through v3.10 (the README's example).
	merged := Merge(all)
	var musl *vuln.Advisory
	for i := range merged {
		if merged[i].ID == "ALPINE-CVE-2019-14697" {
			musl = &merged[i]
		}
	}
	if musl == nil {
		t.Fatal("ALPINE-CVE-2019-14697 not found")
	}
	branches := map[string]bool{}
	for _, af := range musl.Affected {
		if af.Package.Name == "musl" {
			branches[af.Package.Ecosystem] = true
		}
	}
	for _, b := range []string{"Alpine:v3.7", "Alpine:v3.8", "Alpine:v3.9", "Alpine:v3.10"} {
		if !branches[b] {
			t.Errorf("merged musl CVE-2019-14697 lacks %s (has %v)", b, branches)
		}
	}
}

func uniqueSorted(lines []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Strings(out)
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
	for _, l := range got {
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range want {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	return b.String()
}

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		entry      string
		ids, extra []string
		warnings   int
		err        bool
	}{
		{entry: "CVE-2019-14697", ids: []string{"CVE-2019-14697"}},
		{entry: "CVE-2019-5060 TALOS-2019-0844", ids: []string{"CVE-2019-5060"}, extra: []string{"TALOS-2019-0844"}},
		{entry: "CVE-2018-14468 (FrameRelay)", ids: []string{"CVE-2018-14468"}},
		{entry: "CVE-2018-10103 (SMB - partially fixed, but SMB printing disabled)", ids: []string{"CVE-2018-10103"}},
		{entry: "XSA-207", ids: []string{"XSA-207"}},
		{entry: "wnpa-sec-2017-18", ids: []string{"wnpa-sec-2017-18"}},
		{entry: "CVE_2019-2426", ids: []string{"CVE-2019-2426"}, warnings: 1},
		{entry: "CVE 2018-16859", ids: []string{"CVE-2018-16859"}, warnings: 1},
		{entry: "CVE-????-?????  XSA-295", ids: []string{"XSA-295"}},
		{entry: "CVE-2018-3620   XSA-273", ids: []string{"CVE-2018-3620"}, extra: []string{"XSA-273"}},
		{entry: "CVE-2017-5753 CVE-2017-5715 CVE-2017-5754 XSA-254 XPTI",
			ids: []string{"CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754"}, extra: []string{"XSA-254"}, warnings: 1},
		{entry: "CVE-2017-17434-1", ids: []string{"CVE-2017-17434"}, warnings: 1},
		{entry: "CVE-2017-8073.patch", ids: []string{"CVE-2017-8073"}, warnings: 1},
		{entry: "cve-2020-1234", ids: []string{"CVE-2020-1234"}, warnings: 1},
		{entry: "", err: true},
		{entry: "CVE-????-?????", err: true},
		{entry: "(only a comment)", err: true},
		{entry: "fixed", warnings: 1, err: true},
	} {
		ids, extra, warnings, err := parseEntry(tc.entry)
		if (err != nil) != tc.err || !reflect.DeepEqual(ids, tc.ids) || !reflect.DeepEqual(extra, tc.extra) || len(warnings) != tc.warnings {
			t.Errorf("parseEntry(%q) = %q, %q, %v, %v; want %q, %q, %d warnings, error %v",
				tc.entry, ids, extra, warnings, err, tc.ids, tc.extra, tc.warnings, tc.err)
		}
	}
}

const small = `{
  "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
  "archs": ["x86_64"], "reponame": "main", "urlprefix": "http://dl-cdn.alpinelinux.org/alpine",
  "distroversion": "v3.10",
  "packages": [
    { "pkg": { "name": "openssl", "secfixes": {
        "1.1.1d-r0": ["CVE-2019-1547", "CVE-2019-1563"],
        "1.1.1b-r1": ["CVE-2019-1543"],
        "0": ["CVE-2019-0000"] } } },
    { "pkg": { "name": "libressl", "secfixes": { "2.7.5-r0": ["CVE-2019-1563 OTHER-1"], "2.7.4-r0": ["CVE-2019-1563"] } } },
    { "pkg": { "name": "db", "secfixes": { "0": ["CVE-2016-0682", "CVE-2019-1563"] } } },
    { "pkg": { "name": "heimdal", "secfixes": { "7.4.0-r0": null, "7.5.0-r0": ["XSA-207"] } } },
    { "pkg": { "name": "", "secfixes": { "1-r0": ["CVE-2019-9999"] } } },
    { "pkg": { "name": "broken", "secfixes": { "1-r0": "CVE-2019-9998", "2-r0": [42], "bad version": ["CVE-2019-9997"] } } },
    { "pkg": "not an object" },
    { "pkg": { "name": "curl", "secfixes": { "7.50.1": ["CVE-2016-5419"] } } }
  ]
}`

func TestParse(t *testing.T) {
	advs, errs, err := Parse([]byte(small))
	if err != nil {
		t.Fatal(err)
	}
	type fix struct{ id, pkg, fixed string }
	var got []fix
	for _, a := range advs {
		for _, af := range a.Affected {
			for _, r := range af.Ranges {
				got = append(got, fix{a.ID, af.Package.Name, r.Events[1].Fixed})
			}
		}
	}
	// CVE-2019-1563 is fixed in openssl and twice in libressl, and is
	// "never affected" for db: one advisory, two packages, three ranges.
	// CVE-2016-0682 and CVE-2019-0000 are only under "0": no advisory.
	want := []fix{
		{"ALPINE-CVE-2016-5419", "curl", "7.50.1"},
		{"ALPINE-CVE-2019-1543", "openssl", "1.1.1b-r1"},
		{"ALPINE-CVE-2019-1547", "openssl", "1.1.1d-r0"},
		{"ALPINE-CVE-2019-1563", "libressl", "2.7.4-r0"},
		{"ALPINE-CVE-2019-1563", "libressl", "2.7.5-r0"},
		{"ALPINE-CVE-2019-1563", "openssl", "1.1.1d-r0"},
		{"ALPINE-XSA-207", "heimdal", "7.5.0-r0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for _, a := range advs {
		if a.ID == "ALPINE-CVE-2019-1563" {
			if len(a.Affected) != 2 || !reflect.DeepEqual(a.Upstream, []string{"CVE-2019-1563", "OTHER-1"}) {
				t.Errorf("merged advisory: %d affected, upstream %v", len(a.Affected), a.Upstream)
			}
			if a.Affected[0].Package.Ecosystem != "Alpine:v3.10" {
				t.Errorf("ecosystem %q", a.Affected[0].Package.Ecosystem)
			}
		}
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	joined := strings.Join(msgs, "\n")
	for _, want := range []string{
		`v3.10/main packages[4]: package name "" is not a name`,
		`v3.10/main broken 1-r0: secfixes value is a string`,
		`v3.10/main broken 2-r0: secfixes entry 42`,
		`v3.10/main broken bad version: not a version`,
		`v3.10/main packages[6]`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors lack %q:\n%s", want, joined)
		}
	}
	if len(errs) != 5 {
		t.Errorf("%d errors, want 5:\n%s", len(errs), joined)
	}
}

func TestParseFile(t *testing.T) {
	for _, tc := range []struct {
		name, data, err string
		n               int
	}{
		{"null packages", `{"distroversion":"v3.3","reponame":"community","packages":null}`, "", 0},
		{"no distroversion", `{"reponame":"main","packages":[]}`, "not a branch", 0},
		{"bad distroversion", `{"distroversion":"3.10 ","packages":[]}`, "not a branch", 0},
		{"not json", `{"distroversion":`, "alpine: ", 0},
		{"packages not a list", `{"distroversion":"v3.10","packages":{}}`, "alpine: ", 0},
	} {
		advs, _, err := Parse([]byte(tc.data))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) || len(advs) != tc.n {
			t.Errorf("%s: %d advisories, error %v; want %d, error containing %q", tc.name, len(advs), err, tc.n, tc.err)
		}
	}
}

func TestMerge(t *testing.T) {
	main, _, err := Parse([]byte(`{"distroversion":"v3.10","reponame":"main","packages":[{"pkg":{"name":"a","secfixes":{"1-r0":["CVE-2020-0001 XSA-1"]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	community, _, err := Parse([]byte(`{"distroversion":"v3.10","reponame":"community","packages":[{"pkg":{"name":"b","secfixes":{"2-r0":["CVE-2020-0001","CVE-2020-0002"]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	older, _, err := Parse([]byte(`{"distroversion":"v3.9","reponame":"main","packages":[{"pkg":{"name":"a","secfixes":{"0.9-r0":["CVE-2020-0001 TALOS-1"]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	in := append(append(append([]vuln.Advisory(nil), main...), community...), older...)
	before, _ := json.Marshal(in)
	out := Merge(in)
	if after, _ := json.Marshal(in); string(after) != string(before) {
		t.Error("Merge changed its input")
	}
	if len(out) != 2 || out[0].ID != "ALPINE-CVE-2020-0001" || out[1].ID != "ALPINE-CVE-2020-0002" {
		t.Fatalf("merged ids: %v", out)
	}
	var eco []string
	for _, af := range out[0].Affected {
		eco = append(eco, af.Package.Ecosystem+" "+af.Package.Name)
	}
	if got := strings.Join(eco, ", "); got != "Alpine:v3.10 a, Alpine:v3.10 b, Alpine:v3.9 a" {
		t.Errorf("merged affected: %s", got)
	}
	if !reflect.DeepEqual(out[0].Upstream, []string{"CVE-2020-0001", "XSA-1", "TALOS-1"}) || len(out[0].References) != 1 {
		t.Errorf("merged upstream %v, references %v", out[0].Upstream, out[0].References)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(small))
	f.Add([]byte(`{"distroversion":"v3.3","packages":null}`))
	f.Add([]byte(`{"distroversion":"edge","packages":[{"pkg":{"name":"x","secfixes":{"0":["CVE 2018-16859"],"1.0-r0":["CVE-????-?????  XSA-295 (x)"]}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		advs, _, err := Parse(data)
		if err != nil {
			if advs != nil {
				t.Fatal("advisories returned with an error")
			}
			return
		}
		for _, a := range advs {
			if !strings.HasPrefix(a.ID, "ALPINE-") || len(a.ID) == len("ALPINE-") || len(a.Affected) == 0 {
				t.Fatalf("advisory %+v", a)
			}
			for _, af := range a.Affected {
				if af.Package.Name == "" || !strings.HasPrefix(af.Package.Ecosystem, "Alpine:") || len(af.Ranges) == 0 {
					t.Fatalf("affected %+v", af)
				}
				for _, r := range af.Ranges {
					if len(r.Events) != 2 || r.Events[0].Introduced != "0" || r.Events[1].Fixed == "" || r.Events[1].Fixed == "0" {
						t.Fatalf("range %+v", r)
					}
				}
			}
		}
	})
}
