package version

import (
	"errors"
	"path/filepath"
	"testing"
)

// fuzzComparer checks, for any two strings, that the comparator does not
// panic, that Compare fails exactly when Valid rejects one of them and then
// with ErrInvalid, that a valid version equals itself, and that Compare is
// antisymmetric. The testdata cases of the scheme are the seed corpus.
func fuzzComparer(f *testing.F, name string, cmp Comparer) {
	cf := readCases(f, filepath.Join("testdata", name+".txt"))
	var seeds []string
	for _, c := range cf.chains {
		seeds = append(seeds, c.versions...)
	}
	seeds = append(seeds, cf.invalid...)
	for i, s := range seeds {
		f.Add(s, seeds[(i*7+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		errA, errB := cmp.Valid(a), cmp.Valid(b)
		c, err := cmp.Compare(a, b)
		if (errA == nil && errB == nil) != (err == nil) {
			t.Fatalf("Valid: %v, %v; Compare(%q, %q): %v", errA, errB, a, b, err)
		}
		if errA != nil && !errors.Is(errA, ErrInvalid) {
			t.Fatalf("Valid(%q) = %v, not ErrInvalid", a, errA)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Compare(%q, %q) = %v, not ErrInvalid", a, b, err)
			}
			return
		}
		if c < -1 || c > 1 {
			t.Fatalf("Compare(%q, %q) = %d", a, b, c)
		}
		if r, err := cmp.Compare(b, a); err != nil || r != -c {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d, %v", a, b, c, b, a, r, err)
		}
		if s, err := cmp.Compare(a, a); err != nil || s != 0 {
			t.Fatalf("Compare(%q, itself) = %d, %v", a, s, err)
		}
	})
}

func FuzzDpkg(f *testing.F)     { fuzzComparer(f, "dpkg", Dpkg{}) }
func FuzzRPM(f *testing.F)      { fuzzComparer(f, "rpm", RPM{}) }
func FuzzAPK(f *testing.F)      { fuzzComparer(f, "apk", APK{}) }
func FuzzSemVer(f *testing.F)   { fuzzComparer(f, "semver", SemVer{}) }
func FuzzGo(f *testing.F)       { fuzzComparer(f, "go", Go{}) }
func FuzzPEP440(f *testing.F)   { fuzzComparer(f, "pep440", PEP440{}) }
func FuzzMaven(f *testing.F)    { fuzzComparer(f, "maven", Maven{}) }
func FuzzRubyGems(f *testing.F) { fuzzComparer(f, "rubygems", RubyGems{}) }
func FuzzNuGet(f *testing.F)    { fuzzComparer(f, "nuget", NuGet{}) }
func FuzzComposer(f *testing.F) { fuzzComparer(f, "composer", Composer{}) }
