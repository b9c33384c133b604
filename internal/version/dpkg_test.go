package version

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// dpkgCorpus returns real Debian versions: the fixed versions of the
// security tracker's DSA and DLA lists, the versions of the test images'
// status files, and this machine's apt lists when it has them.
func dpkgCorpus(t *testing.T) []string {
	t.Helper()
	var vs []string
	// "	[bullseye] - xorg-server 2:1.20.11-1+deb11u6"
	fixed := regexp.MustCompile(`^\s+\[[a-z-]+\] - \S+ (\S+)`)
	for _, list := range []string{"vulndb/debian/DSA/list", "vulndb/debian/DLA/list"} {
		data, err := os.ReadFile(testenv.Shared(t, list))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if m := fixed.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[1], "<") {
				vs = append(vs, m[1])
			}
		}
	}
	if len(vs) < 5000 {
		t.Fatalf("only %d fixed versions in the DSA and DLA lists", len(vs))
	}
	for _, rel := range []string{"os/debian-bookworm/var/lib/dpkg/status", "os/debian-bullseye/var/lib/dpkg/status"} {
		data, err := os.ReadFile(testenv.Shared(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, controlVersions(data)...)
	}
	lists, _ := filepath.Glob("/var/lib/apt/lists/*_Packages.lz4")
	if len(lists) > 0 {
		lz4 := testenv.Tool(t, "lz4cat")
		for _, l := range lists {
			data, err := exec.Command(lz4, l).Output()
			if err != nil {
				t.Fatalf("lz4cat %s: %v", l, err)
			}
			vs = append(vs, controlVersions(data)...)
		}
	}
	return vs
}

// controlVersions returns the Version fields, and the versions in Source
// fields ("Source: name (version)"), of a dpkg status or Packages file.
func controlVersions(data []byte) []string {
	var vs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			vs = append(vs, v)
		} else if s, ok := strings.CutPrefix(line, "Source: "); ok {
			if _, v, ok := strings.Cut(s, " ("); ok {
				vs = append(vs, strings.TrimSuffix(v, ")"))
			}
		}
	}
	return vs
}

// dpkgScript answers each "a b" line of the file with <, = or >, from the
// real dpkg.
const dpkgScript = `while read a b; do
	if dpkg --compare-versions "$a" lt "$b"; then echo "<"
	elif dpkg --compare-versions "$a" eq "$b"; then echo "="
	else echo ">"; fi
done < "$1"`

// TestDpkgAgainstDpkg checks the testdata cases and a sample of real
// version pairs against dpkg --compare-versions. dpkg costs a process per
// comparison, so the sample is a few thousand pairs; TestDpkgAgainstPerl
// covers every neighbouring pair.
func TestDpkgAgainstDpkg(t *testing.T) {
	testenv.Tool(t, "dpkg")
	ps, cf := casePairs(t, "dpkg")
	valid, rejected := sortedValid(Dpkg{}, dpkgCorpus(t))
	t.Logf("%d distinct valid versions, %d rejected", len(valid), len(rejected))
	ps = append(ps, samplePairs(valid, 1500, 1500)...)
	runBatches(t, ps, 2, func(file string) *exec.Cmd {
		return exec.Command("sh", "-c", dpkgScript, "sh", file)
	})
	checkAgainst(t, "dpkg", Dpkg{}, ps)

	// What we reject, dpkg must call bad syntax (it only warns about
	// some of it, but it says so).
	for _, v := range append(cf.invalid, rejected...) {
		if strings.HasPrefix(v, "-") {
			continue // dpkg would read it as an option
		}
		out, _ := exec.Command("dpkg", "--compare-versions", v, "eq", "0").CombinedOutput()
		if !bytes.Contains(out, []byte("bad syntax")) {
			t.Errorf("we reject %q but dpkg does not complain: %s", v, out)
		}
	}
}

// perlScript compares each "a b" line with Dpkg::Version, the version
// code of dpkg's own Perl library (libdpkg-perl).
const perlScript = `use Dpkg::Version;
open(my $f, "<", $ARGV[0]) or die;
while (<$f>) { my ($a, $b) = split; print version_compare($a, $b), "\n"; }`

// TestDpkgAgainstPerl checks every neighbouring pair of the sorted real
// versions, and many random pairs, against Dpkg::Version in one process.
func TestDpkgAgainstPerl(t *testing.T) {
	perl := testenv.Tool(t, "perl")
	if err := exec.Command(perl, "-MDpkg::Version", "-e", "1").Run(); err != nil {
		testenv.Missing(t, "perl module Dpkg::Version (Debian: libdpkg-perl)")
	}
	valid, _ := sortedValid(Dpkg{}, dpkgCorpus(t))
	ps := samplePairs(valid, -1, 20000)
	runBatches(t, ps, 1, func(file string) *exec.Cmd {
		return exec.Command(perl, "-e", perlScript, file)
	})
	checkAgainst(t, "Dpkg::Version", Dpkg{}, ps)
}

func TestDpkgWhitespace(t *testing.T) {
	// dpkg skips leading blanks and trailing white space, and refuses
	// white space inside (parsehelp.c, parseversion).
	for _, v := range []string{" 1.0-1", "\t1.0-1", "1.0-1 ", "1.0-1\n", " 1.0-1\t "} {
		if c, err := (Dpkg{}).Compare(v, "1.0-1"); err != nil || c != 0 {
			t.Errorf("Compare(%q, 1.0-1) = %d, %v; want 0", v, c, err)
		}
	}
	for _, v := range []string{"1.0 -1", "1:1.0 1", "1.0\t1", " ", "\t\n"} {
		if err := (Dpkg{}).Valid(v); err == nil {
			t.Errorf("Valid(%q) = nil, want an error", v)
		}
	}
}
