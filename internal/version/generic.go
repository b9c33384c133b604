package version

import "strings"

// Generic orders the versions NVD's CPE applicability statements give
// for programs that have no package ecosystem of their own (Node.js,
// Python, OpenSSL, BusyBox, curl, OpenJDK): runs of digits compare by
// value and runs of letters in ASCII order, separators (". - _ + ~")
// only divide them. When one version is the other followed by more, the
// longer is later ("3.11" < "3.11.2", OpenSSL's "1.1.1" < "1.1.1w"),
// unless what follows is a pre-release word (alpha, beta, rc, pre, dev):
// "3.13.0rc1" < "3.13.0". No upstream tool defines this order; NVD's
// own matching compares the same way.
type Generic struct{}

var _ Comparer = Generic{}

func (Generic) Valid(v string) error {
	if err := checkLen("generic", v); err != nil {
		return err
	}
	if !isAlnum(v[0]) {
		return invalid("generic", v, "does not start with a letter or digit")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && !strings.ContainsRune(".-_+~", rune(c)) {
			return invalid("generic", v, "holds "+string(rune(c)))
		}
	}
	return nil
}

func (g Generic) Compare(a, b string) (int, error) {
	if err := g.Valid(a); err != nil {
		return 0, err
	}
	if err := g.Valid(b); err != nil {
		return 0, err
	}
	ta, tb := genericTokens(a), genericTokens(b)
	for i := 0; i < len(ta) && i < len(tb); i++ {
		x, y := ta[i], tb[i]
		dx, dy := isDigit(x[0]), isDigit(y[0])
		switch {
		case dx && dy:
			if c := cmpNum(x, y); c != 0 {
				return c, nil
			}
		case dx != dy:
			// A number where the other has a word: the word is a
			// pre-release ("1.0.beta") or a letter suffix, both
			// before the numbered release that follows.
			if dx {
				return 1, nil
			}
			return -1, nil
		default:
			if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
				return c, nil
			}
		}
	}
	switch {
	case len(ta) == len(tb):
		return 0, nil
	case len(ta) > len(tb):
		if preRelease(ta, len(tb)) {
			return -1, nil
		}
		return 1, nil
	default:
		if preRelease(tb, len(ta)) {
			return 1, nil
		}
		return -1, nil
	}
}

// genericTokens splits v into runs of digits and runs of letters.
func genericTokens(v string) []string {
	var out []string
	for i := 0; i < len(v); {
		j := i
		switch {
		case isDigit(v[i]):
			j = digitsEnd(v, i)
		case isAlpha(v[i]):
			for j < len(v) && isAlpha(v[j]) {
				j++
			}
		default:
			i++
			continue
		}
		out = append(out, v[i:j])
		i = j
	}
	return out
}

// preRelease reports whether toks[i] starts a pre-release: a word such
// as "beta" or "rc", or a lone a, b or c followed by a number (CPython's
// "3.13.0a1"); a lone letter that ends the version is a later release
// (OpenSSL's "1.1.1a").
func preRelease(toks []string, i int) bool {
	switch strings.ToLower(toks[i]) {
	case "alpha", "beta", "rc", "pre", "preview", "dev":
		return true
	case "a", "b", "c":
		return i+1 < len(toks) && isDigit(toks[i+1][0])
	}
	return false
}
