package pattern

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestCompileWildcardErrors(t *testing.T) {
	for _, s := range []string{"**", "a**", "**b", "a**b", `\`, `a\`, `\a`, `a\b*`, `*\**\`} {
		if _, err := compileWildcard(s); err == nil {
			t.Errorf("compileWildcard(%q) succeeded, want an error", s)
		}
	}
	for _, s := range []string{"", "*", "a*", "*a", "*a*", `\*`, `\\`, `\**`, `*\*`, `a*b*c`} {
		if _, err := compileWildcard(s); err != nil {
			t.Errorf("compileWildcard(%q): %v", s, err)
		}
	}
}

// wildcardRegexp is an independent reading of the wildcard syntax.
func wildcardRegexp(w string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case '\\':
			i++
			b.WriteString(regexp.QuoteMeta(w[i : i+1]))
		case '*':
			b.WriteString(`.*`)
		default:
			b.WriteString(regexp.QuoteMeta(w[i : i+1]))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

// TestWildcardAgainstRegexp compares matching with a regular expression on
// random patterns over a small alphabet, where overlaps and repeats are
// frequent.
func TestWildcardAgainstRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "ab*\\"
	word := func(n int, alpha string) string {
		b := make([]byte, r.IntN(n))
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		return string(b)
	}
	checked := 0
	for range 50000 {
		src := word(8, alphabet)
		w, err := compileWildcard(src)
		if err != nil {
			continue
		}
		re := wildcardRegexp(src)
		for range 5 {
			s := word(10, "ab*\\")
			if got, want := w.match(s), re.MatchString(s); got != want {
				t.Fatalf("wildcard %q on %q = %v, want %v", src, s, got, want)
			}
			checked++
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d checks ran", checked)
	}
}
