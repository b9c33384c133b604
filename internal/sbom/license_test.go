package sbom

import (
	"reflect"
	"testing"
)

func TestValidExpression(t *testing.T) {
	for _, tt := range []struct {
		l    string
		want bool
	}{
		{"MIT", true},
		{"mit", true}, // identifiers match case-insensitively
		{"GPL-2.0-only", true},
		{"GPL-2.0", true}, // deprecated, still on the list
		{"GPL-2.0+", true},
		{"MIT OR Apache-2.0", true},
		{"MIT AND BSD-2-Clause AND GPL-2.0-or-later", true},
		{"(MIT OR Apache-2.0) AND Zlib", true},
		{"((MIT))", true},
		{"GPL-2.0-only WITH Classpath-exception-2.0", true},
		{"", false},
		{" MIT", false},
		{"MIT and Apache-2.0", false}, // operators are upper-case
		{"GPLv2+", false},
		{"MIT-or-later", false},
		{"MIT WITH Apache-2.0", false}, // not an exception
		{"Classpath-exception-2.0", false},
		{"LicenseRef-custom", false},
		{"MIT AND", false},
		{"MIT Apache-2.0", false},
		{"(MIT", false},
		{"MIT)", false},
		{"()", false},
		{"((", false},
		{"Custom: see LICENSE.md", false},
	} {
		if got := validExpression(tt.l); got != tt.want {
			t.Errorf("validExpression(%q) = %v, want %v", tt.l, got, tt.want)
		}
	}
}

func TestJoinSplitExpressions(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		join string
	}{
		{[]string{"MIT"}, "MIT"},
		{[]string{"MIT", "Zlib"}, "MIT AND Zlib"},
		{[]string{"MIT OR Apache-2.0"}, "(MIT OR Apache-2.0)"},
		{[]string{"MIT AND Zlib"}, "(MIT AND Zlib)"},
		{[]string{"(MIT)", "GPL-2.0+"}, "((MIT)) AND GPL-2.0+"},
		{[]string{"LicenseRef-a", "MIT OR Zlib"}, "LicenseRef-a AND (MIT OR Zlib)"},
	} {
		j := joinExpressions(tt.in)
		if j != tt.join {
			t.Errorf("join %q = %q, want %q", tt.in, j, tt.join)
		}
		if s := splitExpression(j); !reflect.DeepEqual(s, tt.in) {
			t.Errorf("split %q = %q, want %q", j, s, tt.in)
		}
	}
	// Other tools' expressions: top-level AND splits, nested does not.
	for e, want := range map[string][]string{
		"ISC AND BSD-3-Clause AND MIT":   {"ISC", "BSD-3-Clause", "MIT"},
		"MIT AND (BSD-2-Clause OR Zlib)": {"MIT", "BSD-2-Clause OR Zlib"},
		"(MIT AND Zlib) OR Apache-2.0":   {"(MIT AND Zlib) OR Apache-2.0"},
		"MIT AND ":                       {"MIT"},
	} {
		if s := splitExpression(e); !reflect.DeepEqual(s, want) {
			t.Errorf("split %q = %q, want %q", e, s, want)
		}
	}
}
