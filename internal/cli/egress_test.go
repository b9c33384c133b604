package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/store"
)

// TestEgressRefusalShown: the command line shows the server's refusal of
// a webhook or callback URL, with the URL and why.
func TestEgressRefusalShown(t *testing.T) {
	r := newRemote(t)
	cases := []struct {
		role string
		args []string
		want []string
	}{
		{store.RoleAdmin, []string{"rules", "put", "ssrf", "--pattern", `{"source":["aws.inspector2"]}`, "--webhook", "http://127.0.0.1:8080/internal-admin"},
			[]string{"400", "webhook-1", "http://127.0.0.1:8080/internal-admin", "loopback", "--egress-allow"}},
		{store.RolePipeline, []string{"gate", "wait", "team/app:1.0", "--pipeline", "deploy", "--callback", "http://169.254.169.254/latest/meta-data/"},
			[]string{"400", "callbackUrl", "http://169.254.169.254/latest/meta-data/", "metadata"}},
	}
	for _, c := range cases {
		code, _, errs := runRemote(r.as(c.role).env, c.args...)
		if code != ExitError {
			t.Errorf("vigil %s: exit %d, want %d\n%s", strings.Join(c.args, " "), code, ExitError, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("vigil %s: the error does not say %q:\n%s", strings.Join(c.args, " "), w, errs)
			}
		}
	}
}

// TestEgressConfig: the allow-list is the configuration file's and the
// flags' together; the delivery timeout is the flag's, else the file's.
func TestEgressConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("egress:\n  allow: [10.0.0.0/8, hooks.internal]\n  timeout: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a := &app{cfg: cfg}
	for _, c := range []struct {
		flags   []string
		allow   []string
		timeout time.Duration
	}{
		{nil, []string{"10.0.0.0/8", "hooks.internal"}, 3 * time.Second},
		{[]string{"--egress-allow", "127.0.0.1/32", "--egress-allow", "fd00::/8,192.168.1.5", "--delivery-timeout", "5s"},
			[]string{"10.0.0.0/8", "hooks.internal", "127.0.0.1/32", "fd00::/8", "192.168.1.5"}, 5 * time.Second},
	} {
		var f serverFlags
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		f.register(fs, 1)
		if err := fs.Parse(c.flags); err != nil {
			t.Fatal(err)
		}
		sc, err := a.serverConfig(&f, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sc.EgressAllow, c.allow) || sc.DeliveryTimeout != c.timeout {
			t.Errorf("flags %v: allow %v, timeout %s; want %v, %s", c.flags, sc.EgressAllow, sc.DeliveryTimeout, c.allow, c.timeout)
		}
	}
	// A bad entry stops `vigil serve`, naming it.
	code, _, errs := runVigilCode(map[string]string{"HOME": t.TempDir()}, "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--egress-allow", "10.0.0.0/33")
	if code == 0 || !strings.Contains(errs, "10.0.0.0/33") {
		t.Errorf("serve with a bad --egress-allow: exit %d\n%s", code, errs)
	}
}
