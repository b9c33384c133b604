// Package version orders package versions by the rules of each ecosystem:
// dpkg (Debian, Ubuntu), rpm (AlmaLinux, Rocky, Red Hat, SUSE, Mageia), apk
// (Alpine, Wolfi), SemVer 2.0 (npm, crates.io), Go modules, PEP 440 (PyPI),
// Maven, RubyGems, NuGet and Composer (Packagist).
//
// A version that an ecosystem's rules cannot parse is an error wrapping
// ErrInvalid, never a guessed order: the caller must be able to tell
// "cannot compare" from "not affected". Every comparator is a stateless
// value, safe for concurrent use.
//
// The package is a leaf: it imports only the standard library.
package version

import (
	"errors"
	"fmt"
	"strings"
)

// Comparer orders the versions of one ecosystem.
type Comparer interface {
	// Compare returns -1, 0 or +1 as a sorts before, equal to or after b,
	// or an error wrapping ErrInvalid if either cannot be parsed.
	Compare(a, b string) (int, error)
	// Valid reports why v is not a version of the ecosystem, or nil.
	Valid(v string) error
}

var (
	// ErrInvalid is wrapped by every error about an unparseable version.
	ErrInvalid = errors.New("invalid version")
	// ErrUnknownEcosystem is returned by For for an ecosystem it has no
	// comparator for.
	ErrUnknownEcosystem = errors.New("unknown ecosystem")
)

// maxLen bounds every version string. The longest real versions (RPM
// module releases, Debian backports of git snapshots) are under 150 bytes;
// the bound keeps hostile input from costing more than a linear scan.
const maxLen = 1024

// invalidError says which version of which scheme is invalid and why.
type invalidError struct {
	scheme, version, reason string
}

func (e *invalidError) Error() string {
	v := e.version
	if len(v) > 80 {
		v = v[:80] + "…"
	}
	return fmt.Sprintf("version: %s: %q: %s", e.scheme, v, e.reason)
}

func (e *invalidError) Unwrap() error { return ErrInvalid }

func invalid(scheme, v, reason string) error {
	return &invalidError{scheme: scheme, version: v, reason: reason}
}

// For returns the comparator for an OSV ecosystem name. Distribution
// ecosystems carry a release after a colon ("Debian:12", "Alpine:v3.20",
// "AlmaLinux:9"); the release does not change the rules.
func For(ecosystem string) (Comparer, error) {
	switch ecosystem {
	case "Go":
		return Go{}, nil
	case "npm", "crates.io":
		return SemVer{}, nil
	case "PyPI":
		return PEP440{}, nil
	case "Maven":
		return Maven{}, nil
	case "RubyGems":
		return RubyGems{}, nil
	case "NuGet":
		return NuGet{}, nil
	case "Packagist":
		return Composer{}, nil
	case "Wolfi", "Chainguard":
		return APK{}, nil
	case "NVD":
		return Generic{}, nil
	}
	base, _, _ := strings.Cut(ecosystem, ":")
	switch base {
	case "Debian", "Ubuntu":
		return Dpkg{}, nil
	case "Alpine":
		return APK{}, nil
	case "AlmaLinux", "Rocky Linux", "Red Hat", "openSUSE", "SUSE", "Mageia", "Amazon Linux", "Oracle Linux", "Photon OS":
		return RPM{}, nil
	}
	return nil, fmt.Errorf("version: %w %q", ErrUnknownEcosystem, ecosystem)
}

// Helpers shared by the schemes. They work on ASCII only: every scheme here
// either forbids other bytes or treats them as separators.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isAlpha(c byte) bool { return isLower(c) || isUpper(c) }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}

// digitsEnd returns the end of the run of digits starting at s[i].
func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// allDigits reports whether s is a non-empty run of digits.
func allDigits(s string) bool {
	return s != "" && digitsEnd(s, 0) == len(s)
}

// cmpNum compares two runs of decimal digits by value, whatever their
// length, so that no version number can overflow.
func cmpNum(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return strings.Compare(a, b)
}

// isZero reports whether a run of digits is zero (or empty).
func isZero(s string) bool {
	return strings.TrimLeft(s, "0") == ""
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// equalFold reports whether a and b are equal ignoring ASCII case.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether s starts with the lower-case word w,
// ignoring the case of s.
func hasPrefixFold(s, w string) bool {
	return len(s) >= len(w) && equalFold(s[:len(w)], w)
}

// checkLen rejects versions that are empty or longer than maxLen.
func checkLen(scheme, v string) error {
	if v == "" {
		return invalid(scheme, v, "empty")
	}
	if len(v) > maxLen {
		return invalid(scheme, v, fmt.Sprintf("longer than %d bytes", maxLen))
	}
	return nil
}

// compareWith parses both versions with parse and compares them with cmp:
// the common shape of the schemes that need a parsed form.
func compareWith[T any](a, b string, parse func(string) (T, error), cmp func(T, T) int) (int, error) {
	pa, err := parse(a)
	if err != nil {
		return 0, err
	}
	pb, err := parse(b)
	if err != nil {
		return 0, err
	}
	return cmp(pa, pb), nil
}
