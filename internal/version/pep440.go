package version

import "strings"

// PEP440 orders Python package versions (PyPI) as PEP 440 and the
// packaging library do:
//
//	[v][N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]
//
// with PEP 440's normalizations: any case, a leading "v", alpha/beta/c/
// pre/preview spellings of pre-releases, "-N", "rev" and "r" spellings of
// post-releases, implicit numbers (1.0a = 1.0a0) and "-", "_" or "." (or
// nothing) as separators. Order: epoch, release (trailing zeros ignored),
// then dev < pre < release < post, then local versions after their public
// version.
type PEP440 struct{}

var _ Comparer = PEP440{}

// pep440 holds the parts of a version as substrings of the input; numbers
// left empty are zero.
type pep440 struct {
	epoch   string
	release string // digits and dots
	pre     int    // 0 none, 1 a, 2 b, 3 rc
	preN    string
	post    bool
	postN   string
	dev     bool
	devN    string
	local   string // without '+'; separators any of "-_."
}

// Compare orders a and b; see the Comparer interface.
func (PEP440) Compare(a, b string) (int, error) {
	return compareWith(a, b, parsePEP440, cmpPEP440)
}

// Valid reports why v is not a PEP 440 version, or nil.
func (PEP440) Valid(v string) error {
	_, err := parsePEP440(v)
	return err
}

// The pre-release spellings in the order packaging's pattern tries them,
// which decides how "1.0preview1" splits.
var pep440Pre = [...]struct {
	word string
	rank int
}{{"a", 1}, {"b", 2}, {"c", 3}, {"rc", 3}, {"alpha", 1}, {"beta", 2}, {"pre", 3}, {"preview", 3}}

var pep440Post = [...]string{"post", "rev", "r"}

func parsePEP440(s string) (pep440, error) {
	const scheme = "pep440"
	if err := checkLen(scheme, s); err != nil {
		return pep440{}, err
	}
	t := strings.Trim(s, " \t\n\r\v\f")
	var p pep440
	i := 0
	if i < len(t) && (t[i] == 'v' || t[i] == 'V') {
		i++
	}
	if j := digitsEnd(t, i); j > i && j < len(t) && t[j] == '!' {
		p.epoch, i = t[i:j], j+1
	}
	start := i
	if i = digitsEnd(t, i); i == start {
		return pep440{}, invalid(scheme, s, "no release number")
	}
	for i+1 < len(t) && t[i] == '.' && isDigit(t[i+1]) {
		i = digitsEnd(t, i+1)
	}
	p.release = t[start:i]
	if !p.matchPre(t, i) {
		return pep440{}, invalid(scheme, s, "not a PEP 440 version")
	}
	return p, nil
}

// pep440Seps returns where the rest of t may start after an optional
// separator at i: past it first, as the pattern's greedy [-_.]? tries.
func pep440Seps(t string, i int) ([2]int, int) {
	if i < len(t) && (t[i] == '-' || t[i] == '_' || t[i] == '.') {
		return [2]int{i + 1, i}, 2
	}
	return [2]int{i}, 1
}

// The match methods follow packaging's regular expression part by part,
// trying the alternatives in its order and backtracking when the rest does
// not match, so that every accepted string splits as packaging splits it.

func (p *pep440) matchPre(t string, i int) bool {
	ks, nk := pep440Seps(t, i)
	for _, k := range ks[:nk] {
		for _, w := range pep440Pre {
			if !hasPrefixFold(t[k:], w.word) {
				continue
			}
			ms, nm := pep440Seps(t, k+len(w.word))
			for _, m := range ms[:nm] {
				e := digitsEnd(t, m)
				p.pre, p.preN = w.rank, t[m:e]
				if p.matchPost(t, e) {
					return true
				}
			}
		}
	}
	p.pre, p.preN = 0, ""
	return p.matchPost(t, i)
}

