package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzRequestBody feeds arbitrary bodies through the decoding and
// validation of the routes that take filter criteria: they never panic,
// and every refusal is a 400 with a message.
func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"filterCriteria":{"severity":[{"comparison":"EQUALS","value":"HIGH"}]},"maxResults":5}`,
		`{"filterCriteria":{"vulnerablePackages":[{"name":{"comparison":"PREFIX","value":"lib"}}],"inspectorScore":[{"lowerInclusive":7}]}}`,
		`{"filterCriteria":{"firstObservedAt":[{"startInclusive":"2026-01-01T00:00:00Z"}]},"sortCriteria":{"field":"EPSS_SCORE","sortOrder":"ASC"}}`,
		`{"aggregationType":"PACKAGE","filterCriteria":{"title":[{"comparison":"NOT_EQUALS","value":"x"}]}}`,
		`{"filterCriteria":{"epssScore":[{"lowerInclusive":-1}]}}`,
		`{"filterCriteria":{"severty":[]}}`, `[]`, `null`, `{"maxResults":1e400}`, `{"a":`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range []any{&listRequest{}, &aggregateRequest{}, &suppressionRequest{}} {
			r, err := http.NewRequest("POST", "/", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			err = decode(r, v)
			if err == nil {
				switch req := v.(type) {
				case *listRequest:
					if req.FilterCriteria != nil {
						err = checkFilter(req.FilterCriteria)
					}
				case *aggregateRequest:
					if req.FilterCriteria != nil {
						err = checkFilter(req.FilterCriteria)
					}
				case *suppressionRequest:
					if req.FilterCriteria != nil {
						err = checkFilter(req.FilterCriteria)
					}
				}
			}
			var e *Error
			if err != nil && (!errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Message == "") {
				t.Fatalf("%q: %v", body, err)
			}
		}
	})
}
