package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/store"
)

// Roles, as the tests name the credentials they send; "" sends none.
const (
	anonymous = ""
	readOnly  = store.RoleReadOnly
	pipeline  = store.RolePipeline
	admin     = store.RoleAdmin
)

// harness is a running API with a populated store; every response it
// sees is checked against the OpenAPI document.
type harness struct {
	*apitest.Server
	t *testing.T
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{Server: apitest.New(t), t: t}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// decode reads the response body into v, failing the test if it is not
// JSON of v's shape.
func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not the JSON expected: %v\n%s", r.status, err, r.body)
	}
}

// apiError is the error body.
func (r *response) apiError(t *testing.T) (code, message string) {
	t.Helper()
	var e struct{ Code, Message string }
	r.decode(t, &e)
	return e.Code, e.Message
}

// call sends a request with the role's token. body is marshalled unless
// it is a string or []byte, which are sent as they are.
func (h *harness) call(role, method, path string, body any) *response {
	h.t.Helper()
	return h.callWith(role, method, path, "application/json", body)
}

func (h *harness) callWith(role, method, path, contentType string, body any) *response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if role != anonymous {
		req.Header.Set("Authorization", "Bearer "+h.Tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: data}
	spec(h.t).check(h.t, method, req.URL, r)
	return r
}

// expect fails the test unless the response has the status.
func (r *response) expect(t *testing.T, status int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%s", r.status, status, r.body)
	}
	return r
}

// openAPI is the API's OpenAPI document, with its schemas compiled.
type openAPI struct {
	doc     map[string]any
	mu      sync.Mutex
	c       *jsonschema.Compiler
	schemas map[string]*jsonschema.Schema
}

var (
	specOnce sync.Once
	theSpec  *openAPI
	specErr  error
)

func spec(t *testing.T) *openAPI {
	t.Helper()
	specOnce.Do(func() { theSpec, specErr = loadSpec("openapi.yaml") })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return theSpec
}

const specURL = "mem://vigil/openapi.json"

func loadSpec(file string) (*openAPI, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var y any
	if err := yaml.Unmarshal(data, &y); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	// Through JSON, so that the schema compiler sees JSON's types.
	j, err := json.Marshal(y)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, err
	}
	nullable(doc)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	if err := c.AddResource(specURL, doc); err != nil {
		return nil, err
	}
	m, _ := doc.(map[string]any)
	return &openAPI{doc: m, c: c, schemas: map[string]*jsonschema.Schema{}}, nil
}

// nullable rewrites OpenAPI 3.0's "nullable: true" beside a type as JSON
// Schema says it (type: [t, "null"]), so that the schema compiler, which
// knows only JSON Schema, lets null through exactly where the document
// does and nowhere else.
func nullable(v any) {
	switch v := v.(type) {
	case map[string]any:
		if n, _ := v["nullable"].(bool); n {
			if t, ok := v["type"].(string); ok {
				v["type"] = []any{t, "null"}
			}
		}
		for _, c := range v {
			nullable(c)
		}
	case []any:
		for _, c := range v {
			nullable(c)
		}
	}
}

// obj walks the document by keys, following $refs to
// #/components/<kind>/<name>.
func (o *openAPI) obj(v any, keys ...string) map[string]any {
	m, _ := v.(map[string]any)
	for _, k := range keys {
		m = o.deref(m)
		m, _ = m[k].(map[string]any)
	}
	return o.deref(m)
}

func (o *openAPI) deref(m map[string]any) map[string]any {
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		m = o.obj(o.doc, parts...)
	}
	return nil
}

// operation finds the documented operation of a request path (without
// the /api/v1 prefix, escaped): a literal path wins over a template.
func (o *openAPI) operation(method, escapedPath string) (string, map[string]any) {
	segs := strings.Split(escapedPath, "/")
	best, bestOp, bestLiteral := "", map[string]any(nil), -1
	for p := range o.obj(o.doc, "paths") {
		tsegs := strings.Split(p, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		literal, ok := 0, true
		for i, s := range tsegs {
			switch {
			case strings.HasPrefix(s, "{"):
			case s == segs[i]:
				literal++
			default:
				ok = false
			}
		}
		op := o.obj(o.doc, "paths", p, strings.ToLower(method))
		if ok && op != nil && literal > bestLiteral {
			best, bestOp, bestLiteral = p, op, literal
		}
	}
	return best, bestOp
}

// check holds a response to the document: the operation exists, the
// status is documented for it, the content type is one documented, and a
// JSON body validates against the documented schema.
func (o *openAPI) check(t *testing.T, method string, u *url.URL, r *response) {
	t.Helper()
	path, ok := strings.CutPrefix(u.EscapedPath(), "/api/v1")
	if !ok {
		t.Errorf("request outside the API: %s", u)
		return
	}
	p, op := o.operation(method, path)
	if op == nil {
		// Unrouted requests answer 401, 404 or 405 with an error.
		if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed && r.status != http.StatusUnauthorized {
			t.Errorf("%s %s is not in the OpenAPI document but answered %d", method, path, r.status)
		}
		o.validate(t, "Error", r)
		return
	}
	resp := o.obj(op, "responses", fmt.Sprint(r.status))
	if resp == nil {
		t.Errorf("%s %s: status %d is not documented\n%s", method, p, r.status, r.body)
		return
	}
	content := o.obj(resp, "content")
	ct, _, _ := strings.Cut(r.header.Get("Content-Type"), ";")
	if content == nil {
		if len(r.body) != 0 {
			t.Errorf("%s %s: status %d has no documented content but a body", method, p, r.status)
		}
		return
	}
	media := o.obj(content, ct)
	if media == nil {
		t.Errorf("%s %s %d: content type %q is not documented", method, p, r.status, ct)
		return
	}
	if ct != "application/json" {
		return
	}
	ref, _ := o.obj(media)["schema"].(map[string]any)["$ref"].(string)
	name, ok := strings.CutPrefix(ref, "#/components/schemas/")
	if !ok {
		t.Errorf("%s %s %d: JSON responses must refer to a component schema", method, p, r.status)
		return
	}
	o.validate(t, name, r)
}

// validate checks a body against a component schema.
func (o *openAPI) validate(t *testing.T, name string, r *response) {
	t.Helper()
	s, err := o.schema(name)
	if err != nil {
		t.Fatalf("schema %s: %v", name, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err != nil {
		t.Errorf("body is not JSON: %v\n%s", err, r.body)
		return
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("response %d does not match schema %s: %v\n%s", r.status, name, err, r.body)
	}
}

func (o *openAPI) schema(name string) (*jsonschema.Schema, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s, ok := o.schemas[name]; ok {
		return s, nil
	}
	s, err := o.c.Compile(specURL + "#/components/schemas/" + name)
	if err != nil {
		return nil, err
	}
	o.schemas[name] = s
	return s, nil
}
