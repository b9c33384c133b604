package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/store/sqlite"
)

// TestBadInput: malformed requests get 400 with a message that says what
// is wrong.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	huge := `{"filterCriteria":{"title":[` + strings.Repeat(`{"comparison":"EQUALS","value":"x"},`, 40000) + `{"comparison":"EQUALS","value":"x"}]}}`
	cases := []struct {
		name, method, path, contentType string
		body                            any
		want                            string
	}{
		{"malformed JSON", "POST", "/api/v1/findings/list", "application/json", `{"maxResults": 10,`, "invalid JSON"},
		{"not an object", "POST", "/api/v1/findings/list", "application/json", `[1,2]`, "JSON object"},
		{"empty body", "POST", "/api/v1/findings/list", "application/json", ``, "empty"},
		{"trailing data", "POST", "/api/v1/findings/list", "application/json", `{} {}`, "after the JSON"},
		{"unknown field", "POST", "/api/v1/findings/list", "application/json", `{"maxResult": 10}`, `"maxResult"`},
		{"unknown nested field", "POST", "/api/v1/findings/list", "application/json", `{"filterCriteria":{"severty":[]}}`, `"severty"`},
		{"wrong type", "POST", "/api/v1/findings/list", "application/json", `{"maxResults":"ten"}`, "maxResults"},
		{"bad comparison", "POST", "/api/v1/findings/list", "application/json",
			`{"filterCriteria":{"ecrImageRepositoryName":[{"comparison":"CONTAINS","value":"app"}]}}`, "filterCriteria.ecrImageRepositoryName[0].comparison"},
		{"bad date", "POST", "/api/v1/findings/list", "application/json",
			`{"filterCriteria":{"updatedAt":[{"startInclusive":"yesterday"}]}}`, "RFC 3339"},
		{"bad sort", "POST", "/api/v1/findings/list", "application/json", `{"sortCriteria":{"field":"SCORE"}}`, "sortCriteria.field"},
		{"bad order", "POST", "/api/v1/findings/list", "application/json", `{"sortCriteria":{"sortOrder":"UP"}}`, "sortOrder"},
		{"bad maxResults", "POST", "/api/v1/findings/list", "application/json", `{"maxResults":5000}`, "maxResults"},
		{"too many filters", "POST", "/api/v1/findings/list", "application/json",
			`{"filterCriteria":{"title":[` + strings.Repeat(`{"comparison":"EQUALS","value":"x"},`, 100) + `{"comparison":"EQUALS","value":"x"}]}}`, "at most 100"},
		{"huge body", "POST", "/api/v1/findings/list", "application/json", huge, "larger than 1048576 bytes"},
		{"form body", "POST", "/api/v1/tokens", "application/x-www-form-urlencoded", `name=x&role=admin`, "must be JSON"},
		{"unknown parameter", "GET", "/api/v1/images?repo=team/app", "", nil, `"repo"`},
		{"parameter on a route without any", "GET", "/api/v1/tokens?all=1", "", nil, `"all"`},
		{"bad number", "GET", "/api/v1/findings?maxResults=many", "", nil, "maxResults"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.callWith(admin, c.method, c.path, c.contentType, c.body).expect(t, http.StatusBadRequest)
			code, msg := r.apiError(t)
			if code != api.CodeBadRequest || !strings.Contains(msg, c.want) {
				t.Errorf("%s %q does not say %q", code, msg, c.want)
			}
		})
	}
	if len(huge) <= 1<<20 {
		t.Fatalf("the huge body is only %d bytes", len(huge))
	}
}

// TestInternalErrorsHidden: a store failure is logged and answered with
// 500 and a message that tells the client nothing of the store.
func TestInternalErrorsHidden(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	// Authentication is off so that the closed store is met by the
	// route, not by the token check.
	h := httptest.NewServer(api.New(api.Options{
		Store: st, Auth: &auth.Authenticator{Tokens: st, Disabled: true},
		Log: slog.New(slog.NewTextHandler(&log, nil)),
	}))
	defer h.Close()
	st.Close()
	resp, err := http.Get(h.URL + "/api/v1/repositories")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d: %s", resp.StatusCode, body.String())
	}
	msg := strings.ToLower(body.String())
	for _, leak := range []string{"sql", "database", "closed", dir} {
		if strings.Contains(msg, strings.ToLower(leak)) {
			t.Errorf("the answer %q tells of %q", body.String(), leak)
		}
	}
	if !strings.Contains(log.String(), "closed") || !strings.Contains(log.String(), "/api/v1/repositories") {
		t.Errorf("the log does not have the cause: %s", log.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
