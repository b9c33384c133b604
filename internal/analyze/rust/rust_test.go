package rust

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"github.com/vigilsec/vigil/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// tool finds a program the test needs. Without it the test is skipped,
// unless VIGIL_REQUIRE_TESTDATA asks for every real-data test to run.
func tool(t *testing.T, name string) string {
	t.Helper()
	return testenv.Tool(t, name)
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// workspace creates a cargo workspace that resolves without a network: an
// application crate depending on a path crate, on "itoa" from crates.io
// (served from a vendored directory source) and on a crate in a local git
// repository. It returns the workspace directory and the environment to
// run cargo in.
func workspace(t *testing.T, edition, rustVersion string) (string, []string) {
	t.Helper()
	cargo := tool(t, "cargo")
	tool(t, "git")
	root := t.TempDir()
	env := []string{
		"CARGO_HOME=" + filepath.Join(root, "cargo-home"),
		"CARGO_TARGET_DIR=" + filepath.Join(root, "target"),
		"CARGO_NET_GIT_FETCH_WITH_CLI=false",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	}
	writeFiles(t, root, map[string]string{
		"vendor/itoa-1.0.0/Cargo.toml":           "[package]\nname = \"itoa\"\nversion = \"1.0.0\"\nedition = \"2018\"\n",
		"vendor/itoa-1.0.0/src/lib.rs":           "pub fn f() {}\n",
		"vendor/itoa-1.0.0/.cargo-checksum.json": `{"files":{},"package":"` + strings.Repeat("ab", 32) + `"}`,
		"gitdep/Cargo.toml":                      "[package]\nname = \"gitdep\"\nversion = \"0.3.1\"\nedition = \"2018\"\n",
		"gitdep/src/lib.rs":                      "pub fn g() {}\n",
	})
	gitdep := filepath.Join(root, "gitdep")
	git := []string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}
	run(t, gitdep, env, "git", append(git, "init", "-q")...)
	run(t, gitdep, env, "git", append(git, "add", "-A")...)
	run(t, gitdep, env, "git", append(git, "commit", "-q", "-m", "gitdep")...)

	manifest := func(name, version, deps string) string {
		m := fmt.Sprintf("[package]\nname = %q\nversion = %q\nedition = %q\n", name, version, edition)
		if rustVersion != "" {
			m += fmt.Sprintf("rust-version = %q\n", rustVersion)
		}
		return m + "\n[dependencies]\n" + deps
	}
	ws := filepath.Join(root, "ws")
	writeFiles(t, ws, map[string]string{
		"Cargo.toml": "[workspace]\nmembers = [\"app\", \"lib\"]\nresolver = \"2\"\n",
		".cargo/config.toml": "[source.crates-io]\nreplace-with = \"vendored\"\n\n[source.vendored]\ndirectory = " +
			fmt.Sprintf("%q", filepath.Join(root, "vendor")) + "\n",
		"app/Cargo.toml": manifest("app", "0.1.0", "lib = { path = \"../lib\" }\nitoa = \"1\"\ngitdep = { git = "+
			fmt.Sprintf("%q", "file://"+gitdep)+" }\n"),
		"app/src/main.rs": "fn main() { itoa::f(); gitdep::g(); println!(\"{}\", lib::X); }\n",
		"lib/Cargo.toml":  manifest("lib", "0.2.0", ""),
		"lib/src/lib.rs":  "pub const X: u32 = 7;\n",
	})
	run(t, ws, env, cargo, "generate-lockfile")
	return ws, env
}

