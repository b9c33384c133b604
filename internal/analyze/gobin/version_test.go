package gobin

import (
	"cmp"
	"go/version"
	"regexp"
	"strings"
	"testing"
)

func TestSemver(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"go1.26.8", "v1.26.8"},
		{"go1.21rc2", "v1.21.0-rc.2"},
		{"go1.19", "v1.19.0"},
		{"go1.22.1 X:boringcrypto", "v1.22.1"},
		{"go1.22.1 X:boringcrypto,nocoverageredesign", "v1.22.1"},
		{"go1.9beta2", "v1.9.0-beta.2"},
		{"go1", "v1.0.0"},
		{"go1.21.3-bigcorp", "v1.21.3"},
		{"go1.21.0", "v1.21.0"},
		{"go1.10.8", "v1.10.8"},
		{"go1.21", "v1.21.0"},
		{"go1.21rc", "v1.21.0-rc"},
		{"devel go1.27-abcdef", ""},
		{"1.21.0", ""},
		{"go1.21.0rc1", ""},
		{"go1.021", ""},
		{"go1.", ""},
		{"go1rc1", ""},
		{"go1.21RC1", ""},
		{"go1.21rc1x", ""},
		{"go", ""},
		{"", ""},
	} {
		got, ok := semver(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("semver(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

var semverRE = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([a-z]+)(?:\.(0|[1-9][0-9]*))?)?$`)

// compareSemver orders the restricted semantic versions semver produces,
// by the rules of semver.org: numbers numerically, a prerelease before
// its release, fewer prerelease fields first.
func compareSemver(a, b string) int {
	ma, mb := semverRE.FindStringSubmatch(a), semverRE.FindStringSubmatch(b)
	num := func(x, y string) int {
		if c := cmp.Compare(len(x), len(y)); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	}
	for i := 1; i <= 3; i++ {
		if c := num(ma[i], mb[i]); c != 0 {
			return c
		}
	}
	switch {
	case ma[4] == "" && mb[4] == "":
		return 0
	case ma[4] == "":
		return 1
	case mb[4] == "":
		return -1
	}
	if c := strings.Compare(ma[4], mb[4]); c != 0 {
		return c
	}
	switch {
	case ma[5] == mb[5]:
		return 0
	case ma[5] == "":
		return -1
	case mb[5] == "":
		return 1
	}
	return num(ma[5], mb[5])
}

// FuzzSemver checks semver against the standard library's go/version:
// it accepts exactly the valid Go versions, and orders them the same.
func FuzzSemver(f *testing.F) {
	refs := []string{"go1", "go1.9beta2", "go1.19.13", "go1.20rc1", "go1.21rc2", "go1.21.0", "go1.21.3", "go1.26.8", "go2.0.0"}
	for _, s := range refs {
		f.Add(s)
	}
	f.Add("go1.22.1 X:boringcrypto")
	f.Add("go1.21.3-bigcorp")
	f.Add("go1.21")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := semver(s)
		core, _, _ := strings.Cut(s, " ")
		if ok != version.IsValid(core) {
			t.Fatalf("semver(%q) ok = %v, go/version says valid = %v", s, ok, !ok)
		}
		if !ok {
			return
		}
		if !semverRE.MatchString(got) {
			t.Fatalf("semver(%q) = %q, not a semantic version", s, got)
		}
		// go/version places a language version ("go1.21") before its
		// release candidates; semver maps it to the release, which
		// build information never names anyway. Leave those out.
		if base, _, _ := strings.Cut(core, "-"); version.Lang(base) == base {
			return
		}
		for _, r := range refs {
			rv, _ := semver(r)
			if a, b := version.Compare(core, r), compareSemver(got, rv); a != b {
				t.Fatalf("%q vs %q: go/version says %d, %q vs %q says %d", s, r, a, got, rv, b)
			}
		}
	})
}
