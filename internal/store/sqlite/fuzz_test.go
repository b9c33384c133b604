package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/store"
)

// pageSorts are the sort fields whose keys page tokens carry: integers,
// numbers (with NULLs), strings.
var pageSorts = []string{"SEVERITY", "INSPECTOR_SCORE", "EPSS_SCORE", "FIRST_OBSERVED_AT", "FINDING_STATUS", "ECR_IMAGE_REPOSITORY_NAME", "VULNERABILITY_ID"}

// FuzzPageToken pages findings, images and aggregations of a real store
// with arbitrary tokens: a token the store did not make for that query is
// refused as invalid input (a 400 in the API), never another error or a
// panic; one it made pages on.
func FuzzPageToken(f *testing.F) {
	ctx := context.Background()
	st := open(f, filepath.Join(f.TempDir(), "vigil.db"))
	f.Cleanup(func() { st.Close() })
	apitest.Populate(f, st)
	// Real tokens, from first pages of one row.
	for i, s := range pageSorts {
		_, next, err := st.ListFindings(ctx, store.FindingQuery{SortField: s, Limit: 1})
		if err != nil || next == "" {
			f.Fatalf("%s: no token (%v)", s, err)
		}
		f.Add(next, uint8(i))
	}
	if _, next, err := st.ListImages(ctx, store.ImageQuery{Limit: 1}); err == nil && next != "" {
		f.Add(next, uint8(len(pageSorts)))
	}
	if _, next, err := st.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggRepository, Limit: 1}); err == nil && next != "" {
		f.Add(next, uint8(len(pageSorts)+1))
	}
	f.Add("eyJoIjoiMDAwMDAwMDAwMDAwMDAwMCIsImsiOjEsIm8iOi0xfQ", uint8(0))
	f.Add("eyJoIjoieCIsImsiOlsiYSJdLCJpIjpbXX0", uint8(3))
	f.Fuzz(func(t *testing.T, token string, which uint8) {
		var err error
		var next string
		switch n := int(which) % (len(pageSorts) + 2); {
		case n < len(pageSorts):
			_, next, err = st.ListFindings(ctx, store.FindingQuery{SortField: pageSorts[n], Limit: 2, Next: token})
		case n == len(pageSorts):
			_, next, err = st.ListImages(ctx, store.ImageQuery{Limit: 2, Next: token})
		default:
			_, next, err = st.AggregateFindings(ctx, store.AggregationQuery{Type: store.AggRepository, Limit: 2, Next: token})
		}
		if err != nil && !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("token %q: %v, want ErrInvalid", token, err)
		}
		if err == nil && next == token && next != "" {
			t.Fatalf("token %q pages to itself", token)
		}
	})
}
