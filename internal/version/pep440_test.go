package version

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// packagingScript runs Python's packaging library (or the copy pip vendors,
// which is the same library) over a file: "valid" answers ok or bad for
// each line, "cmp" answers -1, 0 or 1 for each "a b" line.
const packagingScript = `import sys
try:
    from packaging.version import Version, InvalidVersion
except ImportError:
    from pip._vendor.packaging.version import Version, InvalidVersion
mode, path = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        if mode == "valid":
            try:
                Version(line)
                print("ok")
            except InvalidVersion:
                print("bad")
        else:
            a, b = line.split(" ")
            x, y = Version(a), Version(b)
            print(-1 if x < y else (1 if x > y else 0))
`

func packaging(t *testing.T) string {
	t.Helper()
	py := testenv.Tool(t, "python3")
	probe := "try:\n import packaging.version\nexcept ImportError:\n import pip._vendor.packaging.version"
	if err := exec.Command(py, "-c", probe).Run(); err != nil {
		testenv.Missing(t, "python3's packaging library, nor pip's copy of it (Debian: python3-packaging)")
	}
	return py
}

// TestPEP440AgainstPackaging checks that we accept exactly the versions
// packaging accepts, among the testdata cases and every version PyPI's OSV
// data mentions, and that we order the testdata pairs, every neighbouring
// pair of the sorted real versions and random pairs as packaging does.
func TestPEP440AgainstPackaging(t *testing.T) {
	py := packaging(t)
	ps, cf := casePairs(t, "pep440")
	corpus := osvVersions(t, "vulndb/osv/PyPI/all.zip")
	corpus = append(corpus, syntheticPEP440(4000)...)

	// Validity.
	candidates := append(append([]string(nil), corpus...), cf.invalid...)
	for _, p := range ps {
		candidates = append(candidates, p.a)
	}
	seen := map[string]bool{}
	var lines []string
	for _, v := range candidates {
		if !seen[v] && !strings.ContainsAny(v, "\n\r") {
			seen[v] = true
			lines = append(lines, v)
		}
	}
	file := filepath.Join(t.TempDir(), "versions")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", packagingScript, "valid", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	answers := strings.Fields(string(out))
	if len(answers) != len(lines) {
		t.Fatalf("%d answers for %d versions", len(answers), len(lines))
	}
	nbad := 0
	for i, v := range lines {
		ours := (PEP440{}).Valid(v) == nil
		if theirs := answers[i] == "ok"; ours != theirs {
			t.Errorf("Valid(%q): ours %v, packaging %v", v, ours, theirs)
		}
		if answers[i] != "ok" {
			nbad++
		}
	}
	t.Logf("%d distinct versions, %d of them invalid for both", len(lines), nbad)

	// Order.
	// (Versions padded with spaces, valid as they are, would not survive
	// the "a b" lines.)
	var unpadded []string
	for _, v := range corpus {
		if !strings.ContainsAny(v, " \t") {
			unpadded = append(unpadded, v)
		}
	}
	valid, _ := sortedValid(PEP440{}, unpadded)
	ps = append(ps, samplePairs(valid, -1, 5000)...)
	runBatches(t, ps, 1, func(file string) *exec.Cmd {
		return exec.Command(py, "-c", packagingScript, "cmp", file)
	})
	checkAgainst(t, "packaging", PEP440{}, ps)
}

// syntheticPEP440 builds versions from the pieces of PEP 440's grammar in
// every spelling and separator, sometimes out of order, so that the parser's
// backtracking meets what packaging's regular expression meets.
func syntheticPEP440(n int) []string {
	r := rand.New(rand.NewSource(2))
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	sep := func() string { return pick("", "", ".", "-", "_") }
	num := func() string { return pick("", "0", "1", "2", "10", "007") }
	parts := func() []string {
		return []string{
			sep() + pick("a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "A", "RC", "Pre") + sep() + num(),
			pick(sep()+pick("post", "rev", "r", "POST")+sep()+num(), "-"+pick("1", "2", "10")),
			sep() + pick("dev", "DEV") + sep() + num(),
			"+" + pick("ubuntu1", "1.2", "abc-1", "a_b.3", "007", "x", "", "a..b", "A-"),
		}
	}
	var vs []string
	for i := 0; i < n; i++ {
		v := pick("", "", "v", "V", "1!", "0!", " ") + pick("1", "1.0", "1.0.0", "0", "01.2", "2.10", "1.")
		ps := parts()
		if r.Intn(8) == 0 {
			r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		}
		for _, p := range ps {
			if r.Intn(2) == 0 {
				v += p
			}
		}
		vs = append(vs, v)
	}
	return vs
}
