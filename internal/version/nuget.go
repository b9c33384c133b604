package version

import "strings"

// NuGet orders NuGet package versions as NuGet.Versioning's default
// comparer does: one to four numeric parts (missing ones are 0, leading
// zeros allowed), then a release before its pre-releases' absence — a
// version with a "-label" sorts first —, labels compared part by part,
// numeric parts by value and before alphanumeric ones, which compare
// case-insensitively; build metadata after "+" is ignored.
type NuGet struct{}

var _ Comparer = NuGet{}

type nugetVersion struct {
	parts [4]string // digits; "" is 0
	pre   string    // dot-separated labels, without the '-'
}

// Compare orders a and b; see the Comparer interface.
func (NuGet) Compare(a, b string) (int, error) {
	return compareWith(a, b, parseNuGet, cmpNuGet)
}

// Valid reports why v is not a NuGet version, or nil.
func (NuGet) Valid(v string) error {
	_, err := parseNuGet(v)
	return err
}

func parseNuGet(s string) (nugetVersion, error) {
	const scheme = "nuget"
	if err := checkLen(scheme, s); err != nil {
		return nugetVersion{}, err
	}
	t := strings.TrimSpace(s)
	// The version ends at the first '-' or '+', the labels at the first
	// '+' after it.
	var out nugetVersion
	num, rest := t, ""
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		num, rest = t[:i], t[i:]
	}
	if num == "" {
		return nugetVersion{}, invalid(scheme, s, "no version number")
	}
	for k := 0; ; k++ {
		part, more, ok := strings.Cut(num, ".")
		if k == len(out.parts) {
			return nugetVersion{}, invalid(scheme, s, "more than four numeric parts")
		}
		if !allDigits(part) {
			return nugetVersion{}, invalid(scheme, s, "numeric part is not a number")
		}
		if cmpNum(part, "2147483647") > 0 {
			return nugetVersion{}, invalid(scheme, s, "numeric part is too big")
		}
		out.parts[k] = strings.TrimLeft(part, "0")
		if !ok {
			break
		}
		num = more
	}
	if strings.HasPrefix(rest, "-") {
		pre, _, _ := strings.Cut(rest[1:], "+")
		if !nugetLabels(pre, false) {
			return nugetVersion{}, invalid(scheme, s, "bad release label")
		}
		out.pre = pre
		rest = rest[1+len(pre):]
	}
	if strings.HasPrefix(rest, "+") && !nugetLabels(rest[1:], true) {
		return nugetVersion{}, invalid(scheme, s, "bad build metadata")
	}
	return out, nil
}

// nugetLabels reports whether s is a dot-separated list of non-empty
// [0-9A-Za-z-] parts; unless leading zeros are allowed (metadata), a
// numeric part may not have one.
func nugetLabels(s string, leadingZeros bool) bool {
	for {
		part, rest, more := strings.Cut(s, ".")
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !isAlnum(part[i]) && part[i] != '-' {
				return false
			}
		}
		if !leadingZeros && len(part) > 1 && part[0] == '0' && allDigits(part) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

func cmpNuGet(a, b nugetVersion) int {
	for k := range a.parts {
		if c := cmpNum(a.parts[k], b.parts[k]); c != 0 {
			return c
		}
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
		lx, rx, moreX := strings.Cut(x, ".")
		ly, ry, moreY := strings.Cut(y, ".")
		nx, vx := nugetInt(lx)
		ny, vy := nugetInt(ly)
		var c int
		switch {
		case nx && ny:
			c = sign(vx - vy)
		case nx:
			c = -1
		case ny:
			c = 1
		default:
			c = cmpFold(lx, ly)
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
		x, y = rx, ry
	}
}

// nugetInt parses a label as .NET's int.TryParse does for the characters a
// label may hold: an optional '-' and digits, within the range of an int.
func nugetInt(s string) (bool, int) {
	neg := strings.HasPrefix(s, "-")
	d := strings.TrimPrefix(s, "-")
	if !allDigits(d) {
		return false, 0
	}
	limit := "2147483647"
	if neg {
		limit = "2147483648"
	}
	if cmpNum(d, limit) > 0 {
		return false, 0
	}
	n := 0
	for i := 0; i < len(d); i++ {
		n = n*10 + int(d[i]-'0')
	}
	if neg {
		n = -n
	}
	return true, n
}
