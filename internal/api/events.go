package api

import (
	"encoding/json"
	"math"
	"net/http"

	"github.com/vigilsec/vigil/internal/store"
)

// eventPage lists events as the EventBridge envelopes they are; LastSeq is
// the sequence number of the last one (or the request's after when there
// is none), to ask for what follows with after=lastSeq.
type eventPage struct {
	Events  []json.RawMessage `json:"events"`
	LastSeq int64             `json:"lastSeq"`
}

func (h *handler) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"after", "detailType", "maxResults"})
	eq := store.EventQuery{
		After:      q.int("after", 0, 0, math.MaxInt64),
		DetailType: q.get("detailType"),
		Limit:      int(q.int("maxResults", 0, 1, 1000)),
	}
	if q.err != nil {
		return q.err
	}
	evts, err := h.opts.Store.Events(r.Context(), eq)
	if err != nil {
		return err
	}
	page := eventPage{Events: make([]json.RawMessage, len(evts)), LastSeq: eq.After}
	for i, e := range evts {
		page.Events[i] = e.Envelope
		page.LastSeq = e.Seq
	}
	return writeJSON(w, http.StatusOK, page)
}
