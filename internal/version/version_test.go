package version

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// schemes maps each testdata file to the comparator it tests.
var schemes = map[string]Comparer{
	"dpkg":     Dpkg{},
	"rpm":      RPM{},
	"apk":      APK{},
	"semver":   SemVer{},
	"go":       Go{},
	"pep440":   PEP440{},
	"maven":    Maven{},
	"rubygems": RubyGems{},
	"nuget":    NuGet{},
	"composer": Composer{},
	"generic":  Generic{},
}

// caseFile is a parsed testdata file: chains of versions with the
// relation between neighbours, and versions that must be rejected.
type caseFile struct {
	chains  []chain
	invalid []string
	// cyclic are versions whose ecosystem's own order is not
	// transitive, left out of the total-order check.
	cyclic map[string]bool
}

type chain struct {
	line     int
	versions []string
	ops      []string // ops[i] relates versions[i] and versions[i+1]
}

// want returns the expected sign of Compare(versions[i], versions[j]) for
// i < j: 0 if every step is "==", else the direction of the steps.
func (c chain) want(i, j int) (int, error) {
	w := 0
	for _, op := range c.ops[i:j] {
		var d int
		switch op {
		case "<":
			d = -1
		case ">":
			d = 1
		}
		if d != 0 {
			if w != 0 && w != d {
				return 0, fmt.Errorf("line %d: chain mixes < and >", c.line)
			}
			w = d
		}
	}
	return w, nil
}

// readCases reads a file of lines "A < B", "A == B", "A > B", chains
// "A < B == C < D", and "! A" for a version that must be rejected (the
// rest of the line, spaces included), and "~ A B ..." for versions left out
// of the total-order check. "#" starts a comment.
func readCases(t testing.TB, path string) caseFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cf := caseFile{cyclic: map[string]bool{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "! ") {
			cf.invalid = append(cf.invalid, line[2:])
			continue
		}
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if strings.HasPrefix(line, "~ ") {
			for _, v := range strings.Fields(line[2:]) {
				cf.cyclic[v] = true
			}
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields)%2 == 0 {
			t.Fatalf("%s:%d: want A op B [op C ...]", path, n)
		}
		c := chain{line: n}
		for i, f := range fields {
			if i%2 == 0 {
				c.versions = append(c.versions, f)
				continue
			}
			if f != "<" && f != "==" && f != ">" {
				t.Fatalf("%s:%d: unknown operator %q", path, n, f)
			}
			c.ops = append(c.ops, f)
		}
		cf.chains = append(cf.chains, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cf
}

func TestCases(t *testing.T) {
	for name, cmp := range schemes {
		t.Run(name, func(t *testing.T) {
			cf := readCases(t, filepath.Join("testdata", name+".txt"))
			if len(cf.chains) == 0 || len(cf.invalid) == 0 {
				t.Fatal("no cases")
			}
			var all []string
			for _, c := range cf.chains {
				for i := range c.versions {
					for j := i + 1; j < len(c.versions); j++ {
						want, err := c.want(i, j)
						if err != nil {
							t.Fatal(err)
						}
						checkPair(t, cmp, c.versions[i], c.versions[j], want, c.line)
					}
				}
				for _, v := range c.versions {
					if !cf.cyclic[v] {
						all = append(all, v)
					}
				}
			}
			for _, v := range cf.invalid {
				err := cmp.Valid(v)
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("Valid(%q) = %v, want an invalid-version error", v, err)
				}
				if _, err := cmp.Compare(v, all[0]); !errors.Is(err, ErrInvalid) {
					t.Errorf("Compare(%q, %q) error = %v, want an invalid-version error", v, all[0], err)
				}
				if _, err := cmp.Compare(all[0], v); !errors.Is(err, ErrInvalid) {
					t.Errorf("Compare(%q, %q) error = %v, want an invalid-version error", all[0], v, err)
				}
			}
			checkOrder(t, cmp, all)
		})
	}
}

// checkPair checks Compare both ways round.
func checkPair(t *testing.T, cmp Comparer, a, b string, want, line int) {
	t.Helper()
	for _, v := range []string{a, b} {
		if err := cmp.Valid(v); err != nil {
			t.Errorf("line %d: Valid(%q) = %v", line, v, err)
			return
		}
	}
	got, err := cmp.Compare(a, b)
	if err != nil || got != want {
		t.Errorf("line %d: Compare(%q, %q) = %d, %v; want %d", line, a, b, got, err, want)
	}
	got, err = cmp.Compare(b, a)
	if err != nil || got != -want {
		t.Errorf("line %d: Compare(%q, %q) = %d, %v; want %d", line, b, a, got, err, -want)
	}
}

