package python

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

func catalogFile(t *testing.T, file, imagePath string) []inventory.Package {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !(Cataloger{}).Wants(imagePath, 0o644, int64(len(data))) {
		t.Fatalf("Wants(%q) = false", imagePath)
	}
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(imagePath, 0o644, data))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if p.Type != inventory.PyPI || p.Evidence != inventory.Declared || p.Cataloger != "python" {
			t.Errorf("%s: type/evidence/cataloger = %s/%s/%s", p.Name, p.Type, p.Evidence, p.Cataloger)
		}
	}
	return pkgs
}

// pythonCount evaluates a Python expression over the parsed file (lock),
// or returns -1 when python3 (3.11 or later, for tomllib) is not
// installed.
func pythonCount(t *testing.T, expr, file string) int {
	t.Helper()
	if !havePython("tomllib") {
		return -1
	}
	script := "import json, sys, tomllib\nf = sys.argv[1]\nlock = tomllib.load(open(f, 'rb')) if f.endswith('.lock') and not f.endswith('Pipfile.lock') else json.load(open(f))\nprint(" + expr + ")"
	out, err := exec.Command("python3", "-c", script, file).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPoetryLock reads lock files of both formats: 1.1 (Poetry < 1.5,
// with "category") and 2.0. The expected count is the number of
// "[[package]]" lines, and Python's tomllib must count as many tables.
func TestPoetryLock(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		dev     []string
		sources map[string]string
	}{
		{"poetry-v1", []string{"atomicwrites", "attrs", "pytest"}, nil},
		{"poetry-v2", nil, map[string]string{"internal-utils": "git"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			file := filepath.Join("testdata", tc.dir, "poetry.lock")
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, l := range strings.Split(string(data), "\n") {
				if l == "[[package]]" {
					want++
				}
			}
			if n := pythonCount(t, "len(lock['package'])", file); n >= 0 && n != want {
				t.Fatalf("tomllib counts %d packages, the plain count is %d", n, want)
			}
			pkgs := catalogFile(t, file, "srv/app/poetry.lock")
			if len(pkgs) != want {
				t.Fatalf("got %d packages, want %d", len(pkgs), want)
			}
			// Each package's name and version are the two lines after
			// its [[package]] header.
			re := regexp.MustCompile(`\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"`)
			for i, m := range re.FindAllStringSubmatch(string(data), -1) {
				if pkgs[i].Name != m[1] || pkgs[i].Version != m[2] {
					t.Errorf("package %d: got %s %s, want %s %s", i, pkgs[i].Name, pkgs[i].Version, m[1], m[2])
				}
			}
			dev := map[string]bool{}
			for _, n := range tc.dev {
				dev[n] = true
			}
			for _, p := range pkgs {
				if (p.Metadata["python.dev"] == "true") != dev[p.Name] {
					t.Errorf("%s: python.dev = %q", p.Name, p.Metadata["python.dev"])
				}
				if p.Metadata["python.source"] != tc.sources[p.Name] {
					t.Errorf("%s: python.source = %q", p.Name, p.Metadata["python.source"])
				}
			}
		})
	}
}

// TestPipfileLock: the expected packages are the entries of "default"
// and "develop" that have a "version", read with encoding/json into
// plain maps (and counted by Python when it is installed).
func TestPipfileLock(t *testing.T) {
	file := filepath.Join("testdata", "pipenv", "Pipfile.lock")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	raw := map[string]map[string]map[string]any{}
	for _, sec := range []string{"default", "develop"} {
		var m map[string]map[string]any
		if err := json.Unmarshal(meta[sec], &m); err != nil {
			t.Fatal(err)
		}
		raw[sec] = m
	}
	want := map[string]string{} // name → version, "dev:" prefix for develop
	for sec, entries := range raw {
		for n, e := range entries {
			v, ok := e["version"].(string)
			if !ok {
				continue
			}
			if sec == "develop" {
				n = "dev:" + n
			}
			want[n] = strings.TrimPrefix(v, "==")
		}
	}
	if n := pythonCount(t, "sum(1 for s in ('default', 'develop') for e in lock[s].values() if 'version' in e)", file); n >= 0 && n != len(want) {
		t.Fatalf("Python counts %d pinned entries, Go %d", n, len(want))
	}
	pkgs := catalogFile(t, file, "app/Pipfile.lock")
	if len(pkgs) != len(want) || len(want) != 8 {
		t.Fatalf("got %d packages, want %d (8 in the fixture)", len(pkgs), len(want))
	}
	for _, p := range pkgs {
		key := p.Name
		if p.Metadata["python.dev"] == "true" {
			key = "dev:" + key
		}
		if v, ok := want[key]; !ok || v != p.Version {
			t.Errorf("unexpected %s %s", key, p.Version)
		}
	}
}

func TestLockMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, err string
		parse     func([]byte) ([]inventory.Package, error)
		data      string
		n         int
	}{
		{"poetry syntax", "python: poetry.lock: ", ParsePoetryLock, "[[package]\nname = \"a\"", 0},
		{"poetry missing version", "package 2: missing name or version", ParsePoetryLock, "[[package]]\nname = \"a\"\nversion = \"1\"\n[[package]]\nname = \"b\"\n", 1},
		{"poetry wrong type", "python: poetry.lock: ", ParsePoetryLock, "package = 3\n", 0},
		{"pipfile syntax", "python: Pipfile.lock: ", ParsePipfileLock, "{\"default\": ", 0},
		{"pipfile not a pin", `default "b": version ">=1" is not a pin`, ParsePipfileLock, `{"default": {"a": {"version": "==1"}, "b": {"version": ">=1"}}}`, 1},
		{"pipfile entry not an object", `develop "c"`, ParsePipfileLock, `{"develop": {"c": [1], "d": {"version": "==2"}}}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := tc.parse([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
			if len(pkgs) != tc.n {
				t.Errorf("got %d packages, want %d", len(pkgs), tc.n)
			}
		})
	}
}

func FuzzParsePoetryLock(f *testing.F) {
	for _, d := range []string{"poetry-v1", "poetry-v2"} {
		if b, err := os.ReadFile(filepath.Join("testdata", d, "poetry.lock")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[[package]]\nname = \"a\"\nversion = \"1\"\ncategory = \"dev\"\n[package.source]\ntype = \"git\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParsePoetryLock(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
	})
}

func FuzzParsePipfileLock(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "pipenv", "Pipfile.lock")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"default": {"a": {"version": "==1"}}, "develop": {"b": {"version": "===2"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParsePipfileLock(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || strings.HasPrefix(p.Version, "=") {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}
