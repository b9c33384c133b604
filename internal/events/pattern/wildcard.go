package pattern

import (
	"errors"
	"strings"
)

// wildcard is a compiled wildcard operand: literal segments with a "*"
// between each pair. A leading or trailing "*" shows as an empty first or
// last segment.
type wildcard struct {
	segs []string
}

// compileWildcard parses a wildcard operand. "*" matches any run of
// characters, "\*" a literal star and "\\" a literal backslash. Two stars
// in a row are rejected, as EventBridge rejects them: they mean no more
// than one star and only make matching slower.
func compileWildcard(s string) (wildcard, error) {
	var segs []string
	var cur strings.Builder
	lastStar := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return wildcard{}, errors.New(`a backslash must be followed by "*" or "\"`)
			}
			i++
			cur.WriteByte(s[i])
			lastStar = false
		case '*':
			if lastStar {
				return wildcard{}, errors.New(`consecutive "*" are not allowed`)
			}
			segs = append(segs, cur.String())
			cur.Reset()
			lastStar = true
		default:
			cur.WriteByte(c)
			lastStar = false
		}
	}
	segs = append(segs, cur.String())
	return wildcard{segs: segs}, nil
}

// match reports whether s matches. The first and last segments are anchored
// at the ends; the middle ones are found leftmost-first, which is enough
// with "*" as the only metacharacter: taking the earliest occurrence of a
// segment never rules out a match that a later occurrence would allow.
func (w *wildcard) match(s string) bool {
	if len(w.segs) == 1 {
		return s == w.segs[0]
	}
	first, last := w.segs[0], w.segs[len(w.segs)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, seg := range w.segs[1 : len(w.segs)-1] {
		i := strings.Index(mid, seg)
		if i < 0 {
			return false
		}
		mid = mid[i+len(seg):]
	}
	return true
}
