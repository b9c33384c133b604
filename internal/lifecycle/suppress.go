package lifecycle

import (
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Suppressing returns the suppression rule that suppresses f at now (the
// first unexpired SUPPRESS rule by id that matches, as for stored
// findings), or nil. It is for findings that are not stored: an
// inventory scanned on request is judged by the same rules as a pushed
// image.
func (rc Reconciler) Suppressing(f *store.Finding, rules []store.Rule, ctx store.FindingContext, now time.Time) (*store.Rule, error) {
	status, id, err := rc.status(f, rules, ctx, now)
	if err != nil || status != store.Suppressed {
		return nil, err
	}
	for i := range rules {
		if rules[i].ID == id {
			return &rules[i], nil
		}
	}
	return nil, nil
}
