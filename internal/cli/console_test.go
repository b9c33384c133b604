package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/server"
)

// TestConfigConsoleSessions: the configuration file's console section
// reaches the console: the session cookie is Secure on plain HTTP when
// told so, and lasts the configured idle time; a negative duration stops
// the start, naming the setting.
func TestConfigConsoleSessions(t *testing.T) {
	ctx := context.Background()
	serverConfig := func(yaml string) (server.Config, error) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(file, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		a := &app{env: Env{Getenv: func(string) string { return "" }}, cfg: cfg}
		return a.serverConfig(&serverFlags{data: t.TempDir(), dbDir: t.TempDir()}, "127.0.0.1:0")
	}
	scfg, err := serverConfig("console:\n  sessionIdle: 10m\n  sessionLifetime: 30m\n  secureCookies: true\n")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	file, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	req, _ := http.NewRequest("POST", hs.URL+"/signin", strings.NewReader(url.Values{"token": {strings.TrimSpace(string(token))}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", hs.URL)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "vigil_session" {
			ck = c
		}
	}
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	if ck == nil || !ck.Secure {
		t.Fatalf("sign-in: %d, cookie %+v", resp.StatusCode, ck)
	}
	// The server's own clock on both sides: the Date header and the
	// cookie's expiry, each to the second.
	if d := ck.Expires.Sub(date); d < 10*time.Minute-2*time.Second || d > 10*time.Minute+time.Second {
		t.Errorf("the cookie lasts %s after the response, want the configured 10m", d)
	}

	if _, err := serverConfig("console:\n  sessionLifetime: -1h\n"); err == nil || !strings.Contains(err.Error(), "console.sessionLifetime") {
		t.Errorf("a negative lifetime: %v", err)
	}
}
