package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Error codes of the API's error responses, one per status.
const (
	CodeBadRequest       = "BAD_REQUEST"
	CodeUnauthenticated  = "UNAUTHENTICATED"
	CodeForbidden        = "FORBIDDEN"
	CodeNotFound         = "NOT_FOUND"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodeConflict         = "CONFLICT"
	CodeInternal         = "INTERNAL"
	// CodeRulesNotApplied says a suppression rule was created or deleted
	// but re-applying the rules to stored findings failed.
	CodeRulesNotApplied = "RULES_NOT_APPLIED"
)

var codes = map[int]string{
	http.StatusBadRequest:          CodeBadRequest,
	http.StatusUnauthorized:        CodeUnauthenticated,
	http.StatusForbidden:           CodeForbidden,
	http.StatusNotFound:            CodeNotFound,
	http.StatusMethodNotAllowed:    CodeMethodNotAllowed,
	http.StatusConflict:            CodeConflict,
	http.StatusInternalServerError: CodeInternal,
}

// Error is an error response: {"code": …, "message": …}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "api: " + e.Message }

func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Code: codes[status], Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, format, args...)
}

// fail writes err as an error response. Errors that are not *Error are
// internal: they are logged, and the client learns only that something
// failed — never a store's or database's words.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, store.ErrInvalid) {
			e = badRequest("%s", invalidMessage(err))
		} else {
			h.opts.Log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			e = errorf(http.StatusInternalServerError, "internal error; the server log has the details")
		}
	}
	writeJSON(w, e.Status, e)
}

// invalidMessage is the part of a store's ErrInvalid meant for the client
// ("page token: malformed").
func invalidMessage(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, store.ErrInvalid.Error()+": "); ok {
		return rest
	}
	return "invalid request"
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("api: encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err = w.Write(append(data, '\n'))
	return err
}

// decode reads a JSON request body into v, refusing unknown fields,
// trailing data and bodies over the cap, with a message a person can act
// on. A body that says it is something other than JSON is refused: HTML
// forms can send only such bodies, and refusing them keeps a browser that
// remembers basic-auth credentials from being made to change things by
// another site.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return badRequest("request body must be JSON (Content-Type: application/json), not %s", ct)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return badRequest("request body is larger than %d bytes", tooBig.Limit)
		}
		return badRequest("reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty; a JSON object is expected")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: %s", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("invalid JSON body: data after the JSON object")
	}
	return nil
}

// jsonProblem words a decoding error without Go type names.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntax *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &timeErr):
		return fmt.Sprintf("time %q is not in RFC 3339 form (2026-12-31T00:00:00Z)", timeErr.Value)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return fmt.Sprintf("a JSON object is expected, not %s", typeErr.Value)
		}
		return fmt.Sprintf("field %s: want %s, not %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntax):
		return fmt.Sprintf("%v (at byte %d)", syntax, syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

// jsonKind names the JSON kind a Go type is read from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another value"
}

// params reads a request's query, refusing parameters the route does not
// know (a misspelt filter must not silently select everything) and
// repeats of single-valued ones.
type params struct {
	v   url.Values
	err error
}

func query(r *http.Request, single []string, multi ...string) *params {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return &params{err: badRequest("malformed query string: %v", err)}
	}
	known := map[string]bool{}
	for _, k := range single {
		known[k] = true
		if len(v[k]) > 1 {
			return &params{err: badRequest("query parameter %s given %d times; give it once", k, len(v[k]))}
		}
	}
	for _, k := range multi {
		known[k] = true
	}
	for k := range v {
		if !known[k] {
			return &params{err: badRequest("unknown query parameter %q", k)}
		}
	}
	return &params{v: v}
}

func noQuery(r *http.Request) error { return query(r, nil).err }

func (p *params) get(k string) string { return p.v.Get(k) }

// int reads an integer parameter within [min, max]; absent is def.
func (p *params) int(k string, def, min, max int64) int64 {
	s := p.v.Get(k)
	if s == "" || p.err != nil {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		p.err = badRequest("query parameter %s: %q is not a whole number from %d to %d", k, s, min, max)
		return def
	}
	return n
}