// TestCargoLock has the real cargo write lock files in three format
// revisions and compares the cataloger with the packages cargo metadata
// reads from them.
func TestCargoLock(t *testing.T) {
	for _, tc := range []struct {
		name, edition, rustVersion string
		versionLine                string
	}{
		{"v4", "2021", "", "version = 4"},
		{"v3", "2021", "1.70", "version = 3"},
		{"v2", "2018", "1.50", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, env := workspace(t, tc.edition, tc.rustVersion)
			data, err := os.ReadFile(filepath.Join(ws, "Cargo.lock"))
			if err != nil {
				t.Fatal(err)
			}
			var versionLine string
			for _, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, "version = ") && !strings.Contains(l, `"`) {
					versionLine = l
				}
			}
			if versionLine != tc.versionLine {
				t.Fatalf("cargo wrote %q, want %q; the test does not cover the revision it claims", versionLine, tc.versionLine)
			}

			var meta struct {
				Packages []struct {
					Name, Version string
					Source        *string
				}
			}
			out := run(t, ws, env, tool(t, "cargo"), "metadata", "--offline", "--locked", "--format-version", "1")
			if err := json.Unmarshal([]byte(out), &meta); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, p := range meta.Packages {
				src := "local"
				switch {
				case p.Source == nil:
				case *p.Source == "registry+https://github.com/rust-lang/crates.io-index":
					src = "crates.io url=" + *p.Source
				case strings.HasPrefix(*p.Source, "git+file://"):
					src = "git url=" + *p.Source
				default:
					t.Fatalf("unexpected source %q", *p.Source)
				}
				want = append(want, p.Name+" "+p.Version+" "+src)
			}
			slices.Sort(want)
			if len(want) != 4 {
				t.Fatalf("cargo metadata lists %d packages, the workspace has 4", len(want))
			}

			f := analyze.NewFile("src/ws/Cargo.lock", 0o644, data)
			if !(Cataloger{}).Wants(f.Path, f.Mode, f.Size) {
				t.Error("Wants refuses Cargo.lock")
			}
			pkgs, err := Cataloger{}.Catalog(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(pkgs, inventory.Declared); !slices.Equal(got, want) {
				t.Errorf("got\n%s\nwant (cargo metadata)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// render lists packages one per line as "name version source url=...",
// checking the fields every package must have.
func render(pkgs []inventory.Package, evidence inventory.Evidence) []string {
	var lines []string
	for _, p := range pkgs {
		l := p.Name + " " + p.Version + " " + p.Metadata["cargo.source"]
		if u := p.Metadata["cargo.source.url"]; u != "" {
			l += " url=" + u
		}
		if k := p.Metadata["cargo.kind"]; k != "" {
			l += " kind=" + k
		}
		if p.Metadata["cargo.root"] == "true" {
			l += " root"
		}
		if p.Type != inventory.Cargo || p.Evidence != evidence || p.Cataloger != "rust" {
			l += fmt.Sprintf(" BAD(type=%s evidence=%s cataloger=%s)", p.Type, p.Evidence, p.Cataloger)
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return lines
}

// scanLock reads name, version and source of each [[package]] and [root]
// table of a lock file line by line, a reading independent of the TOML
// decoder.
func scanLock(text string) []string {
	var (
		out                   []string
		in                    bool
		name, version, source string
	)
	flush := func() {
		if in {
			out = append(out, name+" "+version+" "+source)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			flush()
			in = line == "[[package]]" || line == "[root]"
			name, version, source = "", "", ""
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		if !in || !ok || !strings.HasPrefix(v, `"`) {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "name":
			name = v
		case "version":
			version = v
		case "source":
			source = v
		}
	}
	flush()
	slices.Sort(out)
	return out
}

// TestHandwrittenLocks checks the revisions cargo no longer writes (1)
// and sources the workspace above lacks, against a line-by-line reading.
func TestHandwrittenLocks(t *testing.T) {
	for _, rev := range []string{"v1", "v3", "v4"} {
		t.Run(rev, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", rev, "Cargo.lock"))
			if err != nil {
				t.Fatal(err)
			}
			want := scanLock(string(data))
			if n := strings.Count(string(data), "[[package]]") + strings.Count(string(data), "[root]"); n != len(want) || n < 4 {
				t.Fatalf("scan found %d packages, the file has %d tables", len(want), n)
			}
			pkgs, err := ParseLock(data)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, p.Name+" "+p.Version+" "+p.Metadata["cargo.source.url"])
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestSourceKind(t *testing.T) {
	for src, want := range map[string]string{
		"": "local",
		"registry+https://github.com/rust-lang/crates.io-index":             "crates.io",
		"sparse+https://index.crates.io/":                                   "crates.io",
		"sparse+https://crates.example.com/api/v1/crates/":                  "registry",
		"registry+https://dl.cloudsmith.io/public/example/crates/index.git": "registry",
		"git+https://github.com/rust-lang/regex?rev=5b3d5d7#5b3d5d7aa":      "git",
		"path+file:///src/x":        "local",
		"svn+https://example.com/x": "other",
	} {
		if got := sourceKind(src); got != want {
			t.Errorf("sourceKind(%q) = %q, want %q", src, got, want)
		}
	}
}

func TestParseLockMalformed(t *testing.T) {
	deep := "a = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n"
	for _, tc := range []struct {
		name, lock string
		wantPkgs   int
		wantErr    string
	}{
		{"not TOML", "[[package]\nname = \"a\"\n", 0, "Cargo.lock"},
		{"package not a table", "package = 3\n", 0, "Cargo.lock"},
		{"name not a string", "[[package]]\nname = 1\nversion = \"1\"\n", 0, "Cargo.lock"},
		{"missing version", "[[package]]\nname = \"good\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"bad\"\n", 1, `package 2 ("bad")`},
		{"deep nesting", deep, 0, "nested more than 16"},
		{"deep inline tables", "a = " + strings.Repeat("{b=", 5000) + "1" + strings.Repeat("}", 5000), 0, "nested more than 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			pkgs, err := ParseLock([]byte(tc.lock))
			if len(pkgs) != tc.wantPkgs || err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %d packages, error %v; want %d and an error with %q", len(pkgs), err, tc.wantPkgs, tc.wantErr)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// Brackets inside strings and comments do not count as nesting.
	ok := "# [[[[[[[[[[[[[[[[[[[[\n[[package]]\nname = \"a[[[[[[[[[[[[[[[[[[[[\\\"[[[\"\nversion = '''\n[[[[[[[[[[[[[[[[[[[[[\n1'''\n"
	pkgs, err := ParseLock([]byte(ok))
	if err != nil || len(pkgs) != 1 {
		t.Errorf("brackets in strings: got %v, %v", pkgs, err)
	}
}

// compress returns data zlib-compressed, as cargo-auditable stores it.
func compress(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// addSection copies the executable src and adds a .dep-v0 section holding
// content, with objcopy.
func addSection(t *testing.T, src string, content []byte) string {
	t.Helper()
	objcopy := tool(t, "objcopy")
	dir := t.TempDir()
	sec := filepath.Join(dir, "dep-v0")
	if err := os.WriteFile(sec, content, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(src))
	run(t, "", nil, objcopy, "--add-section", ".dep-v0="+sec, "--set-section-flags", ".dep-v0=noload,readonly", src, out)
	if err := os.Chmod(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

func catalogFile(t *testing.T, name string) ([]inventory.Package, error) {
	t.Helper()
	f, c, err := analyze.OpenFile("usr/bin/"+filepath.Base(name), name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return Cataloger{}.Catalog(context.Background(), f)
}

// depJSON is a dependency list in cargo-auditable's format for the
// workspace above, with a build-time crate and both spellings of source.
const depJSON = `{"format":1,"packages":[
 {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2,3],"root":true},
 {"name":"gitdep","version":"0.3.1","source":"git"},
 {"name":"itoa","version":"1.0.0","source":"crates.io"},
 {"name":"lib","version":"0.2.0","source":{"Other":"local"},"dependencies":[4]},
 {"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"}
]}`

// expectDeps derives the expected lines from a dependency list with a
// generic JSON reading.
func expectDeps(t *testing.T, js string) []string {
	t.Helper()
	var v struct{ Packages []map[string]any }
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range v.Packages {
		src, ok := p["source"].(string)
		if !ok {
			src = p["source"].(map[string]any)["Other"].(string)
		}
		kind, _ := p["kind"].(string)
		if kind == "" {
			kind = "runtime"
		}
		l := fmt.Sprintf("%s %s %s kind=%s", p["name"], p["version"], src, kind)
		if p["root"] == true {
			l += " root"
		}
		want = append(want, l)
	}
	slices.Sort(want)
	return want
}

// TestAuditable builds the workspace's Rust executable, embeds a
// dependency list the way cargo-auditable does and reads it back.
func TestAuditable(t *testing.T) {
	ws, env := workspace(t, "2021", "")
	run(t, ws, env, tool(t, "cargo"), "build", "--offline", "--locked", "-q")
	var bin string
	for _, e := range env {
		if dir, ok := strings.CutPrefix(e, "CARGO_TARGET_DIR="); ok {
			bin = filepath.Join(dir, "debug", "app")
		}
	}
	plain, err := catalogFile(t, bin)
	if err != nil || len(plain) != 0 {
		t.Errorf("executable without audit data: got %v, %v; want nothing", plain, err)
	}
	audited := addSection(t, bin, compress(t, []byte(depJSON)))
	f, c, err := analyze.OpenFile("usr/local/bin/app", audited)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !(Cataloger{}).Wants(f.Path, f.Mode, f.Size) {
		t.Errorf("Wants refuses %s (%v, %d bytes)", f.Path, f.Mode, f.Size)
	}
	pkgs, err := Cataloger{}.Catalog(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(pkgs, inventory.Installed), expectDeps(t, depJSON); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAuditableBad covers executables whose audit data is broken, and
// files that are not ELF executables at all.
func TestAuditableBad(t *testing.T) {
	ls := tool(t, "ls")
	script := filepath.Join(t.TempDir(), "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+strings.Repeat("exec true\n", 200)), 0o755); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "ls")
	lsData, err := os.ReadFile(ls)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, lsData[:2048], 0o755); err != nil {
		t.Fatal(err)
	}
	bomb := compress(t, bytes.Repeat([]byte(" "), maxDepJSON+1))
	for _, tc := range []struct {
		name, file string
		wantErr    string
	}{
		{"C executable", ls, ""},
		{"shell script", script, ""},
		{"truncated ELF", truncated, "rust: usr/bin/ls: read ELF headers"},
		{"zip bomb", addSection(t, ls, bomb), "inflates beyond"},
		{"not zlib", addSection(t, ls, []byte("plain text, not compressed")), "zlib"},
		{"no packages", addSection(t, ls, compress(t, []byte(`{"format":1}`))), `no "packages"`},
		{"bad JSON", addSection(t, ls, compress(t, []byte(`{"packages":[{"name":`))), "dependency list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := catalogFile(t, tc.file)
			if len(pkgs) != 0 {
				t.Errorf("got %d packages", len(pkgs))
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one with %q", err, tc.wantErr)
			}
		})
	}
	if len(bomb) > 64<<10 {
		t.Errorf("the bomb is %d bytes compressed; it should be small", len(bomb))
	}
}

func TestParseDepJSON(t *testing.T) {
	pkgs, err := parseDepJSON([]byte(`{"packages":[
		{"name":"ok","version":"1.0.0","source":"registry"},
		{"name":"nover","source":"crates.io"},
		{"name":"badsrc","version":"1.0.0","source":[1]},
		{"name":"nosrc","version":"2.0.0"}]}`))
	got := render(pkgs, inventory.Installed)
	want := []string{"nosrc 2.0.0  kind=runtime", "ok 1.0.0 registry kind=runtime"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), `package 1 ("nover")`) || !strings.Contains(err.Error(), `package 2 ("badsrc")`) {
		t.Errorf("error %v does not name both bad packages", err)
	}
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		mode os.FileMode
		size int64
		want bool
	}{
		{"src/app/Cargo.lock", 0o644, 10, true},
		{"Cargo.lock", 0o644, 0, true},
		{"src/app/Cargo.toml", 0o644, 10, false},
		{"src/app/cargo.lock", 0o644, 10, false},
		{"root/.cargo/registry/src/index.crates.io-6f17d22bba15001f/ripgrep-14.1.0/Cargo.lock", 0o644, 10, false},
		{".cargo/git/checkouts/x-1234/abcdef/Cargo.lock", 0o644, 10, false},
		{"home/u/src/.cargo-tools/Cargo.lock", 0o644, 10, true},
		{"usr/local/bin/app", 0o755, 1 << 20, true},
		{"usr/local/bin/app", 0o644, 1 << 20, false},
		{"usr/local/bin/tiny", 0o755, 100, false},
		{"proc/1/exe", 0o755, 1 << 20, false},
		{"usr/bin/link", os.ModeSymlink | 0o777, 1 << 20, false},
	} {
		if got := (Cataloger{}).Wants(tc.path, tc.mode, tc.size); got != tc.want {
			t.Errorf("Wants(%q, %v, %d) = %v, want %v", tc.path, tc.mode, tc.size, got, tc.want)
		}
	}
}

func FuzzParseLock(f *testing.F) {
	for _, rev := range []string{"v1", "v3", "v4"} {
		data, err := os.ReadFile(filepath.Join("testdata", rev, "Cargo.lock"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("package = [{name = \"a\", version = \"1\", source = \"git+x\"}]\n[root]\nname = \"r\"\nversion = \"0\"\n"))
	f.Add([]byte("a = \"\"\"\n[[[\"\"\"\nb = '''x'''\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParseLock(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.Metadata["cargo.source"] == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
	})
}

// FuzzDepV0 feeds arbitrary bytes to the decoder both as the compressed
// section and as the JSON inside it.
func FuzzDepV0(f *testing.F) {
	f.Add([]byte(depJSON))
	f.Add([]byte(`{"packages":[{"name":"a","version":"1","source":{"Other":"x"},"kind":"build","root":true}]}`))
	f.Add(compress(f, []byte(depJSON)))
	f.Fuzz(func(t *testing.T, data []byte) {
		zpkgs, _ := DecodeDepV0(bytes.NewReader(data))
		pkgs, _ := parseDepJSON(data)
		for _, p := range append(zpkgs, pkgs...) {
			if p.Name == "" || p.Version == "" || p.Metadata["cargo.kind"] == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
		// Each package of the JSON needs a name and a version.
		if 2*len(pkgs) > bytes.Count(data, []byte(":")) {
			t.Fatalf("%d packages from %q", len(pkgs), data)
		}
	})
}
