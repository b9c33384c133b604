package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// runOnTerminal runs vigil as if standard output were a terminal.
func runOnTerminal(t *testing.T, args ...string) string {
	t.Helper()
	cache := t.TempDir()
	env := map[string]string{"HOME": cache, "VIGIL_CACHE_DIR": cache}
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, Env{Out: &out, Err: &errb, OutIsTerminal: true, Getenv: func(k string) string { return env[k] }})
	if code != 0 {
		t.Fatalf("vigil %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// TestSbomTable: vigil sbom prints a table on a terminal, JSON otherwise
// and into --output; the table lists what apk's database, read by tar
// from the official minirootfs, holds.
func TestSbomTable(t *testing.T) {
	img := testenv.Image(t, "alpine-3.7.3")
	testenv.Tool(t, "tar")
	db, err := exec.Command("tar", "-xzOf", testenv.Shared(t, "images/alpine/alpine-minirootfs-3.7.3-x86_64.tar.gz"), "./lib/apk/db/installed").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var name string
	for _, l := range strings.Split(string(db), "\n") {
		if v, ok := strings.CutPrefix(l, "P:"); ok {
			name = v
		} else if v, ok := strings.CutPrefix(l, "V:"); ok {
			want = append(want, name+" "+v+" apk 0 /lib/apk/db/installed")
		}
	}
	sort.Strings(want)

	table := runOnTerminal(t, "sbom", img)
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "oci:"+img+" (alpine 3.7.3): 13 packages") || strings.Join(strings.Fields(lines[2]), " ") != "NAME VERSION TYPE LAYER PATH" {
		t.Fatalf("table:\n%s", table)
	}
	var got []string
	for _, l := range lines[3:] {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) != 13 {
		t.Errorf("table rows:\n%s\nwant (apk database):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Not a terminal: JSON, as before, for scripts.
	out, _ := runVigil(t, "sbom", img)
	if !json.Valid([]byte(out)) {
		t.Errorf("not on a terminal: not JSON:\n%.200s", out)
	}
	// On a terminal with --output: JSON into the file.
	file := filepath.Join(t.TempDir(), "inv.json")
	if out := runOnTerminal(t, "sbom", img, "--output", file); out != "" {
		t.Errorf("stdout with --output: %q", out)
	}
	if data := mustRead(t, file); !json.Valid([]byte(data)) {
		t.Errorf("--output on a terminal: not JSON:\n%.200s", data)
	}
	// Asked for, the table is printed anywhere.
	if out, _ := runVigil(t, "sbom", img, "--format", "table"); out != table {
		t.Errorf("--format table off a terminal differs:\n%s", out)
	}
}

func TestSbomTablePrintable(t *testing.T) {
	if got := printable("evil\x1b]0;title\x07\u202epkg\tx\n"); got != "evil]0;titlepkg x " {
		t.Errorf("printable: %q", got)
	}
}
