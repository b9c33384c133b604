package bus

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// ec2Event is the example event of EventBridge's input transformation
// page (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
const ec2Event = `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification",
"source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1",
"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-0123456789","state":"RUNNING","count":42,"tags":["a","b"]}}`

var ec2Paths = map[string]string{"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}

func TestTransformerDocumentedExamples(t *testing.T) {
	ctx := Context{RuleName: "example", RuleARN: "arn:aws:events:us-east-2:123456789012:rule/example", Ingestion: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	cases := []struct {
		name, template, want string
		isJSON               bool
	}{
		{"simple string", `"instance <instance> is in <state>"`, `"instance i-0123456789 is in RUNNING"`, true},
		{"string with escaped quotes", `"instance \"<instance>\" is in <state>"`, `"instance \"i-0123456789\" is in RUNNING"`, true},
		{"simple JSON", `{"instance" : <instance>, "state": <state>}`, `{"instance" : "i-0123456789", "state": "RUNNING"}`, true},
		{"JSON with strings and variables", `{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \"<instance>\" is in <state>"}`,
			`{"instance" : "i-0123456789", "state": "RUNNING", "instanceStatus": "instance \"i-0123456789\" is in RUNNING"}`, true},
		{"JSON with static information", `{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}`,
			`{"instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes"}`, true},
		{"reserved variables in JSON", `{"ruleArn" : <aws.events.rule-arn>, "ruleName" : <aws.events.rule-name>}`,
			`{"ruleArn" : "arn:aws:events:us-east-2:123456789012:rule/example", "ruleName" : "example"}`, true},
		{"reserved variables in a string", `"<aws.events.rule-name> triggered"`, `"example triggered"`, true},
		{"plain text", `<instance> is in state <state>`, `i-0123456789 is in state RUNNING`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTransformer(&store.InputTransformer{InputPathsMap: ec2Paths, InputTemplate: c.template})
			if err != nil {
				t.Fatal(err)
			}
			got, isJSON, err := tr.Apply([]byte(ec2Event), ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want || isJSON != c.isJSON {
				t.Errorf("got %s (json %v), want %s", got, isJSON, c.want)
			}
			if isJSON && !json.Valid(got) {
				t.Errorf("not JSON: %s", got)
			}
		})
	}
}

func TestTransformerValues(t *testing.T) {
	paths := map[string]string{
		"count": "$.detail.count", "tags": "$.detail.tags", "first": "$.detail.tags[0]", "missing": "$.detail.nope",
		"detail": "$.detail", "all": "$.detail.tags[*]", "quote": "$.detail.q",
	}
	event := strings.Replace(ec2Event, `"count":42`, `"count":42,"q":"say \"hi\"","big":12345678901234567890`, 1)
	cases := []struct{ template, want string }{
		{`{"n": <count>, "s": "<count>"}`, `{"n": 42, "s": "42"}`},
		{`{"tags": <tags>, "first": <first>, "all": <all>}`, `{"tags": ["a","b"], "first": "a", "all": ["a","b"]}`},
		// A missing path: null as a value, nothing inside a string.
		{`{"m": <missing>, "s": "x<missing>y"}`, `{"m": null, "s": "xy"}`},
		// A value with quotes stays valid inside a string.
		{`{"s": "<quote>"}`, `{"s": "say \"hi\""}`},
		{`count=<count> tags=<tags> missing=<missing>.`, `count=42 tags=["a","b"] missing=.`},
	}
	for _, c := range cases {
		tr, err := NewTransformer(&store.InputTransformer{InputPathsMap: paths, InputTemplate: c.template})
		if err != nil {
			t.Fatalf("%s: %v", c.template, err)
		}
		got, _, err := tr.Apply([]byte(event), Context{})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s: got %s, want %s", c.template, got, c.want)
		}
	}
	// The whole event, and the event without its detail.
	tr, _ := NewTransformer(&store.InputTransformer{InputTemplate: `{"e": <aws.events.event.json>, "h": <aws.events.event>}`})
	got, _, err := tr.Apply([]byte(event), Context{})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		E map[string]json.RawMessage `json:"e"`
		H map[string]json.RawMessage `json:"h"`
	}
	if err := json.Unmarshal(got, &out); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if _, ok := out.E["detail"]; !ok || len(out.E) != 9 {
		t.Errorf("aws.events.event.json: %s", got)
	}
	if _, ok := out.H["detail"]; ok || string(out.H["id"]) != `"7bf73129-1428-4cd3-a780-95db273d1602"` {
		t.Errorf("aws.events.event: %s", got)
	}
	if !strings.Contains(string(out.E["detail"]), "12345678901234567890") {
		t.Errorf("a big number was not passed through as written: %s", out.E["detail"])
	}
}

func TestTransformerInvalid(t *testing.T) {
	many := map[string]string{}
	for i := 0; i < 101; i++ {
		many[strings.Repeat("v", i+1)] = "$.detail"
	}
	cases := []struct {
		name  string
		t     store.InputTransformer
		error string
	}{
		{"no template", store.InputTransformer{InputPathsMap: ec2Paths}, "InputTemplate is required"},
		{"undefined variable", store.InputTransformer{InputTemplate: `"<nope>"`}, "<nope> is not in InputPathsMap"},
		{"path without $", store.InputTransformer{InputPathsMap: map[string]string{"a": "detail.a"}, InputTemplate: `<a>`}, "must start with $"},
		{"bad index", store.InputTransformer{InputPathsMap: map[string]string{"a": "$.a[x]"}, InputTemplate: `<a>`}, `index "x"`},
		{"predefined name", store.InputTransformer{InputPathsMap: map[string]string{"aws.events.rule-name": "$.a"}, InputTemplate: `<a>`}, "predefined"},
		{"bad name", store.InputTransformer{InputPathsMap: map[string]string{"a b": "$.a"}, InputTemplate: `x`}, "variable name"},
		{"too many", store.InputTransformer{InputPathsMap: many, InputTemplate: `x`}, "101 variables"},
		{"broken JSON", store.InputTransformer{InputPathsMap: ec2Paths, InputTemplate: `{"a": <state>,}`}, "not JSON"},
		{"placeholder as key", store.InputTransformer{InputPathsMap: ec2Paths, InputTemplate: `{<state>: 1}`}, "not JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewTransformer(&c.t)
			if err == nil || !strings.Contains(err.Error(), c.error) {
				t.Errorf("error %v, want one saying %q", err, c.error)
			}
		})
	}
}

func FuzzTransformer(f *testing.F) {
	f.Add(`{"a": <state>, "b": "<instance> x"}`, "$.detail.state")
	f.Add(`"<state>"`, "$.detail.tags[1]")
	f.Add(`<state> and <state>`, "$.*")
	f.Fuzz(func(t *testing.T, template, path string) {
		tr, err := NewTransformer(&store.InputTransformer{InputPathsMap: map[string]string{"state": path, "instance": "$.detail.instance-id"}, InputTemplate: template})
		if err != nil {
			return
		}
		out, isJSON, err := tr.Apply([]byte(ec2Event), Context{RuleName: "r"})
		if err != nil {
			t.Fatal(err)
		}
		if isJSON && !json.Valid(out) {
			t.Errorf("template %q path %q: output is not JSON: %s", template, path, out)
		}
	})
}
