package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/api/apitest"
	"github.com/vigilsec/vigil/internal/egress"
)

// refusedURLs has a URL of every class the default egress policy
// refuses, with the words the refusal must use.
var refusedURLs = []struct{ url, reason string }{
	{"http://127.0.0.1:8080/internal-admin", "loopback"},
	{"http://[::1]:8080/internal-admin", "loopback"},
	{"http://localhost:8080/internal-admin", "loopback"},
	{"http://169.254.169.254/latest/meta-data/", "metadata"},
	{"http://[fd00:ec2::254]/latest/meta-data/", "metadata"},
	{"http://169.254.1.1/internal-admin", "link-local"},
	{"http://[fe80::1]/internal-admin", "link-local"},
	{"http://10.0.0.1/internal-admin", "private"},
	{"http://172.16.0.1/internal-admin", "private"},
	{"https://192.168.1.1/internal-admin", "private"},
	{"http://[fc00::1]/internal-admin", "private"},
	{"http://100.64.0.1/internal-admin", "carrier-grade NAT"},
	{"http://0.0.0.0:8080/internal-admin", "unspecified"},
	{"http://[::]:8080/internal-admin", "unspecified"},
	{"http://224.0.0.1/internal-admin", "multicast"},
	{"http://[ff02::1]/internal-admin", "multicast"},
	{"http://[::ffff:127.0.0.1]:8080/internal-admin", "loopback"},
	{"http://[::ffff:169.254.169.254]/internal-admin", "metadata"},
	{"http://[::ffff:10.0.0.1]/internal-admin", "private"},
	{"http://2130706433:8080/internal-admin", "numeric"},
}

// TestRuleTargetRefused: a rule whose webhook URL the egress policy
// refuses is answered 400, naming the target, the URL and why, and is not
// stored.
func TestRuleTargetRefused(t *testing.T) {
	h := newHarness(t)
	for _, c := range refusedURLs {
		body := map[string]any{"EventPattern": map[string]any{"source": []string{"aws.inspector2"}},
			"Targets": []any{map[string]any{"Id": "hook", "Type": "webhook", "Url": c.url}}}
		r := h.call(admin, "PUT", "/api/v1/rules/ssrf", body).expect(t, http.StatusBadRequest)
		if _, msg := r.apiError(t); !strings.Contains(msg, "Targets[0] (hook)") || !strings.Contains(msg, c.url) || !strings.Contains(msg, c.reason) {
			t.Errorf("%s: %q, want the target, the URL and %q", c.url, msg, c.reason)
		}
	}
	h.call(admin, "GET", "/api/v1/rules/ssrf", nil).expect(t, http.StatusNotFound)
}

// TestCallbackRefused: a gate request (with a pipeline's token) whose
// callback URL the egress policy refuses is answered 400, naming the URL
// and why.
func TestCallbackRefused(t *testing.T) {
	h := newHarness(t)
	for _, c := range refusedURLs {
		r := h.call(pipeline, "POST", "/api/v1/gate/requests", map[string]any{
			"image": "team/app:1.0", "pipeline": "deploy", "callbackUrl": c.url}).expect(t, http.StatusBadRequest)
		if _, msg := r.apiError(t); !strings.Contains(msg, "callbackUrl") || !strings.Contains(msg, c.url) || !strings.Contains(msg, c.reason) {
			t.Errorf("%s: %q, want the URL and %q", c.url, msg, c.reason)
		}
	}
}

// TestEgressAllowList: what the server's allow-list opens is accepted.
func TestEgressAllowList(t *testing.T) {
	p, err := egress.New(egress.Options{Allow: []string{"127.0.0.1/32", "10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{Server: apitest.New(t, apitest.WithEgress(p)), t: t}
	body := map[string]any{"EventPattern": map[string]any{"source": []string{"aws.inspector2"}},
		"Targets": []any{map[string]any{"Id": "hook", "Type": "webhook", "Url": "http://127.0.0.1:8080/hook"},
			map[string]any{"Id": "internal", "Type": "webhook", "Url": "https://10.1.2.3/hook"}}}
	h.call(admin, "PUT", "/api/v1/rules/self-hosted", body).expect(t, http.StatusCreated)
	h.call(pipeline, "POST", "/api/v1/gate/requests", map[string]any{
		"image": "team/app:1.0", "pipeline": "deploy", "callbackUrl": "http://10.0.0.7:9000/cb"}).expect(t, http.StatusCreated)
	// What it does not name stays refused.
	body["Targets"] = []any{map[string]any{"Id": "hook", "Type": "webhook", "Url": "http://192.168.0.1/hook"}}
	h.call(admin, "PUT", "/api/v1/rules/other", body).expect(t, http.StatusBadRequest)
}
