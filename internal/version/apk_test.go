package version

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
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

// secdbOdd are fixed versions of the Alpine secdb snapshot, each read by
// hand, that apk-tools 3's grammar rejects and apk-tools 2 orders anyway:
// typos in aports' secfixes comments. apk-tools 2.14 calls the ones with a
// '-' that does not start -rN invalid (apk version -c), yet still orders
// them by its token rules, as Vigil must.
var secdbOdd = []string{
	"10.2.22.r0", "10.2.24.r0", "10.2.26.r0", "0.8.21.r2", // ".r0" meant "-r0"
	"4.10-1-r1", "57-1-r2", "1.11-20-r0", "2.7.16-33", // a '-' not starting -rN
	"4.8.0.-r1", "1.18.-r2", "1.7.5.-r1", "0.12.5.-r0", "1.0.4.-r0", // ".-r"
	"2.15.r-r1",  // a dot before a letter
	"6.6.2p1-r0", // a digit after the letter
}

// secdbFixed returns package name → the fixed versions of the secdb
// snapshot, and how many fixed versions there are in all.
func secdbFixed(t *testing.T) (map[string][]string, int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Shared(t, "vulndb/alpine-secdb"), "v3.*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no secdb files: %v", err)
	}
	sort.Strings(files)
	fixed := map[string][]string{}
	n := 0
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
				fixed[p.Pkg.Name] = append(fixed[p.Pkg.Name], v)
			}
		}
	}
	return fixed, n
}

// apkOrigins returns package name → origin (the aports package it was
// built from, which the secdb names) from a root's apk database.
func apkOrigins(t *testing.T, root string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(testenv.Shared(t, "os/"+root+"/lib/apk/db/installed"))
	if err != nil {
		t.Fatal(err)
	}
	origins := map[string]string{}
	var name string
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "P:"):
			name = line[2:]
		case strings.HasPrefix(line, "o:"):
			origins[name] = line[2:]
		}
	}
	return origins
}

// apkRealPairs returns, without duplicates and in a fixed order, the pairs
// the apk oracle is asked about. The real ones are those a scan compares:
// every fixed version of the secdb snapshot against the installed version
// of the package of that name or origin in each Alpine test root, and each
// package's fixed versions against their neighbours in Vigil's order, as
// when the highest fix is picked. The extra ones are every odd fixed
// version against every other version of its package, and neighbours of
// all versions in Vigil's order, where a wrong rule shows first.
func apkRealPairs(t *testing.T) (real, extra []pair) {
	t.Helper()
	fixed, _ := secdbFixed(t)
	seen := map[[2]string]bool{}
	add := func(to *[]pair, a, b string) {
		if a == b || seen[[2]string{a, b}] || seen[[2]string{b, a}] {
			return
		}
		seen[[2]string{a, b}] = true
		*to = append(*to, pair{a: a, b: b})
	}
	odd := map[string]bool{}
	for _, v := range secdbOdd {
		odd[v] = true
	}
	var names []string
	for name := range fixed {
		names = append(names, name)
		sort.Strings(fixed[name])
	}
	sort.Strings(names)
	var all []string
	versionsOf := map[string][]string{}
	for _, root := range alpineReleases {
		installed, origins := apkInstalled(t, root), apkOrigins(t, root)
		var pkgs []string
		for name := range installed {
			pkgs = append(pkgs, name)
		}
		sort.Strings(pkgs)
		for _, name := range pkgs {
			v := installed[name]
			all = append(all, v)
			for _, src := range []string{name, origins[name]} {
				versionsOf[src] = append(versionsOf[src], v)
				for _, f := range fixed[src] {
					add(&real, v, f)
				}
			}
		}
	}
	for _, name := range names {
		sorted, _ := sortedValid(APK{}, fixed[name])
		for i := 0; i+1 < len(sorted); i++ {
			add(&real, sorted[i], sorted[i+1])
		}
		all = append(all, fixed[name]...)
		versionsOf[name] = append(versionsOf[name], fixed[name]...)
	}
	for _, name := range names {
		for _, v := range versionsOf[name] {
			if !odd[v] {
				continue
			}
			for _, w := range versionsOf[name] {
				add(&extra, v, w)
			}
		}
	}
	sorted, _ := sortedValid(APK{}, all)
	for i := 0; i+1 < len(sorted); i++ {
		add(&extra, sorted[i], sorted[i+1])
	}
	return real, extra
}

// TestAPKRealVersions accepts every version of the Alpine test roots and
// of the secdb snapshot, and checks that each package's version never goes
// down from one Alpine release to the next.
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
	fixed, n := secdbFixed(t)
	noRevision := 0
	present := map[string]bool{}
	for name, vs := range fixed {
		for _, v := range vs {
			if err := (APK{}).Valid(v); err != nil {
				t.Errorf("secdb %s %s: %v", name, v, err)
			}
			if !strings.Contains(v, "-r") {
				noRevision++
			}
			present[v] = true
			all = append(all, v)
		}
	}
	for _, v := range secdbOdd {
		if !present[v] {
			t.Errorf("odd version %q is not in the secdb snapshot", v)
		}
	}
	if n < 4000 || noRevision == 0 {
		t.Fatalf("%d secdb versions, %d without -rN: not the expected snapshot", n, noRevision)
	}
	t.Logf("%d secdb fixed versions (%d without -rN)", n, noRevision)

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

