package baseline

import "testing"

func TestBaselineSetIdentity(t *testing.T) {
	var s Set
	if s.Has("lodash", "CVE-2021-23337") {
		t.Fatal("the empty set has a finding")
	}
	s.Add("lodash", "GHSA-35jh-r3h4-6jhm", "CVE-2021-23337")
	s.Add("libssl3", "CVE-2024-6119", "")
	for _, c := range []struct {
		pkg  string
		ids  []string
		want bool
	}{
		{"lodash", []string{"CVE-2021-23337"}, true},                  // by alias
		{"lodash", []string{"GHSA-35jh-r3h4-6jhm"}, true},             // by id
		{"lodash", []string{"CVE-2020-8203", "CVE-2021-23337"}, true}, // an alias in common
		{"lodash", []string{"CVE-2020-8203"}, false},                  // another vulnerability
		{"lodash-es", []string{"CVE-2021-23337"}, false},              // another package
		{"libssl3", []string{"CVE-2024-6119"}, true},
		{"libssl3", []string{""}, false}, // an empty id matches nothing
	} {
		if got := s.Has(c.pkg, c.ids...); got != c.want {
			t.Errorf("Has(%s, %v) = %v, want %v", c.pkg, c.ids, got, c.want)
		}
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
}
