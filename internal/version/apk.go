package version

import (
	"strconv"
	"strings"
)

// APK orders Alpine package versions as apk-tools does (src/version.c):
//
//	number{.number}[letter]{_suffix[number]}[~hash][-rN]
//
// Suffixes _alpha, _beta, _pre and _rc sort before the release; _cvs,
// _svn, _git, _hg and _p after it. A number after a dot that starts with
// '0' compares as a string with its counterpart (1.01 < 1.1), as in
// Gentoo. A version without -rN sorts before any -rN of the same version,
// which is what the Alpine secdb's occasional revision-less fixed
// versions need. A ~hash sorts after the same version without one, and,
// as apk-tools ranks it, after that version's -rN revisions too; two hashes
// compare as strings.
//
// Numbers compare by value whatever their length, where apk-tools would
// overflow a 64-bit integer past 19 digits.
//
// A version that apk's validator rejects is an error here, although
// apk-tools still orders it by its valid prefix.
type APK struct{}

var _ Comparer = APK{}

// The token kinds of apk-tools, in the order it ranks them when one
// version ends or changes kind where the other goes on.
const (
	apkInitialDigit = iota
	apkDigit
	apkLetter
	apkSuffix
	apkSuffixNo
	apkCommitHash
	apkRevisionNo
	apkEnd
	apkInvalid
)

// The suffixes, in order; apkNone is the release itself.
const (
	apkAlpha = iota + 1
	apkBeta
	apkPre
	apkRC
	apkNone
	apkCVS
	apkSVN
	apkGit
	apkHg
	apkP
)

var apkSuffixes = [...]string{apkAlpha: "alpha", apkBeta: "beta", apkPre: "pre", apkRC: "rc",
	apkCVS: "cvs", apkSVN: "svn", apkGit: "git", apkHg: "hg", apkP: "p"}

// apkToken is one token: its kind, its text and, for a suffix, its rank.
type apkToken struct {
	kind   int
	suffix int
	value  string
}

// apkScanner walks the tokens of a version.
type apkScanner struct {
	s   string
	pos int
	tok apkToken
}

func newAPKScanner(s string) apkScanner {
	sc := apkScanner{s: s}
	sc.tok.kind = apkInitialDigit
	sc.digits()
	return sc
}

// digits reads a run of digits as the value of the current token.
func (sc *apkScanner) digits() {
	end := digitsEnd(sc.s, sc.pos)
	sc.tok.value = sc.s[sc.pos:end]
	sc.pos = end
	if sc.tok.value == "" {
		sc.tok.kind = apkInvalid
	}
}

// next reads the following token; which kinds may follow which is the
// grammar.
func (sc *apkScanner) next() {
	if sc.pos == len(sc.s) {
		sc.tok.kind = apkEnd
		return
	}
	prev := sc.tok.kind
	switch c := sc.s[sc.pos]; {
	case isLower(c):
		if prev > apkDigit {
			break
		}
		sc.tok = apkToken{kind: apkLetter, value: sc.s[sc.pos : sc.pos+1]}
		sc.pos++
		return
	case c == '.' || isDigit(c):
		if c == '.' {
			if prev > apkDigit {
				break
			}
			sc.pos++
		}
		switch prev {
		case apkInitialDigit, apkDigit:
			sc.tok.kind = apkDigit
		case apkSuffix:
			sc.tok.kind = apkSuffixNo
		default:
			sc.tok.kind = apkInvalid
			return
		}
		sc.digits()
		return
	case c == '_':
		if prev > apkSuffixNo {
			break
		}
		start := sc.pos + 1
		end := start
		for end < len(sc.s) && isLower(sc.s[end]) {
			end++
		}
		word := sc.s[start:end]
		sc.pos = end
		for i, w := range apkSuffixes {
			if w != "" && w == word {
				sc.tok = apkToken{kind: apkSuffix, suffix: i, value: word}
				return
			}
		}
	case c == '~':
		if prev >= apkCommitHash {
			break
		}
		start := sc.pos + 1
		end := start
		for end < len(sc.s) && isHex(sc.s[end]) {
			end++
		}
		if end == start {
			break
		}
		sc.tok = apkToken{kind: apkCommitHash, value: sc.s[start:end]}
		sc.pos = end
		return
	case c == '-':
		if prev >= apkRevisionNo || sc.pos+1 >= len(sc.s) || sc.s[sc.pos+1] != 'r' {
			break
		}
		sc.pos += 2
		sc.tok.kind = apkRevisionNo
		sc.digits()
		return
	}
	sc.tok.kind = apkInvalid
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// Valid reports whether v is an apk version.
func (APK) Valid(v string) error {
	if err := checkLen("apk", v); err != nil {
		return err
	}
	sc := newAPKScanner(v)
	for sc.tok.kind < apkEnd {
		sc.next()
	}
	if sc.tok.kind == apkInvalid {
		return invalid("apk", v, "not a version at byte "+strconv.Itoa(sc.pos))
	}
	return nil
}

// Compare orders a and b as apk_version_compare does.
func (k APK) Compare(a, b string) (int, error) {
	if err := k.Valid(a); err != nil {
		return 0, err
	}
	if err := k.Valid(b); err != nil {
		return 0, err
	}
	sa, sb := newAPKScanner(a), newAPKScanner(b)
	for sa.tok.kind == sb.tok.kind && sa.tok.kind < apkEnd {
		if c := apkTokenCmp(&sa.tok, &sb.tok); c != 0 {
			return c, nil
		}
		sa.next()
		sb.next()
	}
	ta, tb := &sa.tok, &sb.tok
	if ta.kind == tb.kind {
		return 0, nil
	}
	// Where one version goes on, a pre-release suffix makes it older;
	// anything else makes it newer, ranked by the token kind.
	if ta.kind == apkSuffix && ta.suffix < apkNone {
		return -1, nil
	}
	if tb.kind == apkSuffix && tb.suffix < apkNone {
		return 1, nil
	}
	if ta.kind > tb.kind {
		return -1, nil
	}
	return 1, nil
}

// apkTokenCmp compares two tokens of the same kind.
func apkTokenCmp(a, b *apkToken) int {
	switch a.kind {
	case apkDigit:
		if a.value[0] == '0' || b.value[0] == '0' {
			// A leading zero makes the part a decimal fraction
			// of sorts: Gentoo compares it as a string.
			return strings.Compare(a.value, b.value)
		}
		return cmpNum(a.value, b.value)
	case apkInitialDigit, apkSuffixNo, apkRevisionNo:
		return cmpNum(a.value, b.value)
	case apkLetter:
		return sign(int(a.value[0]) - int(b.value[0]))
	case apkSuffix:
		return sign(a.suffix - b.suffix)
	}
	return strings.Compare(a.value, b.value)
}
