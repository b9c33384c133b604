package mutability

import "testing"

func TestMutabilityMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, tag string
		want         bool
	}{
		{"dev-*", "dev-1", true},
		{"dev-*", "dev-", true},
		{"dev-*", "prod-1", false},
		{"*-rc", "1.2-rc", true},
		{"*-rc", "1.2-rc1", false},
		{"v*.*", "v1.2", true},
		{"v*.*", "v12", false},
		{"latest", "latest", true},
		{"latest", "latest2", false},
		{"*", "anything", true},
		{"a*a", "a", false},
		{"a*a", "aa", true},
	} {
		if got := Match(tc.pattern, tc.tag); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.tag, got, tc.want)
		}
	}
}

func TestMutabilityImmutable(t *testing.T) {
	dev := []Filter{{Filter: "dev-*", FilterType: FilterWildcard}, {Filter: "test-*", FilterType: FilterWildcard}}
	for _, tc := range []struct {
		s    Setting
		tag  string
		want bool
	}{
		{Setting{}, "v1", false},
		{Setting{Mutability: Mutable}, "v1", false},
		{Setting{Mutability: Immutable}, "v1", true},
		{Setting{Mutability: ImmutableWithExclusion, Filters: dev}, "v1", true},
		{Setting{Mutability: ImmutableWithExclusion, Filters: dev}, "dev-7", false},
		{Setting{Mutability: ImmutableWithExclusion, Filters: dev}, "test-x", false},
		{Setting{Mutability: MutableWithExclusion, Filters: dev}, "dev-7", true},
		{Setting{Mutability: MutableWithExclusion, Filters: dev}, "v1", false},
	} {
		if got := tc.s.Immutable(tc.tag); got != tc.want {
			t.Errorf("%+v.Immutable(%q) = %v, want %v", tc.s, tc.tag, got, tc.want)
		}
	}
}

func TestMutabilityValidate(t *testing.T) {
	w := func(f string) Filter { return Filter{Filter: f, FilterType: FilterWildcard} }
	for _, tc := range []struct {
		s  Setting
		ok bool
	}{
		{Setting{Mutability: Mutable}, true},
		{Setting{Mutability: Immutable}, true},
		{Setting{Mutability: ImmutableWithExclusion, Filters: []Filter{w("dev-*")}}, true},
		{Setting{Mutability: "immutable"}, false},
		{Setting{}, false},
		{Setting{Mutability: Immutable, Filters: []Filter{w("dev-*")}}, false},
		{Setting{Mutability: ImmutableWithExclusion}, false},
		{Setting{Mutability: ImmutableWithExclusion, Filters: []Filter{{Filter: "dev-*", FilterType: "REGEX"}}}, false},
		{Setting{Mutability: ImmutableWithExclusion, Filters: []Filter{w("dev/*")}}, false},
		{Setting{Mutability: ImmutableWithExclusion, Filters: []Filter{w("a"), w("b"), w("c"), w("d"), w("e"), w("f")}}, false},
	} {
		if err := tc.s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.s, err, tc.ok)
		}
	}
}
