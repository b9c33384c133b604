package analyze

import (
	"hash/fnv"
	"path"
	"slices"
	"strings"
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

// hashPath is a stable 64-bit hash of a path. Layer results keep hashes of
// every path they hold instead of the paths themselves: eight bytes a
// file, and stable across processes so that cached results stay valid.
func hashPath(p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(p))
	return h.Sum64()
}

// pathSet is a sorted set of path hashes.
type pathSet []uint64

func (s pathSet) has(p string) bool {
	_, ok := slices.BinarySearch(s, hashPath(p))
	return ok
}

func (s *pathSet) seal() {
	slices.Sort(*s)
	*s = slices.Compact(*s)
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
