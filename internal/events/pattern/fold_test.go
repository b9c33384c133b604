package pattern

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFoldAffixes(t *testing.T) {
	for _, tc := range []struct {
		s, affix       string
		prefix, suffix bool
	}{
		{"EventBridge", "eventb", true, false},
		{"EventBridge", "BRIDGE", false, true},
		{"ſtraße", "STRASSE", false, false}, // ß does not simple-fold to ss
		{"ſtring", "S", true, false},        // long s folds to s
		{"KELVIN", "\u212a", true, false},   // Kelvin sign folds to k
		{"abc", "", true, true},
		{"", "a", false, false},
		{"Σίσυφος", "ΣΊ", true, false},
		{"Σίσυφος", "ΟΣ", false, true},
	} {
		if got := hasPrefixFold(tc.s, tc.affix); got != tc.prefix {
			t.Errorf("hasPrefixFold(%q, %q) = %v, want %v", tc.s, tc.affix, got, tc.prefix)
		}
		if got := hasSuffixFold(tc.s, tc.affix); got != tc.suffix {
			t.Errorf("hasSuffixFold(%q, %q) = %v, want %v", tc.s, tc.affix, got, tc.suffix)
		}
	}
}

// TestFoldAgreesWithEqualFold checks that the prefix and suffix forms agree
// with strings.EqualFold on the rune-aligned part, as equals-ignore-case
// uses EqualFold on whole strings.
func TestFoldAgreesWithEqualFold(t *testing.T) {
	runes := []rune("aAbBsSſkK\u212aßσςΣéÉ")
	r := rand.New(rand.NewPCG(5, 6))
	word := func() []rune {
		w := make([]rune, r.IntN(5))
		for i := range w {
			w[i] = runes[r.IntN(len(runes))]
		}
		return w
	}
	for range 100000 {
		s, a := word(), word()
		wantPrefix := len(s) >= len(a) && strings.EqualFold(string(s[:len(a)]), string(a))
		wantSuffix := len(s) >= len(a) && strings.EqualFold(string(s[len(s)-len(a):]), string(a))
		if got := hasPrefixFold(string(s), string(a)); got != wantPrefix {
			t.Fatalf("hasPrefixFold(%q, %q) = %v, want %v", string(s), string(a), got, wantPrefix)
		}
		if got := hasSuffixFold(string(s), string(a)); got != wantSuffix {
			t.Fatalf("hasSuffixFold(%q, %q) = %v, want %v", string(s), string(a), got, wantSuffix)
		}
	}
}
