package gobin

import "strings"

// semver converts a Go toolchain name, as build information records it,
// into the semantic version Go vulnerability data uses for the module
// "stdlib": "go1.26.8" is "v1.26.8", "go1.19" (a release before Go 1.21
// named without its .0) is "v1.19.0", "go1.21rc2" is "v1.21.0-rc.2".
// What follows a space (GOEXPERIMENT settings, "go1.22.1 X:boringcrypto")
// or a dash (a vendor's build, "go1.21.3-bigcorp") is dropped: such a
// toolchain carries the release's code. ok is false for anything that is
// not a valid Go version in the sense of go/version.
func semver(toolchain string) (v string, ok bool) {
	s, _, _ := strings.Cut(toolchain, " ")
	s, _, _ = strings.Cut(s, "-")
	s, ok = strings.CutPrefix(s, "go")
	if !ok {
		return "", false
	}
	major, s, ok := cutNum(s)
	if !ok {
		return "", false
	}
	minor, patch := "0", "0"
	if s != "" {
		if s[0] != '.' {
			return "", false
		}
		if minor, s, ok = cutNum(s[1:]); !ok {
			return "", false
		}
		if s != "" && s[0] == '.' {
			// Go has never published prereleases of patch releases,
			// and go/version rejects them: "1.21.3" must end here.
			if patch, s, ok = cutNum(s[1:]); !ok || s != "" {
				return "", false
			}
		}
	}
	v = "v" + major + "." + minor + "." + patch
	if s == "" {
		return v, true
	}
	// Prerelease: lower-case letters ("rc", "beta"), optionally a number.
	i := 0
	for i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
		i++
	}
	if i == 0 {
		return "", false
	}
	kind, num := s[:i], s[i:]
	if num == "" {
		return v + "-" + kind, true
	}
	if n, rest, ok := cutNum(num); ok && rest == "" {
		return v + "-" + kind + "." + n, true
	}
	return "", false
}

// cutNum splits a leading decimal number without superfluous leading
// zeros off s.
func cutNum(s string) (n, rest string, ok bool) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 || s[0] == '0' && i > 1 {
		return "", s, false
	}
	return s[:i], s[i:], true
}

// Semver is the semantic version Go vulnerability data gives the Go
// release named toolchain ("go1.22.3" is "v1.22.3"), for catalogers that
// find a toolchain other than in build information (a Go installation's
// VERSION file); ok is false when toolchain is no Go release.
func Semver(toolchain string) (string, bool) { return semver(toolchain) }
