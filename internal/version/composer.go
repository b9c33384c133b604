package version

import "strings"

// Composer orders Packagist versions as Composer does: each version is
// first normalized by composer/semver's VersionParser::normalize (a leading
// "v" dropped, up to four numbers padded to four, date versions, stability
// suffixes spelled out: 1.0-b2 → 1.0.0.0-beta2, 2.x-dev →
// 2.9999999.9999999.9999999-dev, build metadata dropped), then the
// normalized forms are compared with PHP's version_compare, which orders
// dev < alpha < beta < RC < (release) < patch.
//
// Branch names (dev-master, feature-dev) have no order and are errors, as
// are the constraint-only forms "X as Y" and "X@stability".
type Composer struct{}

var _ Comparer = Composer{}

// Compare orders a and b; see the Comparer interface.
func (Composer) Compare(a, b string) (int, error) {
	na, err := normalizeComposer(a)
	if err != nil {
		return 0, err
	}
	nb, err := normalizeComposer(b)
	if err != nil {
		return 0, err
	}
	return phpVersionCompare(na, nb), nil
}

// Valid reports why v is not a Packagist version, or nil.
func (Composer) Valid(v string) error {
	_, err := normalizeComposer(v)
	return err
}

// composerStabilities are the words of VersionParser's modifier pattern,
// in the pattern's order, with what expandStability makes of them.
var composerStabilities = [...]struct{ word, norm string }{
	{"stable", "stable"}, {"beta", "beta"}, {"b", "beta"}, {"rc", "RC"},
	{"alpha", "alpha"}, {"a", "alpha"}, {"patch", "patch"}, {"pl", "patch"}, {"p", "patch"},
}

// normalizeComposer returns the normalized form of a version, as
// VersionParser::normalize does for everything but aliases, stability
// flags and branch names.
func normalizeComposer(s string) (string, error) {
	const scheme = "composer"
	if err := checkLen(scheme, s); err != nil {
		return "", err
	}
	v := strings.Trim(s, " \t\n\r\x00\x0b")
	if strings.ContainsAny(v, " \t\n\r\x00\x0b@,") {
		return "", invalid(scheme, s, "not a single version")
	}
	if v == "master" || v == "trunk" || v == "default" || hasPrefixFold(v, "dev-") {
		return "", invalid(scheme, s, "a branch has no order")
	}
	// Build metadata: everything after the first '+'.
	if i := strings.IndexByte(v, '+'); i > 0 && i < len(v)-1 {
		v = v[:i]
	}
	body := v
	if body != "" && (body[0] == 'v' || body[0] == 'V') {
		body = body[1:]
	}
	// Classical: up to four numbers, the first of at most five digits.
	if i := digitsEnd(body, 0); i > 0 && i <= 5 {
		nums, n := body[:i], 1
		for n < 4 && i+1 < len(body) && body[i] == '.' && isDigit(body[i+1]) {
			j := digitsEnd(body, i+1)
			nums, i, n = body[:j], j, n+1
		}
		if mod, ok := composerModifier(body[i:]); ok {
			return nums + strings.Repeat(".0", 4-n) + mod, nil
		}
	}
	// Date versions: yyyy, 1 to 6 groups of two digits and an optional
	// group of 1 to 3, each after an optional '.', ':' or '-'.
	for end := len(body); end > 0; end-- {
		if !isDigit(body[end-1]) || !composerDate(body[:end]) {
			continue
		}
		if mod, ok := composerModifier(body[end:]); ok {
			return strings.Map(func(r rune) rune {
				if r < '0' || r > '9' {
					return '.'
				}
				return r
			}, body[:end]) + mod, nil
		}
	}
	// Numeric branches: 1.x-dev, 2.1.*-dev, 3.0-dev.
	if base, ok := cutDevSuffix(v); ok {
		if norm, ok := composerBranch(base); ok {
			return norm, nil
		}
	}
	return "", invalid(scheme, s, "invalid version string")
}

// composerModifier matches the rest of a version against the pattern
//
//	[._-]?(?:(stability)((?:[.-]?\d+)*+)?)?([.-]?dev)?$
//
// and returns its normalized form: "-beta2", "-RC1-dev", "-dev" or "".
func composerModifier(m string) (string, bool) {
	seps := [2]string{m, m}
	nseps := 1
	if m != "" && strings.IndexByte("._-", m[0]) >= 0 {
		seps[0], nseps = m[1:], 2
	}
	for _, r := range seps[:nseps] {
		for _, st := range composerStabilities {
			if !hasPrefixFold(r, st.word) {
				continue
			}
			rest := r[len(st.word):]
			// The numbers: ([.-]?\d+)*, as many as there are.
			k := 0
			for {
				j := k
				if j < len(rest) && (rest[j] == '.' || rest[j] == '-') {
					j++
				}
				e := digitsEnd(rest, j)
				if e == j {
					break
				}
				k = e
			}
			dev, ok := composerDev(rest[k:])
			if !ok {
				continue
			}
			if r[:len(st.word)] == "stable" {
				// normalize returns the bare version for a
				// lower-case "stable", dropping what follows it
				// (but "STABLE" is kept as a suffix).
				return "", true
			}
			return "-" + st.norm + strings.TrimLeft(rest[:k], ".-") + dev, true
		}
		if dev, ok := composerDev(r); ok {
			return dev, true
		}
	}
	return "", false
}

// composerDev matches ([.-]?dev)?$.
func composerDev(r string) (string, bool) {
	switch {
	case r == "":
		return "", true
	case equalFold(r, "dev"), len(r) == 4 && (r[0] == '.' || r[0] == '-') && equalFold(r[1:], "dev"):
		return "-dev", true
	}
	return "", false
}

