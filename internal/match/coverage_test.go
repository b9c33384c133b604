package match

import "testing"

func TestOthers(t *testing.T) {
	for _, c := range []struct {
		eco  string
		held []string
		want string
	}{
		{"Alpine:v3.20", []string{"Alpine:v3.10", "Alpine:v3.11", "Alpine:v3.3", "Alpine:v3.4", "Alpine:v3.5", "Alpine:v3.6", "Alpine:v3.7", "Alpine:v3.8", "Alpine:v3.9", "Go"}, " (have v3.3–v3.11)"},
		{"Alpine:v3.20", []string{"Alpine:v3.3", "Alpine:v3.7", "Alpine:v3.9"}, " (have v3.3, v3.7, v3.9)"},
		{"Debian:12", []string{"Debian:10", "Debian:11"}, " (have 10, 11)"},
		{"Debian:12", []string{"Go", "npm"}, " (none for Debian)"},
	} {
		if got := others(c.eco, c.held); got != c.want {
			t.Errorf("others(%s, %v) = %q, want %q", c.eco, c.held, got, c.want)
		}
	}
}
