package python

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// pipScript lists the exact pins of a requirements file as pip reads it:
// pip's own requirements-file parser (joining, comments, options, -r/-c
// files) and the PEP 508 parser pip vendors. Lines from files included
// with -r are left out, as the cataloger reads those files on their own.
const pipScript = `
import sys
from pip._internal.req.req_file import parse_requirements
from pip._internal.network.session import PipSession
from pip._vendor.packaging.requirements import Requirement, InvalidRequirement
for fn in sys.argv[1:]:
    print("#", fn)
    for r in parse_requirements(fn, session=PipSession()):
        if r.constraint or r.is_editable or not r.comes_from.startswith("-r " + fn + " "):
            continue
        try:
            req = Requirement(r.requirement)
        except InvalidRequirement:
            continue
        specs = list(req.specifier)
        if len(specs) == 1 and (specs[0].operator == "===" or (specs[0].operator == "==" and "*" not in specs[0].version)):
            print(req.name + "\t" + specs[0].version)
`

func renderPins(pkgs []inventory.Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "%s\t%s\n", p.Name, p.Version)
	}
	return b.String()
}

// TestRequirementsPip compares the cataloger with pip on requirements
// files that use every line form pip accepts. The golden files hold what
// pip reads; when pip is installed the test checks it still reads so.
func TestRequirementsPip(t *testing.T) {
	dir := filepath.Join("testdata", "pip")
	files := []string{"requirements.txt", "requirements-base.txt"}
	if havePython("pip._internal.req.req_file") {
		cmd := exec.Command("python3", append([]string{"-c", pipScript}, files...)...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("pip: %v", err)
		}
		// The script prints "# file" before each file's pins.
		live := map[string]string{}
		for _, part := range strings.Split(string(out), "# ")[1:] {
			name, pins, _ := strings.Cut(part, "\n")
			live[name] = pins
		}
		for _, name := range files {
			golden := filepath.Join(dir, name+".pip.tsv")
			if *update {
				if err := os.WriteFile(golden, []byte(live[name]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if g, err := os.ReadFile(golden); err != nil || string(g) != live[name] {
				t.Fatalf("%s differs from what pip reads now; rerun with -update", golden)
			}
		}
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, name+".pip.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile("app/"+name, 0o644, data))
			if err != nil {
				t.Fatal(err)
			}
			if got := renderPins(pkgs); got != string(want) {
				t.Errorf("got\n%s\npip reads\n%s", got, want)
			}
			for _, p := range pkgs {
				if p.Evidence != inventory.Declared || p.Type != inventory.PyPI {
					t.Errorf("%s: evidence %s type %s", p.Name, p.Evidence, p.Type)
				}
			}
		})
	}
}

// TestRealRequirements reads the shared application's requirements file.
// Every line of it is a plain "name==version" pin, so the expectation is
// the file split at "==".
func TestRealRequirements(t *testing.T) {
	data, err := os.ReadFile(testenv.Shared(t, "lang/py-app/requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		n, v, ok := strings.Cut(strings.TrimSpace(l), "==")
		if !ok {
			t.Fatalf("line %q is not a plain pin; the expectation needs another reading", l)
		}
		fmt.Fprintf(&want, "%s\t%s\n", n, v)
	}
	pkgs, err := ParseRequirements(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := renderPins(pkgs); got != want.String() {
		t.Errorf("got\n%s\nwant\n%s", got, want.String())
	}
	if len(pkgs) != 5 {
		t.Errorf("%d pins, the README lists 5", len(pkgs))
	}
}

func TestParseRequirements(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       string // name\tversion lines
		err        string // substring of the error, "" for none
	}{
		{"crlf", "a==1\r\nb==2\r\n", "a\t1\nb\t2\n", ""},
		{"continuation at eof", "a==\\\n1\\", "a\t1\n", ""},
		{"comment after continuation", "a==1\\\n# trailing comment\nb==2\n", "a\t1\nb\t2\n", ""},
		{"comment line keeps next", "# x \\\nb==2\n", "b\t2\n", ""},
		{"hash in word is not a comment", "c==1#frag\n", "", "bad version"},
		{"env var", "d==${D_VERSION}\n", "", ""},
		{"range", "e>=1,<2\nf!=1\ng~=1.0\nh<1\n", "", ""},
		{"pin and range", "i==1.0,!=1.0.1\n", "", ""},
		{"options only", "-i https://x\n--pre\n-r other.txt\n", "", ""},
		{"bad line reported, others kept", "ok==1\n!!!\nalso==2\n", "ok\t1\nalso\t2\n", "line 2: not a requirement"},
		{"bad extras", "j[x==1\n", "", "unterminated extras"},
		{"bad specifier", "k==\n", "", "bad version specifier"},
		{"garbage after name", "l m\n", "", "bad version specifier"},
		{"wheel file", "pkgs/m-1.0-py3-none-any.whl\n", "", ""},
		{"vcs url", "git+https://github.com/x/y.git#egg=y\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := ParseRequirements([]byte(tc.data))
			if got := renderPins(pkgs); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one containing %q", err, tc.err)
			case err != nil && !strings.HasPrefix(err.Error(), "python: requirements: "):
				t.Errorf("error %q lacks the prefix", err)
			}
		})
	}
}

// TestRequirementsErrorsBounded: a file of garbage gives an error of
// bounded size that still says how much was wrong.
func TestRequirementsErrorsBounded(t *testing.T) {
	data := strings.Repeat("!!! not a requirement\n", 100) + "ok==1\n"
	pkgs, err := ParseRequirements([]byte(data))
	if len(pkgs) != 1 {
		t.Errorf("got %d packages, want 1", len(pkgs))
	}
	if err == nil || !strings.HasSuffix(err.Error(), "; and 90 more") || len(err.Error()) > 2000 {
		t.Errorf("error %v", err)
	}
}

func FuzzParseRequirements(f *testing.F) {
	for _, name := range []string{"requirements.txt", "requirements-base.txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "pip", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a[b]==1 ; x\\\n --hash=y\n# c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParseRequirements(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || strings.ContainsAny(p.Name+p.Version, " \t\r\n;,") {
				t.Fatalf("bad package %q %q", p.Name, p.Version)
			}
		}
		if n := bytes.Count(data, []byte("==")); len(pkgs) > n {
			t.Fatalf("%d pins from %d '=='", len(pkgs), n)
		}
	})
}
