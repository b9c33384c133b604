package bus

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/store"
)

func TestSignVerify(t *testing.T) {
	at := time.Unix(1764669600, 0)
	body := []byte(`{"id":"e1"}`)
	h := Sign("secret", at, body)
	// The signature is HMAC-SHA256 over "<t>.<body>", as documented,
	// computed here independently.
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write([]byte("1764669600." + string(body)))
	if want := "t=1764669600,v1=" + hex.EncodeToString(m.Sum(nil)); h != want {
		t.Fatalf("Sign: %s, want %s", h, want)
	}
	if err := Verify("secret", h, body, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for name, c := range map[string]struct {
		secret, header string
		body           []byte
		now            time.Time
	}{
		"other secret":  {"other", h, body, at},
		"tampered body": {"secret", h, []byte(`{"id":"e2"}`), at},
		"replayed late": {"secret", h, body, at.Add(time.Hour)},
		"malformed":     {"secret", "v1=abc", body, at},
		"other time":    {"secret", strings.Replace(h, "t=1764669600", "t=1764669601", 1), body, at},
	} {
		if err := Verify(c.secret, c.header, c.body, c.now, 5*time.Minute); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestAttemptOutcomes checks what becomes of a failed attempt: retried
// with backoff, or dead when the attempts or the event's age run out.
func TestAttemptOutcomes(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/redirect":
			http.Redirect(w, r, "/internal-admin?token=abc", http.StatusTemporaryRedirect)
		case "/internal-admin":
			followed.Add(1)
		case "/slow":
			io.Copy(io.Discard, r.Body) // so that the server notices when the client goes
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	policy, err := egress.New(egress.Options{Allow: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	b := &Bus{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BackoffBase: time.Second, BackoffMax: time.Minute, Now: func() time.Time { return now },
		Egress: policy, Timeout: 200 * time.Millisecond}
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	one := 1
	rule := func(path string, p *store.RetryPolicy) map[string]*compiled {
		url := srv.URL + path
		if strings.HasPrefix(path, "http:") {
			url = path
		}
		cr, err := compile(store.EventRule{Name: "r", EventPattern: []byte(`{}`), Targets: []store.Target{{ID: "w", Type: store.TargetWebhook, URL: url, RetryPolicy: p}}})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]*compiled{"r": cr}
	}
	d := func(attempts int, age time.Duration) *store.Delivery {
		return &store.Delivery{ID: 1, EventID: "e", Rule: "r", Target: "w", Attempts: attempts, WindowStart: now.Add(-age), Envelope: []byte(`{}`)}
	}
	cases := []struct {
		name   string
		rules  map[string]*compiled
		d      *store.Delivery
		state  string
		status int
		err    string
	}{
		{"5xx is retried", rule("/down", nil), d(0, 0), store.DeliveryPending, 502, "502"},
		{"429 is retried", rule("/busy", nil), d(3, 0), store.DeliveryPending, 429, "429"},
		{"410 is permanent", rule("/gone", nil), d(0, 0), store.DeliveryDead, 410, "410"},
		{"attempts run out", rule("/down", &store.RetryPolicy{MaximumRetryAttempts: &one}), d(1, 0), store.DeliveryDead, 502, "gave up after 2 attempts"},
		{"one retry left", rule("/down", &store.RetryPolicy{MaximumRetryAttempts: &one}), d(0, 0), store.DeliveryPending, 502, ""},
		{"default 185 retries", rule("/down", nil), d(185, 0), store.DeliveryDead, 502, "gave up after 186 attempts"},
		{"too old", rule("/down", &store.RetryPolicy{MaximumEventAgeInSeconds: 3600}), d(2, time.Hour), store.DeliveryDead, 502, "older than 1h0m0s"},
		{"rule deleted", map[string]*compiled{}, d(0, 0), store.DeliveryDead, 0, "deleted"},
		{"a redirect is not followed", rule("/redirect", nil), d(0, 0), store.DeliveryDead, 307, "redirects are not followed (Location: /internal-admin)"},
		{"no answer in time is retried", rule("/slow", nil), d(0, 0), store.DeliveryPending, 0, "no answer within 200ms"},
		{"a refused address is permanent", rule("http://127.0.0.2:"+port+"/x", nil), d(0, 0), store.DeliveryDead, 0, "127.0.0.2, a loopback address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := b.attempt(context.Background(), c.d, c.rules)
			if o.State != c.state || o.Status != c.status || !strings.Contains(o.Error, c.err) {
				t.Fatalf("outcome %+v, want %s %d %q", o, c.state, c.status, c.err)
			}
			if o.State == store.DeliveryPending {
				wait := o.NextAttemptAt.Sub(now)
				full := min(time.Second<<c.d.Attempts, time.Minute)
				if wait < full/2 || wait > full {
					t.Errorf("after %d attempts the next is in %s, want %s to %s", c.d.Attempts+1, wait, full/2, full)
				}
			}
		})
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@hooks.example.com/x?token=abc": "https://hooks.example.com/x",
		"http://h/p#frag": "http://h/p",
		"http://h/a@b":    "http://h/a@b",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestDefaultTimeout: an attempt is bounded by 10 s unless told.
func TestDefaultTimeout(t *testing.T) {
	if got := (&Bus{}).timeout(); got != 10*time.Second {
		t.Errorf("default timeout %s, want 10s", got)
	}
	if got := (&Bus{Timeout: time.Second}).timeout(); got != time.Second {
		t.Errorf("timeout %s, want the 1s set", got)
	}
}
