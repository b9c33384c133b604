package version

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// alpineReleases are the Alpine roots of the shared test data, oldest
// first.
var alpineReleases = []string{"alpine-3.6.5", "alpine-3.7.3", "alpine-3.8.5", "alpine-3.10.3", "alpine-3.20.3"}

// apkInstalled returns package name → version from a root's apk database.
func apkInstalled(t *testing.T, root string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(testenv.Shared(t, "os/"+root+"/lib/apk/db/installed"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]string{}
	var name string
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "P:"):
			name = line[2:]
		case strings.HasPrefix(line, "V:"):
			pkgs[name] = line[2:]
		}
	}
	if len(pkgs) == 0 {
		t.Fatalf("%s: no packages", root)
	}
	return pkgs
}

// secdbMalformed are the fixed versions of the Alpine secdb snapshot that
// apk-tools' own validator rejects, each read by hand: typos in aports'
// secfixes comments. apk-tools would still order them by their valid
// prefix; here they are errors, so the matcher can say it cannot compare.
var secdbMalformed = map[string]string{
	"10.2.22.r0": "a dot must be followed by digits (meant -r0)",
	"10.2.24.r0": "a dot must be followed by digits",
	"10.2.26.r0": "a dot must be followed by digits",
	"0.8.21.r2":  "a dot must be followed by digits",
	"4.10-1-r1":  "'-' must start -rN",
	"57-1-r2":    "'-' must start -rN",
	"1.11-20-r0": "'-' must start -rN",
	"2.7.16-33":  "'-' must start -rN",
	"4.8.0.-r1":  "a dot must be followed by digits",
	"1.18.-r2":   "a dot must be followed by digits",
	"1.7.5.-r1":  "a dot must be followed by digits",
	"0.12.5.-r0": "a dot must be followed by digits",
	"1.0.4.-r0":  "a dot must be followed by digits",
	"2.15.r-r1":  "a dot must be followed by digits",
	"6.6.2p1-r0": "a digit cannot follow the letter",
}

// TestAPKRealVersions parses every version of the Alpine test roots and of
// the secdb snapshot, and checks that they sort into one order in which
// each package's version never goes down from one Alpine release to the
// next.
func TestAPKRealVersions(t *testing.T) {
	var all []string
	installed := make([]map[string]string, len(alpineReleases))
	for i, root := range alpineReleases {
		installed[i] = apkInstalled(t, root)
		for name, v := range installed[i] {
			if err := (APK{}).Valid(v); err != nil {
				t.Errorf("%s: %s: %v", root, name, err)
			}
			all = append(all, v)
		}
	}

	files, err := filepath.Glob(filepath.Join(testenv.Shared(t, "vulndb/alpine-secdb"), "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no secdb files: %v", err)
	}
	n, noRevision := 0, 0
	rejected := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var db struct {
			Packages []struct {
				Pkg struct {
					Name     string
					Secfixes map[string][]string
				}
			}
		}
		if err := json.Unmarshal(data, &db); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range db.Packages {
			for v := range p.Pkg.Secfixes {
				n++
				if err := (APK{}).Valid(v); err != nil {
					rejected[v] = true
					if _, known := secdbMalformed[v]; !known {
						t.Errorf("%s: %s %s: %v", filepath.Base(f), p.Pkg.Name, v, err)
					}
					continue
				}
				if !strings.Contains(v, "-r") {
					noRevision++
				}
				all = append(all, v)
			}
		}
	}
	for v := range secdbMalformed {
		if !rejected[v] {
			t.Errorf("%q is listed as malformed but was accepted, or is not in the data", v)
		}
	}
	if n < 4000 || noRevision == 0 {
		t.Fatalf("%d secdb versions, %d without -rN: not the expected snapshot", n, noRevision)
	}
	t.Logf("%d secdb fixed versions (%d without -rN), %d malformed", n, noRevision, len(rejected))

	valid, _ := sortedValid(APK{}, all)
	checkOrder(t, APK{}, valid)

	// Alpine moves packages forward: a package in two releases is not
	// older in the newer one.
	for i := 1; i < len(alpineReleases); i++ {
		var names []string
		for name := range installed[i] {
			names = append(names, name)
		}
		sort.Strings(names)
		compared := 0
		for _, name := range names {
			old, ok := installed[i-1][name]
			if !ok {
				continue
			}
			compared++
			c, err := (APK{}).Compare(old, installed[i][name])
			if err != nil || c > 0 {
				t.Errorf("%s %s (%s) > %s (%s): %d %v", name, old, alpineReleases[i-1], installed[i][name], alpineReleases[i], c, err)
			}
		}
		if compared == 0 {
			t.Errorf("%s and %s share no package", alpineReleases[i-1], alpineReleases[i])
		}
	}
}
