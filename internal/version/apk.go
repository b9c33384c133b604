package version

import (
	"strconv"
)

// APK orders Alpine package versions as apk version -t of apk-tools 2.14
// does (Alpine 3.20; 2.12.12 and later 2.x order alike). The grammar is
// Gentoo's,
//
//	number{.number}[letter]{_suffix[number]}[-rN]
//
// Suffixes _alpha, _beta, _pre and _rc sort before the release; _cvs,
// _svn, _git, _hg and _p after it. A number after a dot that starts with
// '0' counts its leading zeros, all but the last, as a negative amount
// before the rest of it (1.001 < 1.01 < 1.1). A version without -rN sorts
// before any -rN of the same version, which is what the Alpine secdb's
// occasional revision-less fixed versions need.
//
// apk-tools orders every string, including those its own validator calls
// invalid (apk version -c): parsing stops at the first token that breaks
// the grammar, such as the '-' of "57-1-r2", the '~' of a commit hash, an
// unknown suffix, or a number of 18 or more digits. Versions that agree
// up to there are equal when both break at the same point; otherwise the
// one that broke sorts after the other, unless the break is an unknown
// suffix, which sorts before. A dot before a letter, as in "10.2.24.r0",
// is read as an empty number, and a run of -rN as successive revisions.
// The secdb holds such typos, and Vigil must order them as apk would when
// it upgrades, so APK rejects only what cannot be a version string at
// all: an empty one, one over the length bound, or one with a byte that
// is not printable ASCII.
//
// apk-tools before 2.12.12 (Alpine 3.6's 2.7.6, 3.10's 2.10.4) differ in
// two ways: they drop every leading zero of a dotted number, so that a
// version ending in .0 sorts before the same version going on with a
// pre-release suffix (1.0 < 1.0_rc1) and "1.0." after "1.0.0"; and their
// numbers are 32-bit, so long ones wrap instead of being invalid.
type APK struct{}

var _ Comparer = APK{}

// The token kinds of apk-tools 2, in the order that ranks a version
// going on past the point where the other one changes kind: the version
// whose next token has the lower kind is newer, an invalid token being
// the lowest of all.
const (
	apkInvalid    = iota - 1
	apkDotNumber  // a number after a dot, where leading zeros count
	apkNumber     // any other number
	apkLetter     // the letter after the numbers
	apkSuffix     // _alpha … _p
	apkSuffixNo   // the number after a suffix
	apkRevisionNo // the N of -rN
	apkEnd        // nothing left
)

// The suffixes with their values: the pre-release ones below zero, so that
// a version going on with one is older.
var apkSuffixes = [...]struct {
	word  string
	value int64
}{
	{"alpha", -4}, {"beta", -3}, {"pre", -2}, {"rc", -1},
	{"cvs", 0}, {"svn", 1}, {"git", 2}, {"hg", 3}, {"p", 4},
}

// apkMaxDigits is the length from which apk-tools 2.14 takes a number for
// an invalid token rather than risk overflowing its 64-bit value.
const apkMaxDigits = 18

// apkLexer reads a version token by token: kind is the kind of the token
// at the start of rest.
type apkLexer struct {
	kind int
	rest string
}

func newAPKLexer(s string) apkLexer {
	// The first number is never a dot number: 01.0 == 1.0.
	return apkLexer{kind: apkNumber, rest: s}
}