// checkOrder sorts versions with cmp and checks that the result is a total
// order: pairs of the sorted list compare in list order, and Compare is
// antisymmetric. A comparator that is not transitive fails here, whatever
// order the sort left. Long lists are checked on every neighbouring pair
// and a random sample of the others.
func checkOrder(t *testing.T, cmp Comparer, versions []string) {
	t.Helper()
	vs := append([]string(nil), versions...)
	for _, v := range vs {
		if c, err := cmp.Compare(v, v); err != nil || c != 0 {
			t.Errorf("Compare(%q, itself) = %d, %v", v, c, err)
		}
	}
	sort.SliceStable(vs, func(i, j int) bool {
		c, _ := cmp.Compare(vs[i], vs[j])
		return c < 0
	})
	bad := 0
	check := func(i, j int) {
		c1, err1 := cmp.Compare(vs[i], vs[j])
		c2, err2 := cmp.Compare(vs[j], vs[i])
		if err1 != nil || err2 != nil {
			t.Fatalf("Compare(%q, %q): %v %v", vs[i], vs[j], err1, err2)
		}
		if c1 > 0 || c1 != -c2 {
			t.Errorf("sorted list: Compare(%q, %q) = %d, reverse %d", vs[i], vs[j], c1, c2)
			if bad++; bad == 10 {
				t.FailNow()
			}
		}
	}
	if len(vs) <= 2000 {
		for i := range vs {
			for j := i + 1; j < len(vs); j++ {
				check(i, j)
			}
		}
		return
	}
	for i := 0; i+1 < len(vs); i++ {
		check(i, i+1)
	}
	r := rand.New(rand.NewSource(3))
	for k := 0; k < 200000; k++ {
		i, j := r.Intn(len(vs)), r.Intn(len(vs))
		if i > j {
			i, j = j, i
		}
		check(i, j)
	}
}

func TestFor(t *testing.T) {
	for _, tc := range []struct {
		ecosystem string
		want      Comparer
	}{
		{"Go", Go{}},
		{"npm", SemVer{}},
		{"crates.io", SemVer{}},
		{"PyPI", PEP440{}},
		{"Maven", Maven{}},
		{"RubyGems", RubyGems{}},
		{"NuGet", NuGet{}},
		{"Packagist", Composer{}},
		{"Debian", Dpkg{}},
		{"Debian:12", Dpkg{}},
		{"Ubuntu:22.04:LTS", Dpkg{}},
		{"Ubuntu:Pro:18.04:LTS", Dpkg{}},
		{"Alpine:v3.20", APK{}},
		{"Wolfi", APK{}},
		{"Chainguard", APK{}},
		{"AlmaLinux:8", RPM{}},
		{"Rocky Linux:9", RPM{}},
		{"Red Hat:enterprise_linux:9::baseos", RPM{}},
		{"openSUSE:Leap 15.5", RPM{}},
		{"SUSE:Linux Enterprise Server 15 SP5", RPM{}},
		{"Mageia:9", RPM{}},
	} {
		got, err := For(tc.ecosystem)
		if err != nil || got != tc.want {
			t.Errorf("For(%q) = %T, %v; want %T", tc.ecosystem, got, err, tc.want)
		}
	}
	for _, eco := range []string{"", "Hex", "go", "pypi", "Debian12", "GIT", "Linux", ":12"} {
		if c, err := For(eco); !errors.Is(err, ErrUnknownEcosystem) {
			t.Errorf("For(%q) = %T, %v; want ErrUnknownEcosystem", eco, c, err)
		}
	}
}

func TestInvalidError(t *testing.T) {
	long := strings.Repeat("1.", maxLen)
	for name, cmp := range schemes {
		for _, v := range []string{"", long} {
			err := cmp.Valid(v)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Valid(%.20q…) = %v, want ErrInvalid", name, v, err)
				continue
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "version: ") || len(msg) > 200 {
				t.Errorf("%s: error %q: want a short message prefixed with the package", name, msg)
			}
		}
	}
}
