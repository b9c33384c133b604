package python

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files from Python and pip")

// emailParserScript prints, for each file named on the command line, the
// headers Python's own metadata reader sees: importlib.metadata parses
// METADATA and PKG-INFO with email.parser.
const emailParserScript = `
import email.parser, json, sys
out = []
for fn in sys.argv[1:]:
    with open(fn, encoding="utf-8") as f:
        m = email.parser.Parser().parse(f)
    out.append({"name": m["Name"], "version": m["Version"]})
print(json.dumps(out))
`

type nameVersion struct {
	Name    *string `json:"name"`
	Version *string `json:"version"`
}

// havePython reports whether python3 is installed and can import the
// module.
func havePython(module string) bool {
	if _, err := exec.LookPath("python3"); err != nil {
		return false
	}
	return exec.Command("python3", "-c", "import "+module).Run() == nil
}

// runEmailParser returns Python's reading of the files, or nil if python3
// is not installed.
func runEmailParser(t *testing.T, files ...string) []nameVersion {
	t.Helper()
	if !havePython("email.parser") {
		if testenv.Required() {
			t.Fatal("missing python3, whose email parser is the reference")
		}
		return nil
	}
	out, err := exec.Command("python3", append([]string{"-c", emailParserScript}, files...)...).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var got []nameVersion
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRealMetadata reads the metadata of real installed distributions:
// the dist-info and egg-info files shipped in Debian bookworm's python3
// packages, and copies of files pip and CPython installed (CRLF line
// ends, Metadata 2.4 License-Expression, a bare .egg-info file of
// Metadata 1.0, a PKG-INFO with a multi-line Description header). Names
// and versions must be what Python's email.parser reads; the golden file
// holds its output and is checked against it when python3 is installed.
// The licenses were read off the files by hand.
func TestRealMetadata(t *testing.T) {
	const deb = "lang/debian-pkgs/"
	cases := []struct {
		file     string // "lang/…" in the shared data, else in testdata
		path     string // where it sits in an image
		licenses []string
	}{
		{deb + "python3-yaml/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA",
			"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", []string{"MIT"}},
		{deb + "python3-urllib3/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO",
			"usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO", []string{"MIT"}},
		{deb + "python3-requests/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO",
			"usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO", []string{"Apache 2.0"}},
		{"site-packages/mypy_extensions-1.1.0.dist-info/METADATA",
			"usr/local/lib/python3.11/site-packages/mypy_extensions-1.1.0.dist-info/METADATA", []string{"MIT"}},
		{"site-packages/sniffio-1.3.1.dist-info/METADATA",
			"usr/local/lib/python3.11/site-packages/sniffio-1.3.1.dist-info/METADATA", []string{"MIT OR Apache-2.0"}},
		{"site-packages/wsgiref.egg-info",
			"usr/local/lib/python2.7/wsgiref.egg-info", []string{"PSF or ZPL"}},
		{"lib-dynload/Python-2.7.18-py2.7.egg-info",
			"usr/local/lib/python2.7/lib-dynload/Python-2.7.18-py2.7.egg-info", []string{"PSF license"}},
	}
	var files []string
	for _, c := range cases {
		if strings.HasPrefix(c.file, "lang/") {
			files = append(files, testenv.Shared(t, c.file))
		} else {
			files = append(files, filepath.Join("testdata", c.file))
		}
	}

	golden := filepath.Join("testdata", "metadata.email-parser.json")
	if live := runEmailParser(t, files...); live != nil {
		b, _ := json.MarshalIndent(live, "", "  ")
		b = append(b, '\n')
		if *update {
			if err := os.WriteFile(golden, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if g, err := os.ReadFile(golden); err != nil || !bytes.Equal(g, b) {
			t.Fatalf("%s differs from what email.parser reads now; rerun with -update", golden)
		}
	}
	var want []nameVersion
	if b, err := os.ReadFile(golden); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(cases) {
		t.Fatalf("golden file has %d entries for %d files; rerun with -update", len(want), len(cases))
	}

	for i, c := range cases {
		t.Run(filepath.Base(filepath.Dir(files[i]))+"/"+filepath.Base(files[i]), func(t *testing.T) {
			data, err := os.ReadFile(files[i])
			if err != nil {
				t.Fatal(err)
			}
			p := c.path
			if !(Cataloger{}).Wants(p, 0o644, int64(len(data))) {
				t.Fatalf("Wants(%q) = false", p)
			}
			pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(p, 0o644, data))
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) != 1 {
				t.Fatalf("got %d packages, want 1", len(pkgs))
			}
			got := pkgs[0]
			if want[i].Name == nil || want[i].Version == nil {
				t.Fatalf("email.parser found no Name or Version")
			}
			if got.Name != strings.TrimSpace(*want[i].Name) || got.Version != strings.TrimSpace(*want[i].Version) {
				t.Errorf("got %s %s, email.parser reads %s %s", got.Name, got.Version, *want[i].Name, *want[i].Version)
			}
			if !reflect.DeepEqual(got.Licenses, c.licenses) {
				t.Errorf("licenses %q, want %q", got.Licenses, c.licenses)
			}
			if got.Type != inventory.PyPI || got.Evidence != inventory.Installed || got.Cataloger != "python" {
				t.Errorf("type/evidence/cataloger = %s/%s/%s", got.Type, got.Evidence, got.Cataloger)
			}
		})
	}
}

// TestInstalledDistributions compares the cataloger with
// importlib.metadata over every distribution the local python3 has
// installed: real files written by pip, setuptools and distutils of many
// versions. It needs python3 and is skipped without it.
func TestInstalledDistributions(t *testing.T) {
	if !havePython("importlib.metadata") {
		testenv.Missing(t, "python3 3.8 or later, with importlib.metadata")
	}
	const script = `
import importlib.metadata as md, json, pathlib
out = []
for d in md.distributions():
    p = getattr(d, "_path", None)
    if p is None:
        continue
    p = pathlib.Path(p)
    f = p if p.is_file() else next((p / n for n in ("METADATA", "PKG-INFO") if (p / n).is_file()), None)
    if f is None or d.metadata["Name"] is None:
        continue
    out.append({"file": str(f), "name": d.metadata["Name"], "version": d.version})
print(json.dumps(out))
`
	out, err := exec.Command("python3", "-c", script).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var dists []struct{ File, Name, Version string }
	if err := json.Unmarshal(out, &dists); err != nil {
		t.Fatal(err)
	}
	if len(dists) == 0 {
		t.Fatal("python3 reports no installed distributions")
	}
	for _, d := range dists {
		data, err := os.ReadFile(d.File)
		if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(filepath.ToSlash(d.File), "/")
		if !(Cataloger{}).Wants(rel, 0o644, int64(len(data))) {
			t.Errorf("Wants(%q) = false", rel)
			continue
		}
		p, err := ParseMetadata(data)
		if err != nil {
			t.Errorf("%s: %v", d.File, err)
			continue
		}
		if p.Name != strings.TrimSpace(d.Name) || p.Version != strings.TrimSpace(d.Version) {
			t.Errorf("%s: got %s %s, importlib.metadata reads %s %s", d.File, p.Name, p.Version, d.Name, d.Version)
		}
	}
	t.Logf("%d distributions agree", len(dists))
}

// TestParseMetadata covers header syntax. The expected names and
// versions are what email.parser reads; when python3 is installed the
// test checks that it still reads them so.
func TestParseMetadata(t *testing.T) {
	cases := []struct {
		name, data    string
		wantName, ver string // empty: an error is expected
		licenses      []string
	}{
		{"minimal", "Name: a\nVersion: 1\n", "a", "1", nil},
		{"crlf", "Metadata-Version: 2.1\r\nName: b\r\nVersion: 2.0\r\n\r\nbody\r\n", "b", "2.0", nil},
		{"lone cr", "Name: c\rVersion: 3\r", "c", "3", nil},
		{"case insensitive", "NAME: d\nversion: 4\n", "d", "4", nil},
		{"first of repeated", "Name: e\nName: other\nVersion: 5\nVersion: 6\n", "e", "5", nil},
		{"no space", "Name:f\nVersion:\t7\n", "f", "7", nil},
		{"body ends headers", "Name: g\n\nVersion: 8\n", "", "", nil},
		{"non-header line ends headers", "Name: h\nthis is body\nVersion: 9\n", "", "", nil},
		{"header name with space ends headers", "Name: i\nBad Name: x\nVersion: 10\n", "", "", nil},
		{"continuation", "Name: j\nLicense: line one\n  line two\nVersion: 11\n", "j", "11", nil},
		{"continuation first is dropped", " stray\nName: k\nVersion: 12\n", "k", "12", nil},
		{"empty name skipped", ": nothing\nName: l\nVersion: 13\n", "l", "13", nil},
		{"envelope line", "From nobody\nName: m\nVersion: 14\n", "m", "14", nil},
		{"missing version", "Name: n\n", "", "", nil},
		{"empty", "", "", "", nil},
		{"license expression wins", "Name: o\nVersion: 1\nLicense: MIT License\nLicense-Expression: MIT\nClassifier: License :: OSI Approved :: MIT License\n", "o", "1", []string{"MIT"}},
		{"license text ignored", "Name: p\nVersion: 1\nLicense: Copyright (c) someone\n  Permission is hereby granted\nClassifier: License :: OSI Approved :: BSD License\nClassifier: License :: OSI Approved\n", "p", "1", []string{"BSD License"}},
		{"UNKNOWN license", "Name: q\nVersion: 1\nLicense: UNKNOWN\nClassifier: Topic :: Software Development\n", "q", "1", nil},
	}

	var files []string
	dir := t.TempDir()
	for _, c := range cases {
		f := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
		if err := os.WriteFile(f, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	ref := runEmailParser(t, files...)

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if ref != nil {
				r := ref[i]
				ok := r.Name != nil && r.Version != nil
				if ok != (c.wantName != "") || ok && (strings.TrimSpace(*r.Name) != c.wantName || strings.TrimSpace(*r.Version) != c.ver) {
					t.Fatalf("expectation disagrees with email.parser: %s", show(r))
				}
			}
			p, err := ParseMetadata([]byte(c.data))
			if c.wantName == "" {
				if err == nil {
					t.Fatalf("got %s %s, want an error", p.Name, p.Version)
				}
				if !strings.HasPrefix(err.Error(), "python: metadata: ") {
					t.Errorf("error %q lacks the prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != c.wantName || p.Version != c.ver {
				t.Errorf("got %s %s, want %s %s", p.Name, p.Version, c.wantName, c.ver)
			}
			if !reflect.DeepEqual(p.Licenses, c.licenses) {
				t.Errorf("licenses %q, want %q", p.Licenses, c.licenses)
			}
		})
	}
}

func show(r nameVersion) string {
	s := func(p *string) string {
		if p == nil {
			return "None"
		}
		return *p
	}
	return s(r.Name) + " " + s(r.Version)
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte("Metadata-Version: 2.1\nName: a\nVersion: 1\nLicense: MIT\n\nbody"))
	f.Add([]byte("Name: a\r\n Version: 1\r\nClassifier: License :: X\n"))
	f.Add([]byte("From x\n: y\nName:\nVersion: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseMetadata(data)
		if err != nil {
			return
		}
		if p.Name == "" || p.Version == "" || strings.ContainsAny(p.Name+p.Version, "\r\n") {
			t.Fatalf("bad package %q %q", p.Name, p.Version)
		}
		if !bytes.Contains(bytes.ToLower(data), []byte("name")) {
			t.Fatalf("a name from data without a Name header")
		}
	})
}
