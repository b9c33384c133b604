package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/vigilsec/vigil/internal/mutability"
	"github.com/vigilsec/vigil/internal/store"
)

// testTagMutability covers a repository's imageTagMutability: MUTABLE
// until put, replaced by each put, invalid settings refused without
// changing what was there, and kept per repository.
func testTagMutability(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	get := func(repo string) mutability.Setting {
		t.Helper()
		m, err := s.TagMutability(ctx, repo)
		must(t, err)
		return m
	}
	if m := get("team/app"); m.Mutability != mutability.Mutable || m.Filters != nil {
		t.Errorf("unset: %+v, want MUTABLE without filters", m)
	}
	must(t, s.PutTagMutability(ctx, "team/app", mutability.Setting{Mutability: mutability.Immutable}))
	if m := get("team/app"); m.Mutability != mutability.Immutable || m.Filters != nil {
		t.Errorf("after IMMUTABLE: %+v", m)
	}
	if m := get("team/other"); m.Mutability != mutability.Mutable {
		t.Errorf("another repository: %+v", m)
	}
	want := mutability.Setting{Mutability: mutability.ImmutableWithExclusion, Filters: []mutability.Filter{
		{Filter: "dev-*", FilterType: mutability.FilterWildcard}, {Filter: "*-snapshot", FilterType: mutability.FilterWildcard}}}
	must(t, s.PutTagMutability(ctx, "team/app", want))
	if m := get("team/app"); !reflect.DeepEqual(m, want) {
		t.Errorf("after IMMUTABLE_WITH_EXCLUSION: %+v, want %+v", m, want)
	}
	for _, bad := range []mutability.Setting{
		{Mutability: "immutable"},
		{Mutability: mutability.ImmutableWithExclusion},
		{Mutability: mutability.Immutable, Filters: want.Filters},
	} {
		if err := s.PutTagMutability(ctx, "team/app", bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("put %+v: %v, want ErrInvalid", bad, err)
		}
	}
	if m := get("team/app"); !reflect.DeepEqual(m, want) {
		t.Errorf("after refused puts: %+v, want %+v", m, want)
	}
	must(t, s.PutTagMutability(ctx, "team/app", mutability.Setting{Mutability: mutability.Mutable}))
	if m := get("team/app"); m.Mutability != mutability.Mutable || m.Filters != nil {
		t.Errorf("back to MUTABLE: %+v", m)
	}
}
