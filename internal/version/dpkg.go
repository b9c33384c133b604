package version

import "strings"

// Dpkg orders Debian package versions, [epoch:]upstream[-revision], as
// dpkg does (Debian Policy 5.6.12; dpkg's parseversion and verrevcmp).
//
// dpkg itself only warns about a version that does not start with a digit
// or holds a character outside the Policy's set, and orders it anyway; such
// a version is an error here, because it is never a real package version
// and usually a mis-parsed field.
type Dpkg struct{}

var _ Comparer = Dpkg{}

type dpkgVersion struct {
	epoch              int
	upstream, revision string
}

// Compare orders a and b by epoch, then upstream version, then revision.
func (Dpkg) Compare(a, b string) (int, error) {
	return compareWith(a, b, parseDpkg, func(x, y dpkgVersion) int {
		if x.epoch != y.epoch {
			return sign(x.epoch - y.epoch)
		}
		if c := verrevcmp(x.upstream, y.upstream); c != 0 {
			return c
		}
		return verrevcmp(x.revision, y.revision)
	})
}

// Valid reports whether v is a Debian version.
func (Dpkg) Valid(v string) error {
	_, err := parseDpkg(v)
	return err
}

// maxEpoch is dpkg's limit (INT_MAX).
const maxEpoch = 1<<31 - 1

func parseDpkg(s string) (dpkgVersion, error) {
	const scheme = "dpkg"
	if err := checkLen(scheme, s); err != nil {
		return dpkgVersion{}, err
	}
	// dpkg skips leading blanks and trailing white space, and refuses
	// white space inside.
	v := strings.TrimLeft(s, " \t")
	v = strings.TrimRight(v, " \t\n\r\v\f")
	if v == "" {
		return dpkgVersion{}, invalid(scheme, s, "version string is empty")
	}
	if strings.ContainsAny(v, " \t\n\r\v\f") {
		return dpkgVersion{}, invalid(scheme, s, "version string has embedded spaces")
	}
	var out dpkgVersion
	if e, rest, ok := strings.Cut(v, ":"); ok {
		if e == "" {
			return dpkgVersion{}, invalid(scheme, s, "epoch in version is empty")
		}
		if !allDigits(e) {
			return dpkgVersion{}, invalid(scheme, s, "epoch in version is not number")
		}
		n := 0
		for i := 0; i < len(e); i++ {
			n = n*10 + int(e[i]-'0')
			if n > maxEpoch {
				return dpkgVersion{}, invalid(scheme, s, "epoch in version is too big")
			}
		}
		if rest == "" {
			return dpkgVersion{}, invalid(scheme, s, "nothing after colon in version number")
		}
		out.epoch, v = n, rest
	}
	// The revision is whatever follows the last hyphen, so the upstream
	// version may hold hyphens only when there is a revision.
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		if i == len(v)-1 {
			return dpkgVersion{}, invalid(scheme, s, "revision number is empty")
		}
		v, out.revision = v[:i], v[i+1:]
	}
	if v == "" {
		return dpkgVersion{}, invalid(scheme, s, "version number is empty")
	}
	out.upstream = v
	if !isDigit(v[0]) {
		return dpkgVersion{}, invalid(scheme, s, "version number does not start with digit")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && c != '.' && c != '-' && c != '+' && c != '~' && c != ':' {
			return dpkgVersion{}, invalid(scheme, s, "invalid character in version number")
		}
	}
	for i := 0; i < len(out.revision); i++ {
		if c := out.revision[i]; !isAlnum(c) && c != '.' && c != '+' && c != '~' {
			return dpkgVersion{}, invalid(scheme, s, "invalid character in revision number")
		}
	}
	return out, nil
}

// dpkgOrder is the weight of a non-digit character: '~' before the end of
// the string, the end before letters, letters before everything else.
func dpkgOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	switch c := s[i]; {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

// verrevcmp compares two upstream versions or two revisions: alternately
// a run of non-digits, character by character with dpkgOrder, and a run of
// digits, by numeric value.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := dpkgOrder(a, i), dpkgOrder(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}
