package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/testenv"
)

// ciCommands returns the vigil command lines of the example pipelines
// under docs/ci, continuation lines joined, as argument lists.
func ciCommands(t *testing.T) map[string][][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "ci", "*.yml"))
	if err != nil || len(files) != 2 {
		t.Fatalf("docs/ci: %v %v", files, err)
	}
	line := regexp.MustCompile(`^\s*(?:- )?vigil (.*)$`)
	out := map[string][][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "\\\n", " ")
		text = regexp.MustCompile(`\$\{\{[^}]*\}\}`).ReplaceAllString(text, "x")
		for _, l := range strings.Split(text, "\n") {
			if m := line.FindStringSubmatch(l); m != nil {
				var args []string
				for _, a := range strings.Fields(m[1]) {
					args = append(args, strings.Trim(a, `"`))
				}
				out[filepath.Base(f)] = append(out[filepath.Base(f)], args)
			}
		}
	}
	return out
}

// TestCIDocs: every vigil command of the example pipelines is one the
// command line accepts, and their client-mode scan of a docker save
// tarball runs as its comment says, .trivyignore included.
func TestCIDocs(t *testing.T) {
	cmds := ciCommands(t)
	var scans [][]string
	for file, list := range cmds {
		if len(list) < 2 {
			t.Errorf("%s: %d vigil commands, want a scan and a gate wait", file, len(list))
		}
		for _, args := range list {
			root := (&app{env: Env{Out: io.Discard, Err: io.Discard}}).root()
			cmd, rest, err := root.Find(args)
			if err == nil {
				err = cmd.ParseFlags(rest)
			}
			if err == nil && cmd.Args != nil {
				err = cmd.Args(cmd, cmd.Flags().Args())
			}
			if err != nil || cmd == root {
				t.Errorf("%s: vigil %s: %v", file, strings.Join(args, " "), err)
			}
			if args[0] == "scan" {
				scans = append(scans, args)
			}
		}
	}
	if len(scans) != 2 {
		t.Fatalf("scans %v, want one per pipeline", scans)
	}

	// A server over the Alpine secdb, and the runner's docker save of
	// alpine-3.7.3, whose two findings (CVE-2019-14697) are UNTRIAGED.
	env := alpineDB(t)
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DBDir: filepath.Join(env["VIGIL_CACHE_DIR"], "db"),
		TempDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	tokenFile, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := os.ReadFile(tokenFile)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	c, err := apiclient.New(hs.URL, strings.TrimSpace(string(admin)), nil)
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := c.CreateToken(ctx, "ci", store.RolePipeline)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	execTool(t, "skopeo", "copy", "--quiet", "oci:"+testenv.Image(t, "alpine-3.7.3")+":latest", "docker-archive:app.tar:team/app:1.0")
	runner := t.TempDir()
	renv := map[string]string{"HOME": runner, "VIGIL_CACHE_DIR": runner, "VIGIL_TOKEN": pipeline.Secret}
	run := func(args []string) (int, string) {
		var a []string
		for _, s := range args {
			a = append(a, strings.ReplaceAll(s, "$VIGIL_SERVER", hs.URL))
		}
		code, _, errs := runVigilCode(renv, append(a, "--format", "json")...)
		return code, errs
	}
	for _, args := range scans {
		if code, errs := run(args); code != 0 {
			t.Errorf("vigil %s: exit %d, want 0: no HIGH or CRITICAL finding\n%s", strings.Join(args, " "), code, errs)
		}
		var untriaged []string
		for i, a := range args {
			if i > 0 && args[i-1] == "--severity" {
				a = "UNTRIAGED"
			}
			untriaged = append(untriaged, a)
		}
		if code, errs := run(untriaged); code != 1 || !strings.Contains(errs, "2 findings of severity UNTRIAGED remain (--exit-code 1)") {
			t.Errorf("with --severity UNTRIAGED: exit %d, want 1\n%s", code, errs)
		}
		os.WriteFile(".trivyignore", []byte("# musl is patched in our base image\nCVE-2019-14697\n"), 0o644)
		if code, errs := run(untriaged); code != 0 {
			t.Errorf("with .trivyignore: exit %d, want 0\n%s", code, errs)
		}
		os.Remove(".trivyignore")
	}
}
