package version

import "strings"

// RPM orders RPM versions, [epoch:]version[-release], as rpm 4.15 and
// later do (rpmvercmp and rpmverCmp): a missing epoch is 0, "~" sorts
// before anything, "^" after the end of a version but before any further
// segment, and a missing release sorts before any release.
//
// rpm accepts any string; here the version and release may hold only the
// characters rpmbuild allows in them (letters, digits and "._+~^"), so that
// a mangled field is an error rather than an order.
type RPM struct{}

var _ Comparer = RPM{}

type rpmVersion struct {
	epoch, version, release string
	hasRelease              bool
}

// Compare orders a and b as rpm.vercmp does.
func (RPM) Compare(a, b string) (int, error) {
	return compareWith(a, b, parseRPM, func(x, y rpmVersion) int {
		if c := rpmvercmp(x.epoch, y.epoch); c != 0 {
			return c
		}
		if c := rpmvercmp(x.version, y.version); c != 0 {
			return c
		}
		switch {
		case x.hasRelease && y.hasRelease:
			return rpmvercmp(x.release, y.release)
		case x.hasRelease:
			return 1
		case y.hasRelease:
			return -1
		}
		return 0
	})
}

// Valid reports whether v is an RPM EVR.
func (RPM) Valid(v string) error {
	_, err := parseRPM(v)
	return err
}

// parseRPM splits an EVR as rpm's parseEVR does: the epoch is a run of
// leading digits ended by ':', the release follows the last '-'.
func parseRPM(s string) (rpmVersion, error) {
	const scheme = "rpm"
	if err := checkLen(scheme, s); err != nil {
		return rpmVersion{}, err
	}
	out := rpmVersion{epoch: "0", version: s}
	if i := digitsEnd(s, 0); i < len(s) && s[i] == ':' {
		if i == 0 {
			return rpmVersion{}, invalid(scheme, s, "empty epoch")
		}
		out.epoch, out.version = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(out.version, '-'); i >= 0 {
		out.version, out.release, out.hasRelease = out.version[:i], out.version[i+1:], true
		if out.release == "" {
			return rpmVersion{}, invalid(scheme, s, "empty release")
		}
	}
	if out.version == "" {
		return rpmVersion{}, invalid(scheme, s, "empty version")
	}
	for _, part := range [2]string{out.version, out.release} {
		for i := 0; i < len(part); i++ {
			if c := part[i]; !isAlnum(c) && c != '.' && c != '_' && c != '+' && c != '~' && c != '^' {
				return rpmVersion{}, invalid(scheme, s, "invalid character "+quoteByte(c))
			}
		}
	}
	return out, nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	const hex = "0123456789abcdef"
	return "0x" + string([]byte{hex[c>>4], hex[c&15]})
}

// rpmvercmp compares two version or release strings segment by segment.
// Segments are maximal runs of digits or of letters; anything else only
// separates them. Digits compare by value, letters by byte order, and a
// numeric segment is newer than an alphabetic one.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	at := func(s string, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		ca, cb := at(a, i), at(b, j)
		// '~' sorts before everything, even the end of the string.
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		// '^' sorts after the end of the string but before anything
		// else.
		if ca == '^' || cb == '^' {
			if i == len(a) {
				return -1
			}
			if j == len(b) {
				return 1
			}
			if ca != '^' {
				return 1
			}
			if cb != '^' {
				return -1
			}
			i++
			j++
			continue
		}
		if i == len(a) || j == len(b) {
			break
		}
		si, sj := i, j
		num := isDigit(a[i])
		if num {
			i = digitsEnd(a, i)
			j = digitsEnd(b, j)
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		if j == sj {
			// Segments of different kinds: the numeric one is newer.
			if num {
				return 1
			}
			return -1
		}
		var c int
		if num {
			c = cmpNum(a[si:i], b[sj:j])
		} else {
			c = strings.Compare(a[si:i], b[sj:j])
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}
