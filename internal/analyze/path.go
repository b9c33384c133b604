package analyze

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"
)

// cleanEntry turns a tar entry name into a clean path relative to the
// root. ok is false for names that climb out of the root ("../x",
// "a/../../x") or are empty; abs reports a name that was absolute, which
// tar extractors accept after stripping the slash.
func cleanEntry(name string) (p string, abs, ok bool) {
	abs = strings.HasPrefix(name, "/")
	p = strings.TrimLeft(name, "/")
	p = strings.TrimPrefix(p, "./")
	if p == "" || p == "." {
		return "", abs, false
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", abs, false
	}
	if c == "." {
		return "", abs, false
	}
	return c, abs, true
}

// resolveLink returns the clean path a link at p with the given target
// points to, within the root. escaped reports a target that climbs above
// the root (which a container runtime clamps to the root, as chroot
// does).
func resolveLink(p, target string) (resolved string, escaped bool) {
	joined := target
	if !strings.HasPrefix(target, "/") {
		joined = path.Dir(p) + "/" + target
		escaped = depthEscapes(path.Dir(p), target)
	}
	// Cleaning an absolute path clamps ".." at the root.
	return strings.TrimPrefix(path.Clean("/"+joined), "/"), escaped
}

// depthEscapes reports whether a relative link target, taken from dir,
// climbs above the root at some point.
func depthEscapes(dir, target string) bool {
	if strings.HasPrefix(target, "/") {
		return false
	}
	depth := 0
	if dir != "." && dir != "" {
		depth = strings.Count(dir, "/") + 1
	}
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// pathHash is a path's SHA-256, cut to 16 bytes. Layer results keep
// hashes of the paths they hold instead of the paths themselves: a fixed
// size whatever the path's length, stable across processes so that cached
// results stay valid, and too long to forge a collision with, so that no
// crafted name can pass for a wanted file and hide it.
type pathHash [16]byte

func hashPath(p string) pathHash {
	s := sha256.Sum256([]byte(p))
	return pathHash(s[:16])
}

// pathSet is a sorted set of path hashes.
type pathSet []pathHash

func (s pathSet) has(p string) bool {
	return s.hasHash(hashPath(p))
}

func (s pathSet) hasHash(h pathHash) bool {
	_, ok := slices.BinarySearchFunc(s, h, comparePathHash)
	return ok
}

func comparePathHash(a, b pathHash) int { return bytes.Compare(a[:], b[:]) }

func (s *pathSet) seal() {
	slices.SortFunc(*s, comparePathHash)
	*s = slices.Compact(*s)
}

// MarshalJSON writes the set as one base64 string of its hashes, a third
// of the size of a list of numbers.
func (s pathSet) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 0, len(s)*len(pathHash{}))
	for _, h := range s {
		raw = append(raw, h[:]...)
	}
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(raw))+2)
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, raw)
	return append(out, '"'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *pathSet) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("path set: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(str)
	if err != nil {
		return fmt.Errorf("path set: %w", err)
	}
	return s.fromBytes(raw)
}

func (s *pathSet) fromBytes(raw []byte) error {
	if len(raw)%len(pathHash{}) != 0 {
		return fmt.Errorf("path set: %d bytes is not a whole number of hashes", len(raw))
	}
	out := make(pathSet, len(raw)/len(pathHash{}))
	for i := range out {
		copy(out[i][:], raw[i*len(pathHash{}):])
	}
	if !slices.IsSortedFunc(out, comparePathHash) {
		return errors.New("path set: not sorted")
	}
	*s = out
	return nil
}

// ancestors calls fn for each proper ancestor directory of p, nearest
// first, stopping when fn returns true; it reports whether fn did.
func ancestors(p string, fn func(dir string) bool) bool {
	for {
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
		if fn(p) {
			return true
		}
	}
}

const (
	// pathMax and nameMax are Linux's PATH_MAX and NAME_MAX. No runtime
	// can extract a longer path or file name, so an entry that has one is
	// not part of any file system the image can run with: it is refused
	// rather than carried through the analysis at its full length.
	pathMax = 4096
	nameMax = 255
)

// tooLong says how p (a clean path relative to the root, or a link
// target) exceeds the platform's limits, or "" when it does not.
func tooLong(p string) string {
	if len(p) > pathMax {
		return fmt.Sprintf("%d bytes long, more than PATH_MAX (%d)", len(p), pathMax)
	}
	for len(p) > 0 {
		name := p
		if i := strings.IndexByte(p, '/'); i >= 0 {
			name, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if len(name) > nameMax {
			return fmt.Sprintf("has a %d-byte name, more than NAME_MAX (%d)", len(name), nameMax)
		}
	}
	return ""
}

// shorten cuts a refused name to a length fit for a warning.
func shorten(p string) string {
	const keep = 120
	if len(p) <= keep {
		return p
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut] + "…"
}