// take returns the value of the current token and moves to the next one.
// An invalid token has the value -1 and leaves the lexer invalid.
func (l *apkLexer) take() int64 {
	if l.rest == "" {
		l.kind = apkEnd
		return 0
	}
	var v int64
	n := 0 // bytes of rest the token spans
	afterZeros := false
	switch l.kind {
	case apkDotNumber:
		if l.rest[0] == '0' {
			// All but the last of the leading zeros: the last one
			// starts the number that follows.
			for n+1 < len(l.rest) && l.rest[n+1] == '0' {
				n++
			}
			v = -int64(n)
			afterZeros = true
			break
		}
		fallthrough
	case apkNumber, apkSuffixNo, apkRevisionNo:
		n = digitsEnd(l.rest, 0)
		if n >= apkMaxDigits {
			l.kind = apkInvalid
			return -1
		}
		for _, c := range l.rest[:n] {
			v = v*10 + int64(c-'0')
		}
	case apkLetter:
		v, n = int64(l.rest[0]), 1
	case apkSuffix:
		found := false
		for _, s := range apkSuffixes {
			// The first word the suffix starts with: "_pre1" and
			// "_patch" alike start with a known word, and what
			// follows it decides whether the version goes on.
			if len(s.word) <= len(l.rest) && l.rest[:len(s.word)] == s.word {
				v, n, found = s.value, len(s.word), true
				break
			}
		}
		if !found {
			l.kind = apkInvalid
			return -1
		}
	default:
		l.kind = apkInvalid
		return -1
	}
	prev := l.kind
	l.rest = l.rest[n:]
	switch {
	case l.rest == "":
		l.kind = apkEnd
	case afterZeros:
		l.kind = apkNumber
	default:
		l.kind = l.following(prev)
	}
	return v
}

// following reads the separator, if any, that starts rest after a token of
// kind prev, and returns the kind of the next token.
func (l *apkLexer) following(prev int) int {
	c := l.rest[0]
	if c == 0 {
		// apk-tools gets C strings: a NUL ends the version.
		return apkEnd
	}
	next := apkInvalid
	switch {
	case (prev == apkDotNumber || prev == apkNumber) && isLower(c):
		next = apkLetter
	case prev == apkLetter && isDigit(c):
		next = apkNumber
	case prev == apkSuffix && isDigit(c):
		next = apkSuffixNo
	default:
		skip := 1
		switch {
		case c == '.':
			next = apkDotNumber
		case c == '_':
			next = apkSuffix
		case c == '-' && len(l.rest) > 1 && l.rest[1] == 'r':
			next, skip = apkRevisionNo, 2
		}
		l.rest = l.rest[skip:]
	}
	// A token may not go back to an earlier kind, but for a dotted
	// number after a number, another suffix after a suffix's number and
	// a number after the letter.
	if next < prev && next != apkInvalid &&
		!(next == apkDotNumber && prev == apkNumber) &&
		!(next == apkSuffix && prev == apkSuffixNo) &&
		!(next == apkNumber && prev == apkLetter) {
		next = apkInvalid
	}
	return next
}

// Valid reports whether v can be ordered: apk-tools orders any string,
// but an empty one, a very long one or one with bytes no version has is
// not a version.
func (APK) Valid(v string) error {
	if err := checkLen("apk", v); err != nil {
		return err
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' {
			return invalid("apk", v, "byte "+strconv.Itoa(i)+" is not printable ASCII")
		}
	}
	return nil
}

// Compare orders a and b as apk_version_compare of apk-tools 2.14 does.
func (k APK) Compare(a, b string) (int, error) {
	if err := k.Valid(a); err != nil {
		return 0, err
	}
	if err := k.Valid(b); err != nil {
		return 0, err
	}
	la, lb := newAPKLexer(a), newAPKLexer(b)
	var va, vb int64
	for la.kind == lb.kind && la.kind != apkEnd && la.kind != apkInvalid && va == vb {
		va, vb = la.take(), lb.take()
	}
	switch {
	case va < vb:
		return -1, nil
	case va > vb:
		return 1, nil
	case la.kind == lb.kind:
		// Both ended, or both broke the grammar at the same point.
		return 0, nil
	}
	// One goes on where the other ends or changes kind. A pre-release
	// suffix, or an unknown one, makes it older; otherwise the lower
	// kind of the next token is the newer version.
	if pa := la; pa.kind == apkSuffix && pa.take() < 0 {
		return -1, nil
	}
	if pb := lb; pb.kind == apkSuffix && pb.take() < 0 {
		return 1, nil
	}
	if la.kind > lb.kind {
		return -1, nil
	}
	return 1, nil
}