// composerDate reports whether d matches
// \d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3})?.
func composerDate(d string) bool {
	if len(d) < 6 || !allDigits(d[:4]) {
		return false
	}
	var groups func(rest string, n int) bool
	groups = func(rest string, n int) bool {
		if n >= 1 && composerDateTail(rest) {
			return true
		}
		if n == 6 {
			return false
		}
		if rest != "" && strings.IndexByte(".:-", rest[0]) >= 0 {
			if len(rest) >= 3 && isDigit(rest[1]) && isDigit(rest[2]) && groups(rest[3:], n+1) {
				return true
			}
		}
		return len(rest) >= 2 && isDigit(rest[0]) && isDigit(rest[1]) && groups(rest[2:], n+1)
	}
	return groups(d[4:], 0)
}

// composerDateTail matches (?:[.:-]?\d{1,3})?$.
func composerDateTail(r string) bool {
	if r != "" && strings.IndexByte(".:-", r[0]) >= 0 {
		r = r[1:]
		if r == "" {
			return false
		}
	}
	return len(r) <= 3 && (r == "" || allDigits(r))
}

// cutDevSuffix matches (.*?)[.-]?dev$ (any case) and returns the part
// before it.
func cutDevSuffix(v string) (string, bool) {
	if len(v) < 3 || !equalFold(v[len(v)-3:], "dev") {
		return "", false
	}
	base := v[:len(v)-3]
	if base != "" && (base[len(base)-1] == '.' || base[len(base)-1] == '-') {
		base = base[:len(base)-1]
	}
	return base, true
}

// composerBranch is normalizeBranch for numeric branches:
// v?N(.(N|x|X|*)){0,3} becomes four parts with x as 9999999, plus "-dev".
func composerBranch(name string) (string, bool) {
	name = strings.Trim(name, " \t\n\r\x00\x0b")
	if name != "" && (name[0] == 'v' || name[0] == 'V') {
		name = name[1:]
	}
	var b strings.Builder
	n := 0
	for rest := name; ; n++ {
		part, more, ok := strings.Cut(rest, ".")
		switch {
		case n >= 4:
			return "", false
		case allDigits(part):
		case n > 0 && (part == "x" || part == "X" || part == "*"):
			part = "9999999"
		default:
			return "", false
		}
		if n > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
		if !ok {
			break
		}
		rest = more
	}
	for ; n < 3; n++ {
		b.WriteString(".9999999")
	}
	b.WriteString("-dev")
	return b.String(), true
}

// phpVersionCompare is PHP's version_compare: both strings are put in
// canonical form ("-", "_" and "+" become ".", and a "." is put between
// digits and non-digits), then compared part by part, numbers by value,
// words by their special forms, a number against a word as "#".
func phpVersionCompare(a, b string) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	if a[0] != '#' {
		a = phpCanonical(a)
	}
	if b[0] != '#' {
		b = phpCanonical(b)
	}
	pa, pb := a, b
	moreA, moreB := true, true
	c := 0
	for pa != "" && pb != "" && moreA && moreB {
		var ea, eb string
		ea, pa, moreA = strings.Cut(pa, ".")
		eb, pb, moreB = strings.Cut(pb, ".")
		da, db := ea != "" && isDigit(ea[0]), eb != "" && isDigit(eb[0])
		switch {
		case da && db:
			c = cmpNum(ea[:digitsEnd(ea, 0)], eb[:digitsEnd(eb, 0)])
		case !da && !db:
			c = phpSpecialCmp(ea, eb)
		case da:
			c = phpSpecialCmp("#N#", eb)
		default:
			c = phpSpecialCmp(ea, "#N#")
		}
		if c != 0 {
			return c
		}
	}
	if moreA {
		if pa != "" && isDigit(pa[0]) {
			return 1
		}
		return phpVersionCompare(pa, "#N#")
	}
	if moreB {
		if pb != "" && isDigit(pb[0]) {
			return -1
		}
		return phpVersionCompare("#N#", pb)
	}
	return 0
}

// phpCanonical inserts the separators of version_compare's canonical form.
func phpCanonical(v string) string {
	var b strings.Builder
	b.Grow(2 * len(v))
	b.WriteByte(v[0])
	prev := v[0]
	last := v[0]
	put := func(c byte) { b.WriteByte(c); last = c }
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '-' || c == '_' || c == '+':
			if last != '.' {
				put('.')
			}
		case (prev != '.' && !isDigit(prev) && isDigit(c)) || (isDigit(prev) && c != '.' && !isDigit(c)):
			if last != '.' {
				put('.')
			}
			put(c)
		case !isAlnum(c):
			if last != '.' {
				put('.')
			}
		default:
			put(c)
		}
		prev = c
	}
	return b.String()
}

// phpSpecialCmp orders words by the first special form each starts with:
// dev < alpha = a < beta = b < RC = rc < # < pl = p; a word with none is
// lowest.
func phpSpecialCmp(a, b string) int {
	return sign(phpSpecial(a) - phpSpecial(b))
}

func phpSpecial(w string) int {
	for _, f := range [...]struct {
		name  string
		order int
	}{{"dev", 0}, {"alpha", 1}, {"a", 1}, {"beta", 2}, {"b", 2}, {"RC", 3}, {"rc", 3}, {"#", 4}, {"pl", 5}, {"p", 5}} {
		if strings.HasPrefix(w, f.name) {
			return f.order
		}
	}
	return -1
}