var updateAPK = flag.Bool("update-apk", false, "rewrite "+apkRecorded+" from apk version -t run in the Alpine minirootfs")

// The apk the comparator is checked against: apk-tools 2.14 of Alpine
// 3.20. The apk of the older test roots (2.7.6, 2.10.4) orders some pairs
// differently; see APK.
const (
	apkRootfs   = "images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz"
	apkRecorded = "testdata/apk-oracle.txt"
)

// apkScript runs apk version -t on each "a b" line of its input, inside
// the chroot; apk takes one pair per run.
const apkScript = `while read -r a b; do /sbin/apk version -t "$a" "$b" || echo failed; done`

// apkRoot extracts the minirootfs into a temporary directory and returns it
// with apk's own statement of its version.
func apkRoot(t *testing.T) (dir, chroot, apkVersion string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root, to chroot into the Alpine minirootfs and run its apk")
	}
	tarball := testenv.Shared(t, apkRootfs)
	tar := testenv.Tool(t, "tar")
	chroot = testenv.Tool(t, "chroot")
	dir = t.TempDir()
	if out, err := exec.Command(tar, "-xzf", tarball, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("extract %s: %v: %s", tarball, err, out)
	}
	out, err := exec.Command(chroot, dir, "/sbin/apk", "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s /sbin/apk --version: %v: %s", dir, err, out)
	}
	return dir, chroot, strings.TrimSpace(string(out))
}

// TestAPKAgainstAPK checks the testdata cases and the real pairs (see
// apkRealPairs) against apk version -t of Alpine 3.20's minirootfs, run in
// a chroot. With -update-apk it records apk's answers in apkRecorded.
func TestAPKAgainstAPK(t *testing.T) {
	dir, chroot, apkVersion := apkRoot(t)
	real, extra := apkRealPairs(t)
	cases, _ := casePairs(t, "apk")
	ps := append(append(append([]pair(nil), real...), extra...), cases...)
	runBatches(t, ps, 2, func(file string) *exec.Cmd {
		in, err := os.ReadFile(file)
		if err != nil {
			t.Error(err)
		}
		cmd := exec.Command(chroot, dir, "/bin/sh", "-c", apkScript)
		cmd.Stdin = bytes.NewReader(in)
		return cmd
	})
	checkAgainst(t, apkVersion, APK{}, ps)
	t.Logf("%d real pairs, %d more", len(real), len(ps)-len(real))
	if !*updateAPK {
		return
	}
	var b strings.Builder
	sum, err := os.ReadFile(filepath.Join(filepath.Dir(testenv.Shared(t, apkRootfs)), "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var digest string
	for _, line := range strings.Split(string(sum), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == path.Base(apkRootfs) {
			digest = f[0]
		}
	}
	fmt.Fprintf(&b, `# apk version -t A B for each pair below, as answered by the apk of the
# official %s
# (sha256 %s; apk --version: %s),
# run in a chroot, one pair per run.
# The first %d pairs are the real ones: every secdb fixed version against
# the installed version of the package of that name or origin in the
# Alpine test roots, and each package's fixed versions against their
# neighbours. Then odd fixed versions against their package's other
# versions, neighbours of all in Vigil's order, and the pairs of apk.txt.
# Regenerate, as root, with
#   go test ./internal/version/ -run TestAPKAgainstAPK -update-apk
`, path.Base(apkRootfs), digest, apkVersion, len(real))
	ops := map[int]string{-1: "<", 0: "==", 1: ">"}
	for _, p := range ps {
		fmt.Fprintf(&b, "%s %s %s\n", p.a, ops[p.want], p.b)
	}
	if err := os.WriteFile(apkRecorded, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAPKRecorded checks the comparator against apk's recorded answers,
// where apk cannot run, and that the record still covers every real pair.
func TestAPKRecorded(t *testing.T) {
	cf := readCases(t, apkRecorded)
	recorded := map[[2]string]bool{}
	var ps []pair
	for _, c := range cf.chains {
		if len(c.versions) != 2 {
			t.Fatalf("%s:%d: want one pair a line", apkRecorded, c.line)
		}
		want, err := c.want(0, 1)
		if err != nil {
			t.Fatal(err)
		}
		a, b := c.versions[0], c.versions[1]
		recorded[[2]string{a, b}] = true
		ps = append(ps, pair{a: a, b: b, want: want}, pair{a: b, b: a, want: -want})
	}
	real, _ := apkRealPairs(t)
	for _, p := range real {
		if !recorded[[2]string{p.a, p.b}] {
			t.Errorf("%s has no answer for %s %s: regenerate it (see its header)", apkRecorded, p.a, p.b)
		}
	}
	checkAgainst(t, "the recorded apk", APK{}, ps)
}
