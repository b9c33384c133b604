package version

import "strings"

// SemVer orders Semantic Versioning 2.0.0 versions (npm, crates.io):
// MAJOR.MINOR.PATCH by value, a pre-release before its release, pre-release
// identifiers numeric by value and below alphanumeric ones, which compare
// in ASCII order; build metadata is ignored. A leading "v" is accepted, as
// node-semver does.
type SemVer struct{}

var _ Comparer = SemVer{}

// Go orders Go module versions as golang.org/x/mod/semver does: SemVer with
// the shorthands vMAJOR and vMAJOR.MINOR. The "v" is optional, because OSV's
// Go data leaves it out. Pseudo-versions (v0.0.0-20200116001909-b77594299b42)
// are pre-releases and need no special case; "+incompatible" is build
// metadata and so ignored.
type Go struct{}

var _ Comparer = Go{}

type semver struct {
	major, minor, patch string
	pre                 string // without the '-'
}

// Compare orders a and b; see the Comparer interface.
func (SemVer) Compare(a, b string) (int, error) {
	return compareWith(a, b, func(s string) (semver, error) { return parseSemver("semver", s, false) }, cmpSemver)
}

// Valid reports why v is not a SemVer version, or nil.
func (SemVer) Valid(v string) error {
	_, err := parseSemver("semver", v, false)
	return err
}

// Compare orders a and b; see the Comparer interface.
func (Go) Compare(a, b string) (int, error) {
	return compareWith(a, b, func(s string) (semver, error) { return parseSemver("go", s, true) }, cmpSemver)
}

// Valid reports why v is not a Go module version, or nil.
func (Go) Valid(v string) error {
	_, err := parseSemver("go", v, true)
	return err
}

// parseSemver parses a version; short allows Go's vMAJOR and vMAJOR.MINOR
// (without pre-release or build).
func parseSemver(scheme, s string, short bool) (semver, error) {
	if err := checkLen(scheme, s); err != nil {
		return semver{}, err
	}
	v := strings.TrimPrefix(s, "v")
	var out semver
	var ok bool
	if out.major, v, ok = semverNum(v); !ok {
		return semver{}, invalid(scheme, s, "bad major version")
	}
	if v == "" && short {
		out.minor, out.patch = "0", "0"
		return out, nil
	}
	if v == "" || v[0] != '.' {
		return semver{}, invalid(scheme, s, "no minor version")
	}
	if out.minor, v, ok = semverNum(v[1:]); !ok {
		return semver{}, invalid(scheme, s, "bad minor version")
	}
	if v == "" && short {
		out.patch = "0"
		return out, nil
	}
	if v == "" || v[0] != '.' {
		return semver{}, invalid(scheme, s, "no patch version")
	}
	if out.patch, v, ok = semverNum(v[1:]); !ok {
		return semver{}, invalid(scheme, s, "bad patch version")
	}
	if strings.HasPrefix(v, "-") {
		end := strings.IndexByte(v, '+')
		if end < 0 {
			end = len(v)
		}
		if out.pre = v[1:end]; !semverIdents(out.pre, true) {
			return semver{}, invalid(scheme, s, "bad pre-release")
		}
		v = v[end:]
	}
	if strings.HasPrefix(v, "+") {
		if !semverIdents(v[1:], false) {
			return semver{}, invalid(scheme, s, "bad build metadata")
		}
		v = ""
	}
	if v != "" {
		return semver{}, invalid(scheme, s, "trailing characters")
	}
	return out, nil
}

// semverNum reads a numeric identifier: "0" or digits without a leading
// zero.
func semverNum(v string) (num, rest string, ok bool) {
	i := digitsEnd(v, 0)
	if i == 0 || (i > 1 && v[0] == '0') {
		return "", v, false
	}
	return v[:i], v[i:], true
}

// semverIdents reports whether s is a dot-separated list of non-empty
// [0-9A-Za-z-] identifiers; for a pre-release, numeric ones must not have
// leading zeros.
func semverIdents(s string, pre bool) bool {
	for {
		id, rest, more := strings.Cut(s, ".")
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			if !isAlnum(id[i]) && id[i] != '-' {
				return false
			}
		}
		if pre && len(id) > 1 && id[0] == '0' && allDigits(id) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

func cmpSemver(a, b semver) int {
	if c := cmpNum(a.major, b.major); c != 0 {
		return c
	}
	if c := cmpNum(a.minor, b.minor); c != 0 {
		return c
	}
	if c := cmpNum(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	x, y := a.pre, b.pre
	for {
		ix, restX, moreX := strings.Cut(x, ".")
		iy, restY, moreY := strings.Cut(y, ".")
		nx, ny := allDigits(ix), allDigits(iy)
		var c int
		switch {
		case nx && ny:
			c = cmpNum(ix, iy)
		case nx:
			c = -1
		case ny:
			c = 1
		default:
			c = strings.Compare(ix, iy)
		}
		if c != 0 {
			return c
		}
		switch {
		case !moreX && !moreY:
			return 0
		case !moreX:
			return -1
		case !moreY:
			return 1
		}
		x, y = restX, restY
	}
}
