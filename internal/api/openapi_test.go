package api_test

import (
	"bytes"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigilsec/vigil/internal/api"
)

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// TestOpenAPIRoutes holds the document and the handler to each other:
// every route served is documented and every documented operation is
// served, and every operation documents the answers every route can give.
func TestOpenAPIRoutes(t *testing.T) {
	o := spec(t)
	if v, _ := o.doc["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		t.Errorf("openapi version %q, want 3.0.x", v)
	}
	documented := map[string]bool{}
	for p := range o.obj(o.doc, "paths") {
		for _, m := range methods {
			op := o.obj(o.doc, "paths", p, m)
			if op == nil {
				continue
			}
			key := strings.ToUpper(m) + " " + p
			documented[key] = true
			for _, status := range []string{"401", "403", "500"} {
				if o.obj(op, "responses", status) == nil {
					t.Errorf("%s does not document %s", key, status)
				}
			}
			if id, _ := op["operationId"].(string); id == "" {
				t.Errorf("%s has no operationId", key)
			}
		}
	}
	served := api.RouteList()
	var missing, extra []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if _, ok := served[r]; !ok {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("served but not documented: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("documented but not served: %v", extra)
	}
	if len(served) < 20 {
		t.Errorf("only %d routes: the route list is not the handler's", len(served))
	}
}

// TestOpenAPISchemas compiles every component schema and checks that the
// strict ones refuse what they should, so that validating responses
// against them means something.
func TestOpenAPISchemas(t *testing.T) {
	o := spec(t)
	for name := range o.obj(o.doc, "components", "schemas") {
		if _, err := o.schema(name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	bad := []struct{ schema, body string }{
		{"Error", `{"code":"NOT_FOUND"}`},
		{"Error", `{"code":"NOPE","message":"x"}`},
		{"Image", `{"repository":"a","digest":"sha256:00","mediaType":"m","tags":[],"size":1,"pushedAt":"2026-01-01T00:00:00Z","scanStatus":"DONE","counts":{"CRITICAL":0,"HIGH":0,"MEDIUM":0,"LOW":0,"INFORMATIONAL":0,"UNTRIAGED":0,"TOTAL":0}}`},
		{"Token", `{"id":"1","name":"n","role":"admin","createdAt":"2026-01-01T00:00:00Z","hash":"ab"}`},
		{"NewToken", `{"token":{"id":"1","name":"n","role":"admin","createdAt":"2026-01-01T00:00:00Z"},"secret":"plain"}`},
		{"Event", `{"version":"0","id":"1","detail-type":"x","source":"s","account":"a","time":"yesterday","region":"r","resources":[],"detail":{}}`},
		// A webhook secret is never answered, but once in NewSecrets.
		{"EventRule", `{"Name":"r","EventPattern":{},"State":"ENABLED","CreatedAt":"2026-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","Targets":[{"Id":"h","Type":"webhook","Url":"https://x","Secret":"whsec_x"}]}`},
		{"EventRule", `{"Name":"r","EventPattern":"{}","State":"ENABLED","CreatedAt":"2026-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","Targets":[]}`},
		{"EventRule", `{"Name":"r","EventPattern":{},"State":"ENABLED","CreatedAt":"2026-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","Targets":[],"NewSecrets":{"h":"whsec_x"}}`},
		{"PutRuleResponse", `{"Name":"r","EventPattern":{},"State":"ENABLED","CreatedAt":"2026-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","Targets":[],"NewSecrets":{"h":"plain"}}`},
		{"Delivery", `{"id":1,"eventId":"e","eventSeq":1,"target":"t","state":"DEAD","attempts":1,"windowStart":"2026-01-01T00:00:00Z","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}`},
		// A gate request's token is in the answer to its creation only.
		{"GateRequestWithDecision", `{"request":{"id":"1","token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","repository":"a","pipeline":"p","state":"PENDING","deadline":"2026-01-01T00:00:00Z","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}}`},
		{"NewGateRequest", `{"request":{"id":"1","repository":"a","pipeline":"p","state":"PENDING","deadline":"2026-01-01T00:00:00Z","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}}`},
		{"GateDecision", `{"id":"1","requestId":"r","repository":"a","decision":"approved","policy":"default","reason":"x","trigger":"request","findings":[],"counts":{"CRITICAL":0,"HIGH":0,"MEDIUM":0,"LOW":0,"INFORMATIONAL":0,"UNTRIAGED":0,"TOTAL":0},"decidedAt":"2026-01-01T00:00:00Z"}`},
		// nullable lets null through where it is written, not elsewhere.
		{"GateCheck", `{"repository":"a","digest":"d","ready":false,"decision":"Rejected","policy":"default","reason":"x","scanStatus":"PENDING","findings":null,"counts":{"CRITICAL":0,"HIGH":0,"MEDIUM":0,"LOW":0,"INFORMATIONAL":0,"UNTRIAGED":0,"TOTAL":0}}`},
	}
	for _, b := range bad {
		s, err := o.schema(b.schema)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(b.body))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err == nil {
			t.Errorf("schema %s accepted %s", b.schema, b.body)
		}
	}
	good := []struct{ schema, body string }{
		{"EventRule", `{"Name":"r","EventPattern":{"source":["aws.ecr"]},"State":"DISABLED","CreatedAt":"2026-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z","Targets":null}`},
		{"GateDecision", `{"id":"1","requestId":"r","repository":"a","decision":"Rejected","policy":"default","reason":"x","trigger":"timeout","findings":null,"counts":{"CRITICAL":0,"HIGH":0,"MEDIUM":0,"LOW":0,"INFORMATIONAL":0,"UNTRIAGED":0,"TOTAL":0},"decidedAt":"2026-01-01T00:00:00Z"}`},
	}
	for _, g := range good {
		s, err := o.schema(g.schema)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(g.body))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("schema %s refused %s: %v", g.schema, g.body, err)
		}
	}
}

// TestOpenAPIServed checks that the API serves the document it embeds.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	r := h.call(readOnly, "GET", "/api/v1/openapi.yaml", nil).expect(t, http.StatusOK)
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.body, file) {
		t.Error("the served document differs from openapi.yaml")
	}
	if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q", ct)
	}
}