func (p *pep440) matchPost(t string, i int) bool {
	if i < len(t) && t[i] == '-' {
		if e := digitsEnd(t, i+1); e > i+1 {
			p.post, p.postN = true, t[i+1:e]
			if p.matchDev(t, e) {
				return true
			}
		}
	}
	ks, nk := pep440Seps(t, i)
	for _, k := range ks[:nk] {
		for _, w := range pep440Post {
			if !hasPrefixFold(t[k:], w) {
				continue
			}
			ms, nm := pep440Seps(t, k+len(w))
			for _, m := range ms[:nm] {
				e := digitsEnd(t, m)
				p.post, p.postN = true, t[m:e]
				if p.matchDev(t, e) {
					return true
				}
			}
		}
	}
	p.post, p.postN = false, ""
	return p.matchDev(t, i)
}

func (p *pep440) matchDev(t string, i int) bool {
	ks, nk := pep440Seps(t, i)
	for _, k := range ks[:nk] {
		if !hasPrefixFold(t[k:], "dev") {
			continue
		}
		ms, nm := pep440Seps(t, k+3)
		for _, m := range ms[:nm] {
			e := digitsEnd(t, m)
			p.dev, p.devN = true, t[m:e]
			if p.matchLocal(t, e) {
				return true
			}
		}
	}
	p.dev, p.devN = false, ""
	return p.matchLocal(t, i)
}

// matchLocal accepts the end of the string or a local version label:
// '+' and alphanumeric segments separated by single "-", "_" or ".".
func (p *pep440) matchLocal(t string, i int) bool {
	p.local = ""
	if i == len(t) {
		return true
	}
	if t[i] != '+' || i+1 == len(t) {
		return false
	}
	l := t[i+1:]
	prevSep := true
	for j := 0; j < len(l); j++ {
		c := l[j]
		switch {
		case isAlnum(c):
			prevSep = false
		case c == '-' || c == '_' || c == '.':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	if prevSep {
		return false
	}
	p.local = l
	return true
}

// cutSep splits s at its first byte in seps.
func cutSep(s, seps string) (head, rest string, more bool) {
	if i := strings.IndexAny(s, seps); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func cmpPEP440(a, b pep440) int {
	if c := cmpNum(a.epoch, b.epoch); c != 0 {
		return c
	}
	// Release segments, the shorter padded with zeros: the same as
	// packaging's comparison with trailing zeros removed.
	x, y := a.release, b.release
	for x != "" || y != "" {
		var sx, sy string
		sx, x, _ = cutSep(x, ".")
		sy, y, _ = cutSep(y, ".")
		if c := cmpNum(sx, sy); c != 0 {
			return c
		}
	}
	if c := sign(pep440PreKey(&a) - pep440PreKey(&b)); c != 0 {
		return c
	}
	if a.pre != 0 {
		if c := sign(a.pre - b.pre); c != 0 {
			return c
		}
		if c := cmpNum(a.preN, b.preN); c != 0 {
			return c
		}
	}
	switch {
	case a.post && b.post:
		if c := cmpNum(a.postN, b.postN); c != 0 {
			return c
		}
	case a.post:
		return 1
	case b.post:
		return -1
	}
	switch {
	case a.dev && b.dev:
		if c := cmpNum(a.devN, b.devN); c != 0 {
			return c
		}
	case a.dev:
		return -1
	case b.dev:
		return 1
	}
	return cmpLocal(a.local, b.local)
}

// pep440PreKey places a version without a pre-release: a bare dev release
// (1.0.dev1) before every pre-release of its release, any other after.
func pep440PreKey(v *pep440) int {
	switch {
	case v.pre != 0:
		return 0
	case v.dev && !v.post:
		return -1
	}
	return 1
}

// cmpLocal compares local version labels: none before any; segment by
// segment, numeric ones by value and after alphanumeric ones, which
// compare case-insensitively; a label before its extensions.
func cmpLocal(a, b string) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	for {
		sa, ra, moreA := cutSep(a, "-_.")
		sb, rb, moreB := cutSep(b, "-_.")
		na, nb := allDigits(sa), allDigits(sb)
		var c int
		switch {
		case na && nb:
			c = cmpNum(sa, sb)
		case na:
			c = 1
		case nb:
			c = -1
		default:
			c = cmpFold(sa, sb)
		}
		if c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}

// cmpFold compares a and b as their ASCII lower-case forms.
func cmpFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if ca, cb := lower(a[i]), lower(b[i]); ca != cb {
			return sign(int(ca) - int(cb))
		}
	}
	return sign(len(a) - len(b))
}
