package version

import "strings"

// RubyGems orders gem versions as Gem::Version does: a version is digits
// followed by ".segment"s and optionally "-pre.release" parts (a "-" reads as
// ".pre."); it splits into runs of digits and runs of letters; a run of
// letters makes the version a pre-release, sorting before a number at the
// same place; trailing zeros of the release part and of the pre-release part
// are ignored (1.0.a.0 = 1.a), and missing segments count as 0. Letters
// compare case-sensitively, as Ruby strings do.
//
// Gem::Version reads an empty string as "0"; here it is an error.
type RubyGems struct{}

var _ Comparer = RubyGems{}

// gemSegment is a run of digits (num) or of letters.
type gemSegment struct {
	text string
	num  bool
}

// Compare orders a and b; see the Comparer interface.
func (RubyGems) Compare(a, b string) (int, error) {
	return compareWith(a, b, parseGem, cmpGem)
}

// Valid reports why v is not a RubyGems version, or nil.
func (RubyGems) Valid(v string) error {
	_, err := parseGem(v)
	return err
}

// parseGem checks Gem::Version's pattern,
//
//	[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?
//
// and returns the canonical segments.
func parseGem(s string) ([]gemSegment, error) {
	const scheme = "rubygems"
	if err := checkLen(scheme, s); err != nil {
		return nil, err
	}
	t := strings.Trim(s, " \t\n\v\f\r")
	i := digitsEnd(t, 0)
	if i == 0 {
		return nil, invalid(scheme, s, "does not start with a digit")
	}
	for i < len(t) && t[i] == '.' {
		j := i + 1
		for j < len(t) && isAlnum(t[j]) {
			j++
		}
		if j == i+1 {
			return nil, invalid(scheme, s, "empty segment")
		}
		i = j
	}
	if i < len(t) && t[i] == '-' {
		for i < len(t) && (t[i] == '-' || t[i] == '.') {
			j := i + 1
			for j < len(t) && (isAlnum(t[j]) || t[j] == '-') {
				j++
			}
			if j == i+1 {
				return nil, invalid(scheme, s, "empty pre-release segment")
			}
			i = j
		}
	}
	if i != len(t) {
		return nil, invalid(scheme, s, "invalid character "+quoteByte(t[i]))
	}

	// Every "-" becomes ".pre.", so each one adds a "pre" segment.
	segs := make([]gemSegment, 0, 8)
	for j := 0; j < len(t); {
		c := t[j]
		switch {
		case c == '-':
			segs = append(segs, gemSegment{text: "pre"})
			j++
		case isDigit(c):
			e := digitsEnd(t, j)
			segs = append(segs, gemSegment{text: t[j:e], num: true})
			j = e
		case isAlpha(c):
			e := j
			for e < len(t) && isAlpha(t[e]) {
				e++
			}
			segs = append(segs, gemSegment{text: t[j:e]})
			j = e
		default:
			j++
		}
	}
	// Canonical segments: trailing zeros dropped from the numeric part
	// before the first string and from the part from it on.
	first := len(segs)
	for k, sg := range segs {
		if !sg.num {
			first = k
			break
		}
	}
	pre := trimGemZeros(segs[first:])
	rel := trimGemZeros(segs[:first])
	return append(rel, pre...), nil
}

func trimGemZeros(segs []gemSegment) []gemSegment {
	for len(segs) > 0 && segs[len(segs)-1].num && isZero(segs[len(segs)-1].text) {
		segs = segs[:len(segs)-1]
	}
	return segs
}

func cmpGem(a, b []gemSegment) int {
	zero := gemSegment{text: "0", num: true}
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := zero, zero
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		switch {
		case x.num && y.num:
			if c := cmpNum(x.text, y.text); c != 0 {
				return c
			}
		case x.num:
			return 1
		case y.num:
			return -1
		default:
			if c := strings.Compare(x.text, y.text); c != 0 {
				return c
			}
		}
	}
	return 0
}
