package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/store"
)

// The example of EventBridge's documentation (Event patterns, and
// TestEventPattern): an EC2 state-change event and a pattern on its source
// and detail-type.
var (
	ec2Event = map[string]any{
		"version":     "0",
		"id":          "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
		"detail-type": "EC2 Instance State-change Notification",
		"source":      "aws.ec2",
		"account":     "111122223333",
		"time":        "2017-12-22T18:43:48Z",
		"region":      "us-west-1",
		"resources":   []string{"arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"},
		"detail":      map[string]any{"instance-id": "i-1234567890abcdef0", "state": "terminated"},
	}
	ec2Pattern = map[string]any{
		"source":      []string{"aws.ec2"},
		"detail-type": []string{"EC2 Instance State-change Notification"},
	}
)

// storeEventRule stores a rule with a log target directly, for the routes
// that need one.
func storeEventRule(t *testing.T, h *harness, name string) string {
	t.Helper()
	err := h.Store.PutEventRule(context.Background(), store.EventRule{
		Name: name, EventPattern: json.RawMessage(`{"source":["aws.ecr"]}`), State: "ENABLED", ManagedBy: "api",
		Targets:   []store.Target{{ID: "log", Type: store.TargetLog}},
		CreatedAt: apitest.Now, UpdatedAt: apitest.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// eventRule is a rule as answered.
type eventRule struct {
	Name         string
	Description  string
	EventPattern json.RawMessage
	State        string
	ManagedBy    string
	Targets      []struct {
		Id, Type, Url, Secret string
		HasSecret             bool
		RetryPolicy           *struct {
			MaximumEventAgeInSeconds int
			MaximumRetryAttempts     *int
		}
	}
	NewSecrets map[string]string
}

// sameJSON reports whether two JSON texts are the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestPutRule creates a rule with a webhook, replaces it, and checks what
// is stored and what is answered: the secret the server made is shown
// once, kept when a replacement leaves it out, and never answered again.
func TestPutRule(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	hook := func(secret string) map[string]any {
		m := map[string]any{"Id": "hook", "Type": "webhook", "Url": "https://hooks.example/vigil",
			"RetryPolicy": map[string]any{"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 0}}
		if secret != "" {
			m["Secret"] = secret
		}
		return m
	}
	body := map[string]any{
		"Description":  "critical findings to the pager",
		"EventPattern": map[string]any{"source": []string{"aws.inspector2"}, "detail": map[string]any{"severity": []string{"CRITICAL"}}},
		"Targets":      []any{hook(""), map[string]any{"Id": "log", "Type": "log"}},
	}

	// Created: 201, the made secret shown in NewSecrets only.
	r := h.call(admin, "PUT", "/api/v1/rules/pager", body).expect(t, http.StatusCreated)
	var created eventRule
	r.decode(t, &created)
	secret := created.NewSecrets["hook"]
	if !strings.HasPrefix(secret, "whsec_") || len(created.NewSecrets) != 1 {
		t.Fatalf("NewSecrets %v, want one whsec_ secret for hook", created.NewSecrets)
	}
	if created.Name != "pager" || created.State != "ENABLED" || created.ManagedBy != "api" || len(created.Targets) != 2 {
		t.Errorf("created %+v", created)
	}
	if tg := created.Targets[0]; tg.Id != "hook" || !tg.HasSecret || tg.Secret != "" || tg.RetryPolicy == nil ||
		tg.RetryPolicy.MaximumEventAgeInSeconds != 3600 || tg.RetryPolicy.MaximumRetryAttempts == nil || *tg.RetryPolicy.MaximumRetryAttempts != 0 {
		t.Errorf("webhook target answered %+v", tg)
	}
	if tg := created.Targets[1]; tg.Id != "log" || tg.HasSecret {
		t.Errorf("log target answered %+v", tg)
	}
	if strings.Count(string(r.body), secret) != 1 {
		t.Errorf("the secret is answered other than once in NewSecrets:\n%s", r.body)
	}
	stored, err := h.Store.EventRule(ctx, "pager")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Targets[0].Secret != secret {
		t.Errorf("stored secret %q, answered %q", stored.Targets[0].Secret, secret)
	}

	// Never again: neither GET nor the list shows it.
	for _, path := range []string{"/api/v1/rules/pager", "/api/v1/rules"} {
		r := h.call(readOnly, "GET", path, nil).expect(t, http.StatusOK)
		if strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), "NewSecrets") || strings.Contains(string(r.body), `"Secret"`) {
			t.Errorf("GET %s shows the secret:\n%s", path, r.body)
		}
	}
	var got eventRule
	h.call(readOnly, "GET", "/api/v1/rules/pager", nil).expect(t, http.StatusOK).decode(t, &got)
	if !got.Targets[0].HasSecret || got.Description != "critical findings to the pager" ||
		!sameJSON(t, got.EventPattern, []byte(`{"source":["aws.inspector2"],"detail":{"severity":["CRITICAL"]}}`)) {
		t.Errorf("GET answered %+v", got)
	}
	var list struct{ Rules []eventRule }
	h.call(readOnly, "GET", "/api/v1/rules", nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Rules) != 1 || list.Rules[0].Name != "pager" || !list.Rules[0].Targets[0].HasSecret {
		t.Errorf("list %+v", list)
	}

	// Replaced without Secret: 200, the secret kept, nothing new shown.
	body["Description"] = "criticals, paged"
	r = h.call(admin, "PUT", "/api/v1/rules/pager", body).expect(t, http.StatusOK)
	var replaced eventRule
	r.decode(t, &replaced)
	if replaced.NewSecrets != nil || strings.Contains(string(r.body), secret) {
		t.Errorf("the replacement shows a secret:\n%s", r.body)
	}
	if replaced.Description != "criticals, paged" || !replaced.Targets[0].HasSecret {
		t.Errorf("replaced %+v", replaced)
	}
	if stored, err := h.Store.EventRule(ctx, "pager"); err != nil || stored.Targets[0].Secret != secret || stored.Description != "criticals, paged" {
		t.Errorf("after the replacement the store holds %+v, %v; want the secret kept", stored, err)
	}

	// The rule as GET answers it (HasSecret, no Secret) sent back: the
	// secret stays, and nothing is shown.
	var read map[string]any
	h.call(admin, "GET", "/api/v1/rules/pager", nil).expect(t, http.StatusOK).decode(t, &read)
	for _, k := range []string{"CreatedAt", "UpdatedAt", "ManagedBy"} {
		delete(read, k)
	}
	r = h.call(admin, "PUT", "/api/v1/rules/pager", read).expect(t, http.StatusOK)
	if strings.Contains(string(r.body), "NewSecrets") {
		t.Errorf("a round trip made a new secret:\n%s", r.body)
	}
	if stored, err := h.Store.EventRule(ctx, "pager"); err != nil || stored.Targets[0].Secret != secret {
		t.Errorf("after a round trip the store holds %+v, %v; want the secret kept", stored, err)
	}

	// Replaced with a Secret: that one is stored, and not shown.
	body["Targets"] = []any{hook("my-own-secret")}
	r = h.call(admin, "PUT", "/api/v1/rules/pager", body).expect(t, http.StatusOK)
	if strings.Contains(string(r.body), "my-own-secret") || strings.Contains(string(r.body), "NewSecrets") {
		t.Errorf("a given secret is answered:\n%s", r.body)
	}
	if stored, err := h.Store.EventRule(ctx, "pager"); err != nil || len(stored.Targets) != 1 || stored.Targets[0].Secret != "my-own-secret" {
		t.Errorf("store holds %+v, %v", stored, err)
	}

	// A new webhook Id gets a secret of its own, shown once.
	body["Targets"] = []any{hook(""), map[string]any{"Id": "second", "Type": "webhook", "Url": "http://other.example/"}}
	var again eventRule
	h.call(admin, "PUT", "/api/v1/rules/pager", body).expect(t, http.StatusOK).decode(t, &again)
	if len(again.NewSecrets) != 1 || again.NewSecrets["second"] == "" || again.NewSecrets["second"] == secret {
		t.Errorf("NewSecrets %v, want a new one for second only", again.NewSecrets)
	}
	if stored, err := h.Store.EventRule(ctx, "pager"); err != nil || stored.Targets[0].Secret != "my-own-secret" || stored.Targets[1].Secret != again.NewSecrets["second"] {
		t.Errorf("store holds %+v, %v", stored, err)
	}
}

// TestPutRuleRequests checks what PUT /rules/{name} accepts and refuses.
func TestPutRuleRequests(t *testing.T) {
	pattern := map[string]any{"source": []string{"aws.ecr"}}
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		msg        []string // in the error message
		pattern    string   // the pattern stored, for accepted ones
	}{
		{"pattern as an object", "/api/v1/rules/a", map[string]any{"EventPattern": pattern}, 201, nil, `{"source":["aws.ecr"]}`},
		{"pattern as a string", "/api/v1/rules/a", map[string]any{"EventPattern": `{"source":["aws.ecr"],"detail":{"action-type":["PUSH"]}}`}, 201, nil,
			`{"source":["aws.ecr"],"detail":{"action-type":["PUSH"]}}`},
		{"name given, the same", "/api/v1/rules/a", map[string]any{"Name": "a", "EventPattern": pattern, "State": "DISABLED"}, 201, nil, `{"source":["aws.ecr"]}`},
		{"name mismatch", "/api/v1/rules/a", map[string]any{"Name": "b", "EventPattern": pattern}, 400, []string{`"b"`, `"a"`}, ""},
		{"bad name", "/api/v1/rules/no%20spaces", map[string]any{"EventPattern": pattern}, 400, []string{"no spaces"}, ""},
		{"no pattern", "/api/v1/rules/a", map[string]any{"Description": "x"}, 400, []string{"EventPattern"}, ""},
		{"numeric without operand", "/api/v1/rules/a", map[string]any{"EventPattern": json.RawMessage(`{"detail":{"n":[{"numeric":["<"]}]}}`)}, 400,
			[]string{"detail.n", "numeric", `"<" must be followed by a number`}, ""},
		{"anything-but empty", "/api/v1/rules/a", map[string]any{"EventPattern": json.RawMessage(`{"detail":{"severity":[{"anything-but":[]}]}}`)}, 400,
			[]string{"detail.severity", "anything-but"}, ""},
		{"bad cidr", "/api/v1/rules/a", map[string]any{"EventPattern": json.RawMessage(`{"detail":{"ip":[{"cidr":"10.0.0.0/99"}]}}`)}, 400,
			[]string{"detail.ip", "cidr"}, ""},
		{"value not an array", "/api/v1/rules/a", map[string]any{"EventPattern": json.RawMessage(`{"source":"aws.ecr"}`)}, 400,
			[]string{"source", "array"}, ""},
		{"pattern not an object", "/api/v1/rules/a", map[string]any{"EventPattern": json.RawMessage(`["aws.ecr"]`)}, 400, []string{"JSON object"}, ""},
		{"bad string pattern", "/api/v1/rules/a", map[string]any{"EventPattern": `{"source":`}, 400, []string{"EventPattern"}, ""},
		// A PutRule request as EventBridge's API reference shows it (the
		// pattern of `aws events put-rule --event-pattern`, as a string).
		{"EventBridge PutRule shape", "/api/v1/rules/a", json.RawMessage(`{"Name":"a","Description":"EC2 instances stopping",` +
			`"EventPattern":"{\"source\":[\"aws.ec2\"],\"detail-type\":[\"EC2 Instance State-change Notification\"]}","State":"ENABLED",` +
			`"Targets":[{"Id":"log","Type":"log","RetryPolicy":{"MaximumRetryAttempts":3,"MaximumEventAgeInSeconds":3600}}]}`), 201, nil,
			`{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"]}`},
		{"malformed pattern string", "/api/v1/rules/a", json.RawMessage(`{"Name":"a","EventPattern":"{\"source\":[\"aws.ec2\"]","State":"ENABLED"}`), 400,
			[]string{"EventPattern", "invalid JSON at offset 21", "expected ',' or '}'"}, ""},
		{"pattern string holding a string", "/api/v1/rules/a", map[string]any{"EventPattern": `"{}"`}, 400, []string{"EventPattern", "string holding a string"}, ""},
		{"empty pattern string", "/api/v1/rules/a", map[string]any{"EventPattern": " "}, 400, []string{"EventPattern", "empty"}, ""},
		{"an ARN target is not Vigil's", "/api/v1/rules/a", map[string]any{"EventPattern": pattern,
			"Targets": []any{map[string]any{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:queue"}}}, 400, []string{"Arn"}, ""},
		{"bad state", "/api/v1/rules/a", map[string]any{"EventPattern": pattern, "State": "PAUSED"}, 400, []string{"PAUSED"}, ""},
		{"webhook without url", "/api/v1/rules/a", map[string]any{"EventPattern": pattern,
			"Targets": []any{map[string]any{"Id": "h", "Type": "webhook"}}}, 400, []string{"Url"}, ""},
		{"unknown target type", "/api/v1/rules/a", map[string]any{"EventPattern": pattern,
			"Targets": []any{map[string]any{"Id": "q", "Type": "sqs"}}}, 400, []string{"sqs"}, ""},
		{"target id twice", "/api/v1/rules/a", map[string]any{"EventPattern": pattern,
			"Targets": []any{map[string]any{"Id": "l", "Type": "log"}, map[string]any{"Id": "l", "Type": "log"}}}, 400, []string{`"l"`}, ""},
		{"retry attempts out of range", "/api/v1/rules/a", map[string]any{"EventPattern": pattern,
			"Targets": []any{map[string]any{"Id": "l", "Type": "log", "RetryPolicy": map[string]any{"MaximumRetryAttempts": 186}}}}, 400,
			[]string{"MaximumRetryAttempts"}, ""},
		{"description too long", "/api/v1/rules/a", map[string]any{"EventPattern": pattern, "Description": strings.Repeat("x", 513)}, 400,
			[]string{"Description"}, ""},
		{"unknown field", "/api/v1/rules/a", map[string]any{"EventPattern": pattern, "Pattern": "x"}, 400, []string{"Pattern"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.call(admin, "PUT", tc.path, tc.body).expect(t, tc.status)
			if tc.status >= 400 {
				_, msg := r.apiError(t)
				for _, m := range tc.msg {
					if !strings.Contains(msg, m) {
						t.Errorf("message %q does not name %q", msg, m)
					}
				}
				if rules, err := h.Store.EventRules(context.Background()); err != nil || len(rules) != 0 {
					t.Errorf("a refused rule was stored: %+v, %v", rules, err)
				}
				return
			}
			var got eventRule
			r.decode(t, &got)
			if !sameJSON(t, got.EventPattern, []byte(tc.pattern)) {
				t.Errorf("answered pattern %s, want %s", got.EventPattern, tc.pattern)
			}
			stored, err := h.Store.EventRule(context.Background(), "a")
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, stored.EventPattern, []byte(tc.pattern)) {
				t.Errorf("stored pattern %s, want %s", stored.EventPattern, tc.pattern)
			}
		})
	}
}

// TestDeleteRule deletes a rule, then finds it gone.
func TestDeleteRule(t *testing.T) {
	h := newHarness(t)
	name := storeEventRule(t, h, "gone-soon")
	h.call(readOnly, "GET", "/api/v1/rules/"+name, nil).expect(t, http.StatusOK)
	h.call(admin, "DELETE", "/api/v1/rules/"+name, nil).expect(t, http.StatusNoContent)
	h.call(admin, "DELETE", "/api/v1/rules/"+name, nil).expect(t, http.StatusNotFound)
	h.call(readOnly, "GET", "/api/v1/rules/"+name, nil).expect(t, http.StatusNotFound)
	if _, err := h.Store.EventRule(context.Background(), name); err == nil {
		t.Error("the rule is still stored")
	}
	h.call(readOnly, "GET", "/api/v1/rules/never", nil).expect(t, http.StatusNotFound)
	h.call(readOnly, "GET", "/api/v1/rules/"+name+"?verbose=1", nil).expect(t, http.StatusBadRequest)
}

// TestTestEventPattern is EventBridge's documented example, matched and
// not, and the requests TestEventPattern refuses.
func TestTestEventPattern(t *testing.T) {
	h := newHarness(t)
	ev, err := json.Marshal(ec2Event)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		result bool
		msg    []string
	}{
		{"documented example", map[string]any{"EventPattern": ec2Pattern, "Event": ec2Event}, 200, true, nil},
		{"as strings", map[string]any{"EventPattern": `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"]}`, "Event": string(ev)}, 200, true, nil},
		{"with the detail's state", map[string]any{"EventPattern": map[string]any{"source": []string{"aws.ec2"}, "detail": map[string]any{"state": []string{"terminated", "stopped"}}}, "Event": ec2Event}, 200, true, nil},
		{"another source", map[string]any{"EventPattern": map[string]any{"source": []string{"aws.ecr"}, "detail-type": []string{"EC2 Instance State-change Notification"}}, "Event": ec2Event}, 200, false, nil},
		{"another detail-type", map[string]any{"EventPattern": map[string]any{"source": []string{"aws.ec2"}, "detail-type": []string{"EC2 Spot Instance Interruption Warning"}}, "Event": ec2Event}, 200, false, nil},
		{"another state", map[string]any{"EventPattern": map[string]any{"source": []string{"aws.ec2"}, "detail": map[string]any{"state": []string{"running"}}}, "Event": ec2Event}, 200, false, nil},
		{"invalid pattern", map[string]any{"EventPattern": json.RawMessage(`{"detail":{"n":[{"numeric":["<"]}]}}`), "Event": ec2Event}, 400, false,
			[]string{"detail.n", "numeric"}},
		{"pattern missing", map[string]any{"Event": ec2Event}, 400, false, []string{"EventPattern"}},
		{"event missing", map[string]any{"EventPattern": ec2Pattern}, 400, false, []string{"Event is required"}},
		{"event not an object", map[string]any{"EventPattern": ec2Pattern, "Event": []int{1}}, 400, false, []string{"object"}},
		{"unknown field", map[string]any{"EventPattern": ec2Pattern, "Event": ec2Event, "Pattern": "x"}, 400, false, []string{"Pattern"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(readOnly, "POST", "/api/v1/rules/test", tc.body).expect(t, tc.status)
			if tc.status >= 400 {
				_, msg := r.apiError(t)
				for _, m := range tc.msg {
					if !strings.Contains(msg, m) {
						t.Errorf("message %q does not name %q", msg, m)
					}
				}
				return
			}
			var res map[string]bool
			r.decode(t, &res)
			if got, ok := res["Result"]; !ok || got != tc.result {
				t.Errorf("answer %s, want Result %v", r.body, tc.result)
			}
		})
	}
}
