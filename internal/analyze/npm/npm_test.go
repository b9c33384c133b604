package npm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the npm-ls golden files from npm ls")

// render lists packages one per line, "name@version", with "\tdev" for
// packages only needed for development, sorted.
func render(pkgs []inventory.Package) string {
	var lines []string
	for _, p := range pkgs {
		l := p.Name + "@" + p.Version
		if p.Metadata[devKey] == "true" {
			l += "\tdev"
		}
		lines = append(lines, l)
	}
	return lines2text(lines)
}

func lines2text(lines []string) string {
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// withoutDev drops the dev column, for formats that do not record it.
func withoutDev(s string) string {
	return strings.ReplaceAll(s, "\tdev", "")
}

// npmLs lists the packages of a lock file with the real npm, from the
// lock alone (no node_modules, no network), in render's format. A
// package is dev-only if npm says so of every place it occurs.
func npmLs(t *testing.T, packageJSON, lock string) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{packageJSON: "package.json", lock: "package-lock.json"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ls", "--all", "--json", "--long", "--package-lock-only", "--offline")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm-cache"), "npm_config_update_notifier=false")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("npm ls in %s: %v", dir, err)
	}
	type node struct {
		Name         string           `json:"name"`
		Version      string           `json:"version"`
		Dev          bool             `json:"dev"`
		Dependencies map[string]*node `json:"dependencies"`
	}
	var root node
	if err := json.Unmarshal(out, &root); err != nil {
		t.Fatalf("npm ls output: %v", err)
	}
	dev := map[string]bool{}
	var walk func(*node)
	walk = func(n *node) {
		for key, d := range n.Dependencies {
			name := d.Name
			if name == "" {
				name = key
			}
			if d.Version == "" {
				t.Fatalf("npm ls: %s has no version", key)
			}
			nv := name + "@" + d.Version
			if was, ok := dev[nv]; ok {
				dev[nv] = was && d.Dev
			} else {
				dev[nv] = d.Dev
			}
			walk(d)
		}
	}
	walk(&root)
	var lines []string
	for nv, d := range dev {
		if d {
			nv += "\tdev"
		}
		lines = append(lines, nv)
	}
	return lines2text(lines)
}

// golden returns what npm ls prints for a fixture, from
// testdata/<fixture>/npm-ls.tsv. When npm is installed it checks that npm
// still prints that for each of the fixture's package-lock files: npm 11
// for the version 3 lock and npm 6 for the version 1 lock resolved the
// same packages, so the one list is the reference for every lock file.
// npmChecked records the fixtures already compared with npm ls in this
// run: npm takes seconds to start.
var npmChecked = map[string]bool{}

func golden(t *testing.T, fixture, packageJSON string, locks ...string) string {
	t.Helper()
	file := filepath.Join("testdata", fixture, "npm-ls.tsv")
	if _, err := exec.LookPath("npm"); err == nil && !npmChecked[fixture] {
		npmChecked[fixture] = true
		for i, lock := range locks {
			want := npmLs(t, packageJSON, lock)
			if *update && i == 0 {
				if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if g, err := os.ReadFile(file); err != nil || string(g) != want {
				t.Fatalf("%s differs from what npm ls prints for %s now (rerun with -update):\n%s", file, lock, diff(string(g), want))
			}
		}
	}
	g, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(g)
}

func diff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	return b.String()
}

// catalog runs the cataloger on a file read from disk, offered at path.
func catalog(t *testing.T, path, file string) ([]inventory.Package, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !(Cataloger{}).Wants(path, 0o644, int64(len(data))) {
		t.Fatalf("Wants(%q) = false", path)
	}
	return Cataloger{}.Catalog(context.Background(), analyze.NewFile(path, 0o644, data))
}

type manifest struct {
	path     string // relative to the root that was read
	name     string
	version  string
	licenses []string
}

// readManifests reads every package.json below root plainly, without the
// cataloger's code: the reference for what is installed there.
func readManifests(t *testing.T, root string) []manifest {
	t.Helper()
	var out []manifest
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "package.json" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		mf := manifest{path: filepath.ToSlash(rel), name: m["name"].(string), version: m["version"].(string)}
		if l, ok := m["license"].(string); ok {
			mf.licenses = []string{l}
		}
		out = append(out, mf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInstalledTree catalogs every package.json of the npm-app fixture's
// node_modules and checks the result against a plain reading of the same
// files and against npm ls of the package-lock.json that made the tree.
func TestInstalledTree(t *testing.T) {
	app := testenv.Shared(t, "lang/npm-app")
	want := golden(t, "npm-app", filepath.Join(app, "package.json"), filepath.Join(app, "package-lock.json"),
		filepath.Join("testdata", "npm-app", "package-lock.v1.json"))

	manifests := readManifests(t, filepath.Join(app, "node_modules"))
	var plain []string
	for _, m := range manifests {
		plain = append(plain, m.name+"@"+m.version)
	}
	if got := lines2text(plain); got != want {
		t.Fatalf("node_modules and npm ls of the lock file disagree:\n%s", diff(want, got))
	}

	var all []inventory.Package
	for _, m := range manifests {
		pkgs, err := catalog(t, "app/node_modules/"+m.path, filepath.Join(app, "node_modules", m.path))
		if err != nil {
			t.Fatal(err)
		}
		if len(pkgs) != 1 {
			t.Fatalf("%s: %d packages, want 1", m.path, len(pkgs))
		}
		p := pkgs[0]
		if p.Type != inventory.NPM || p.Evidence != inventory.Installed || p.Cataloger != "npm" {
			t.Errorf("%s: %+v", m.path, p)
		}
		// utils-merge also has a legacy "licenses" array naming MIT again.
		if strings.Join(p.Licenses, ",") != strings.Join(m.licenses, ",") {
			t.Errorf("%s: licenses %q, package.json says %q", m.path, p.Licenses, m.licenses)
		}
		all = append(all, p)
	}
	if got := render(all); got != want {
		t.Errorf("cataloged node_modules differs from npm ls:\n%s", diff(want, got))
	}
	for _, p := range []string{"app/package.json", "app/node_modules/.package-lock.json"} {
		if (Cataloger{}).Wants(p, 0o644, 1) {
			t.Errorf("Wants(%q) = true", p)
		}
	}
}

// TestLockFiles checks every lock file of the fixtures against npm ls. The
// yarn and pnpm locks were made by those tools from the same package.json
// on the same day as the npm locks and resolved the same versions (see
// testdata/README.md), so npm's list is their reference too.
func TestLockFiles(t *testing.T) {
	app := testenv.Shared(t, "lang/npm-app")
	fixtures := map[string]string{
		"npm-app": golden(t, "npm-app", filepath.Join(app, "package.json"), filepath.Join(app, "package-lock.json"),
			filepath.Join("testdata", "npm-app", "package-lock.v1.json")),
		"peer-dev": golden(t, "peer-dev", filepath.Join("testdata", "peer-dev", "package.json"),
			filepath.Join("testdata", "peer-dev", "package-lock.json"),
			filepath.Join("testdata", "peer-dev", "package-lock.v1.json")),
	}
	type lockCase struct {
		fixture, file, as string
		hasDev            bool
	}
	var cases []lockCase
	for _, fixture := range []string{"npm-app", "peer-dev"} {
		dir := filepath.Join("testdata", fixture)
		lock := filepath.Join(dir, "package-lock.json")
		if fixture == "npm-app" {
			lock = filepath.Join(app, "package-lock.json")
		}
		cases = append(cases,
			lockCase{fixture, lock, "package-lock.json", true},
			lockCase{fixture, filepath.Join(dir, "package-lock.v1.json"), "package-lock.json", true},
			lockCase{fixture, filepath.Join(dir, "yarn.v1.lock"), "yarn.lock", false},
			lockCase{fixture, filepath.Join(dir, "yarn.berry.lock"), "yarn.lock", false},
			lockCase{fixture, filepath.Join(dir, "pnpm-lock.v5.yaml"), "pnpm-lock.yaml", true},
			lockCase{fixture, filepath.Join(dir, "pnpm-lock.v6.yaml"), "pnpm-lock.yaml", true},
			lockCase{fixture, filepath.Join(dir, "pnpm-lock.v9.yaml"), "pnpm-lock.yaml", true},
		)
	}
	cases = append(cases, lockCase{"npm-app", filepath.Join("testdata", "npm-app", "pnpm-lock.v9-pnpm12.yaml"), "pnpm-lock.yaml", true})
	for _, tc := range cases {
		t.Run(tc.fixture+"/"+filepath.Base(tc.file), func(t *testing.T) {
			pkgs, err := catalog(t, "srv/app/"+tc.as, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pkgs {
				if p.Type != inventory.NPM || p.Evidence != inventory.Declared || p.Cataloger != "npm" {
					t.Fatalf("%+v", p)
				}
			}
			want, got := fixtures[tc.fixture], render(pkgs)
			if !tc.hasDev {
				want = withoutDev(want)
			}
			if got != want {
				t.Errorf("differs from npm ls:\n%s", diff(want, got))
			}
		})
	}
}

// TestLockLicenses checks that the licenses npm copied into the version 3
// lock are those of the installed package.json files.
func TestLockLicenses(t *testing.T) {
	app := testenv.Shared(t, "lang/npm-app")
	installed := map[string]string{}
	for _, m := range readManifests(t, filepath.Join(app, "node_modules")) {
		installed[m.name+"@"+m.version] = strings.Join(m.licenses, ",")
	}
	pkgs, err := catalog(t, "package-lock.json", filepath.Join(app, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		want, ok := installed[p.Name+"@"+p.Version]
		if !ok || strings.Join(p.Licenses, ",") != want {
			t.Errorf("%s@%s: licenses %q, installed package.json says %q", p.Name, p.Version, p.Licenses, want)
		}
	}
}

// TestDebianModules catalogs the package.json files that Debian's
// node-lodash package installs under usr/share/nodejs.
func TestDebianModules(t *testing.T) {
	root := testenv.Shared(t, "lang/debian-pkgs/node-lodash")
	manifests := readManifests(t, root)
	if len(manifests) == 0 {
		t.Fatal("no package.json in node-lodash")
	}
	for _, m := range manifests {
		pkgs, err := catalog(t, m.path, filepath.Join(root, m.path))
		if err != nil {
			t.Fatal(err)
		}
		if len(pkgs) != 1 {
			t.Fatalf("%s: %d packages", m.path, len(pkgs))
		}
		p := pkgs[0]
		if p.Name != m.name || p.Version != m.version || strings.Join(p.Licenses, ",") != strings.Join(m.licenses, ",") ||
			p.Evidence != inventory.Installed {
			t.Errorf("%s: got %s@%s %q, package.json says %s@%s %q", m.path, p.Name, p.Version, p.Licenses, m.name, m.version, m.licenses)
		}
	}
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"app/node_modules/lodash/package.json", true},
		{"node_modules/lodash/package.json", true},
		{"app/node_modules/@types/node/package.json", true},
		{"app/node_modules/a/node_modules/b/package.json", true},
		{"app/node_modules/a/node_modules/@s/b/package.json", true},
		{"app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json", true},
		{"usr/lib/node_modules/npm/package.json", true},
		{"usr/share/nodejs/lodash/package.json", true},
		{"usr/share/nodejs/@types/lodash/package.json", true},
		{"usr/lib/nodejs/bcrypt/package.json", true},
		{"usr/lib/x86_64-linux-gnu/nodejs/bcrypt/package.json", true},
		{"usr/share/nodejs/lodash/node_modules/x/package.json", true},

		{"app/package.json", false},                                  // the project itself
		{"package.json", false},                                      // likewise
		{"app/node_modules/package.json", false},                     // not in a package directory
		{"app/node_modules/@types/package.json", false},              // a scope is not a package
		{"app/node_modules/lodash/test/fixture/package.json", false}, // part of a package
		{"app/node_modules/@babel/runtime/helpers/esm/package.json", false},
		{"app/node_modules/.bin/package.json", false},
		{"usr/share/nodejs/package.json", false},
		{"usr/share/nodejs/lodash/lib/package.json", false},
		{"usr/share/doc/node-lodash/package.json", false},
		{"app/node_modules/lodash/package.json.orig", false},
		{"app/node_modules/.package-lock.json", false}, // npm's hidden lockfile

		{"app/package-lock.json", true},
		{"package-lock.json", true},
		{"app/npm-shrinkwrap.json", true},
		{"app/yarn.lock", true},
		{"app/pnpm-lock.yaml", true},
		{"app/node_modules/a/package-lock.json", false},
		{"app/node_modules/a/yarn.lock", false},
		{"app/node_modules/.pnpm/lock.yaml", false},
		{"node_modules/a/pnpm-lock.yaml", false},
		{"usr/share/nodejs/a/yarn.lock", false},
		{"usr/lib/x86_64-linux-gnu/nodejs/a/package-lock.json", false},
		{"app/yarn.lock.bak", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestPackageJSON(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string // want: "name@version licenses", "" for no package
	}{
		{"plain", `{"name": "lodash", "version": "4.17.21", "license": "MIT"}`, "lodash@4.17.21 MIT"},
		{"scoped", `{"name": "@types/node", "version": "20.1.0"}`, "@types/node@20.1.0 "},
		{"legacy object", `{"name": "a", "version": "1.0.0", "license": {"type": "ISC", "url": "x"}}`, "a@1.0.0 ISC"},
		{"legacy array", `{"name": "a", "version": "1.0.0", "licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}]}`, "a@1.0.0 MIT,Apache-2.0"},
		{"both, deduplicated", `{"name": "a", "version": "1.0.0", "license": "MIT", "licenses": [{"type": "MIT"}]}`, "a@1.0.0 MIT"},
		{"expression", `{"name": "a", "version": "1.0.0", "license": "(MIT OR Apache-2.0)"}`, "a@1.0.0 (MIT OR Apache-2.0)"},
		{"odd license ignored", `{"name": "a", "version": "1.0.0", "license": 7}`, "a@1.0.0 "},
		{"no version", `{"name": "workspace-root", "private": true}`, ""},
		{"no name", `{"version": "1.0.0"}`, ""},
		{"null name", `{"name": null, "version": "1.0.0"}`, ""},
		{"type marker", `{"type": "module"}`, ""},
		{"case matters", `{"Name": "a", "Version": "1.0.0"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := parsePackageJSON([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if len(pkgs) > 1 {
				t.Fatalf("%d packages", len(pkgs))
			}
			if len(pkgs) == 1 {
				got = pkgs[0].Name + "@" + pkgs[0].Version + " " + strings.Join(pkgs[0].Licenses, ",")
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestByteOrderMark(t *testing.T) {
	data := []byte("\ufeff{\"name\": \"a\", \"version\": \"1.0.0\"}")
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile("node_modules/a/package.json", 0o644, data))
	if err != nil || len(pkgs) != 1 || pkgs[0].Name != "a" {
		t.Fatalf("got %v, %v", pkgs, err)
	}
}

// TestPackageJSONNameWins: the "name" field names the package even when
// the directory says otherwise (npm aliases install under the alias).
func TestPackageJSONNameWins(t *testing.T) {
	data := []byte(`{"name": "strip-ansi", "version": "6.0.1"}`)
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile("app/node_modules/strip-ansi-cjs/package.json", 0o644, data))
	if err != nil || len(pkgs) != 1 || pkgs[0].Name != "strip-ansi" {
		t.Fatalf("got %v, %v", pkgs, err)
	}
}

// lockSnippets cover format variants the generated fixtures lack. They
// also seed the fuzz tests: the real lock files are large enough to make
// the fuzzer spend its time minimizing.
var lockSnippets = []struct {
	name  string
	parse func([]byte) ([]inventory.Package, error)
	data  string
	want  []string
}{
	{"package-lock v1", parsePackageLock, `{
  "name": "app", "version": "1.0.0", "lockfileVersion": 1, "requires": true,
  "dependencies": {
    "a": {"version": "1.0.0", "dependencies": {
      "b": {"version": "2.0.0", "dev": true, "dependencies": {"@s/c": {"version": "3.0.0"}}}
    }},
    "b": {"version": "2.0.0"},
    "d": {"version": "1.1.0", "dev": true},
    "e-alias": {"version": "npm:@s/e@4.0.0"},
    "local": {"version": "file:../local"},
    "g": {"version": "github:user/g#0123456789abcdef"}
  }
}`, []string{"@s/c@3.0.0", "@s/e@4.0.0", "a@1.0.0", "b@2.0.0", "d@1.1.0\tdev", "g@github:user/g#0123456789abcdef"}},

	{"package-lock v2", parsePackageLock, `{
  "name": "app", "lockfileVersion": 2,
  "packages": {
    "": {"name": "app", "version": "1.0.0"},
    "packages/ws": {"name": "ws", "version": "0.1.0"},
    "node_modules/ws": {"resolved": "packages/ws", "link": true},
    "node_modules/a": {"version": "1.0.0", "dev": true},
    "node_modules/b/node_modules/a": {"version": "1.0.0"},
    "node_modules/b": {"version": "2.0.0", "devOptional": true},
    "node_modules/@s/c": {"version": "3.0.0", "dev": true, "license": "ISC"},
    "node_modules/x-alias": {"name": "x", "version": "5.0.0", "optional": true},
    "node_modules/nover": {}
  },
  "dependencies": {"ignored": {"version": "9.9.9"}}
}`, []string{"@s/c@3.0.0\tdev", "a@1.0.0", "b@2.0.0", "x@5.0.0"}},

	{"yarn v1", parseYarnLock, `# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.10.4"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.10.4.tgz"
  dependencies:
    "@babel/highlight" "^7.10.4"

lodash@^4.17.15, lodash@^4.17.20:
  version "4.17.21"

lodash@4.17.21:
  version "4.17.21"

"statuses@>= 1.4.0 < 2":
  version "1.5.0"

"string-width-cjs@npm:string-width@^4.2.0":
  version "4.2.3"

"local@file:../local":
  version "1.0.0"

"linked@link:../linked":
  version "0.0.0"

"g@github:user/g#abc":
  version "2.0.0"
  resolved "https://codeload.github.com/user/g/tar.gz/abc"
`, []string{"@babel/code-frame@7.10.4", "g@2.0.0", "lodash@4.17.21", "statuses@1.5.0", "string-width@4.2.3"}},

	{"yarn berry", parseYarnLock, `# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 6
  cacheKey: 8

"@babel/code-frame@npm:^7.0.0, @babel/code-frame@npm:^7.10.4":
  version: 7.10.4
  resolution: "@babel/code-frame@npm:7.10.4"
  dependencies:
    "@babel/highlight": ^7.10.4
  languageName: node
  linkType: hard

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  languageName: unknown
  linkType: soft

"resolve@npm:^1.20.0":
  version: 1.22.1
  resolution: "resolve@npm:1.22.1"

"resolve@patch:resolve@^1.20.0#~builtin<compat/resolve>":
  version: 1.22.1
  resolution: "resolve@patch:resolve@npm%3A1.22.1#~builtin<compat/resolve>::version=1.22.1&hash=07638b"

"string-width-cjs@npm:string-width@^4.2.0":
  version: 4.2.3
  resolution: "string-width@npm:4.2.3"

"pkg@portal:./pkg::locator=app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "pkg@portal:./pkg::locator=app%40workspace%3A."

"g@https://github.com/user/g.git#commit=abc":
  version: 2.0.0
  resolution: "g@https://github.com/user/g.git#commit=abc"
`, []string{"@babel/code-frame@7.10.4", "g@2.0.0", "resolve@1.22.1", "string-width@4.2.3"}},

	{"pnpm v5", parsePnpmLock, `lockfileVersion: 5.3

packages:
  /@types/react/17.0.0:
    dev: true
  /react-dom/17.0.2_react@17.0.2:
    dev: false
  /react-dom/17.0.2_react@17.0.2+scheduler@0.20.0:
    dev: true
  /@testing-library/react-hooks/8.0.1_4l6mhyjnqvrccumhyt4t3euc4q:
    dev: true
  /use-callback-ref/1.3.0_@types+react@17.0.0+react@17.0.2:
    dev: false
  /some_pkg/1.0.0:
    dev: false
  file:packages/local:
    resolution: {directory: packages/local, type: directory}
    name: local
    version: 1.0.0
  github.com/user/g/0123456789abcdef:
    resolution: {tarball: https://codeload.github.com/user/g/tar.gz/0123456789abcdef}
    name: g
    version: 2.0.0
`, []string{"@testing-library/react-hooks@8.0.1\tdev", "@types/react@17.0.0\tdev", "g@2.0.0", "react-dom@17.0.2", "some_pkg@1.0.0", "use-callback-ref@1.3.0"}},

	{"pnpm v6", parsePnpmLock, `lockfileVersion: '6.0'

packages:
  /@types/react@18.2.0:
    dev: true
  /react-dom@18.2.0(react@18.2.0):
    dev: false
  /react-dom@18.2.0(react@18.1.0):
    dev: true
  /use-callback-ref@1.3.0(@types/react@18.2.0)(react@18.2.0):
    dev: true
  /loose-envify@1.4.0:
    resolution: {integrity: sha512-x}
`, []string{"@types/react@18.2.0\tdev", "loose-envify@1.4.0", "react-dom@18.2.0", "use-callback-ref@1.3.0\tdev"}},

	{"pnpm v9 workspace", parsePnpmLock, `lockfileVersion: '9.0'

importers:
  .:
    dependencies:
      ws:
        specifier: workspace:*
        version: link:packages/ws
    devDependencies:
      tool:
        specifier: ^1.0.0
        version: 1.0.0(peer@2.0.0)
  packages/ws:
    dependencies:
      lib-alias:
        specifier: npm:lib@^3
        version: lib@3.0.0
    optionalDependencies:
      opt:
        specifier: ^1
        version: 1.1.0

packages:
  tool@1.0.0:
    resolution: {integrity: sha512-x}
  peer@2.0.0:
    resolution: {integrity: sha512-x}
  lib@3.0.0:
    resolution: {integrity: sha512-x}
  shared@4.0.0:
    resolution: {integrity: sha512-x}
  opt@1.1.0:
    resolution: {integrity: sha512-x}
  local@file:vendor/local:
    resolution: {directory: vendor/local, type: directory}
    version: 0.1.0

snapshots:
  tool@1.0.0(peer@2.0.0):
    dependencies:
      peer: 2.0.0
      shared: 4.0.0
  peer@2.0.0: {}
  lib@3.0.0:
    dependencies:
      shared: 4.0.0
  shared@4.0.0: {}
  opt@1.1.0: {}
  local@file:vendor/local: {}
`, []string{"lib@3.0.0", "opt@1.1.0", "peer@2.0.0\tdev", "shared@4.0.0", "tool@1.0.0\tdev"}},

	{"pnpm two documents", parsePnpmLock, `---
lockfileVersion: '9.0'

importers:
  .:
    configDependencies: {}

packages:
  '@pnpm/exe@10.0.0':
    resolution: {integrity: sha512-x}

snapshots:
  '@pnpm/exe@10.0.0': {}

---
lockfileVersion: '9.0'

packages:
  a@1.0.0:
    resolution: {integrity: sha512-x}
`, []string{"@pnpm/exe@10.0.0", "a@1.0.0"}},
}

func TestLockSnippets(t *testing.T) {
	for _, tc := range lockSnippets {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := tc.parse([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := render(pkgs), lines2text(tc.want); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		path, data, want string
	}{
		{"app/node_modules/a/package.json", `{"name": "a", "version": `, "unexpected end of JSON input"},
		{"app/node_modules/a/package.json", `["a", "1.0.0"]`, "cannot unmarshal array"},
		{"app/node_modules/a/package.json", `null`, "not a JSON object"},
		{"app/node_modules/a/package.json", `{"name": "a", "version": 1}`, `"version" is not a string`},
		{"app/package-lock.json", `{"lockfileVersion": 3, "packages": {`, "unexpected end of JSON input"},
		{"app/package-lock.json", `{"name": "app"}`, "no lockfileVersion"},
		{"app/package-lock.json", `{"lockfileVersion": 3, "packages": {"node_modules/a": {"version": 1}}}`, "cannot unmarshal number"},
		{"app/yarn.lock", "{\"json\": true}\n", `line 1: not an entry header`},
		{"app/yarn.lock", "  version \"1.0.0\"\n", "line 1: indented line outside an entry"},
		{"app/yarn.lock", "a@^1:\n  resolved \"x\"\n", "entry at line 1: no version for a@^1"},
		{"app/yarn.lock", "\"@npm:1\":\n  version: 1.0.0\n  resolution: \"@npm:1\"\n", `resolution "@npm:1" has no name@reference form`},
		{"app/pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages: [\n", "pnpm-lock: yaml:"},
		{"app/pnpm-lock.yaml", "packages:\n  a@1.0.0: {}\n", "no lockfileVersion"},
		{"app/pnpm-lock.yaml", "lockfileVersion: nine\n", `lockfileVersion "nine" is not a number`},
		{"app/pnpm-lock.yaml", "", "pnpm-lock: empty"},
		{"app/pnpm-lock.yaml", "lockfileVersion: 5.4\npackages:\n  nameonly: {}\n", `package key "nameonly": no name and version`},
		{"app/pnpm-lock.yaml", "lockfileVersion: 5.4\npackages:\n  /a:\n    dev: true\n", `package key "/a": no name and version`},
		{"app/pnpm-lock.yaml", "lockfileVersion: '6.0'\npackages:\n  /@scope@1.0.0: {}\n", `package key "/@scope@1.0.0"`},
		{"app/pnpm-lock.yaml", "lockfileVersion: '6.0'\npackages:\n  /a@1.0.0:\n    dev: maybe\n", "cannot unmarshal"},
	} {
		pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(tc.path, 0o644, []byte(tc.data)))
		if err == nil {
			t.Errorf("%s %q: no error, packages %v", tc.path, tc.data, pkgs)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "npm: "+tc.path+": ") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s %q: error %q, want it to name the file and say %q", tc.path, tc.data, msg, tc.want)
		}
	}
}

// TestPartialErrors: one bad entry is reported and the others kept.
func TestPartialErrors(t *testing.T) {
	pkgs, err := parseYarnLock([]byte("a@^1:\n  version \"1.0.0\"\n\nbroken\n  version \"2\"\n\nb@^1:\n  version \"1.1.0\"\n"))
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("error %v does not name line 4", err)
	}
	if got := render(pkgs); got != "a@1.0.0\nb@1.1.0\n" {
		t.Errorf("got %q", got)
	}
}

func TestTooLarge(t *testing.T) {
	data := bytes.Repeat([]byte(" "), maxManifestSize+1)
	_, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile("node_modules/a/package.json", 0o644, data))
	if !errors.Is(err, analyze.ErrTooLarge) {
		t.Errorf("error %v, want ErrTooLarge", err)
	}
}

// checkFuzz holds for every parser: complete packages of the right type
// and evidence, each name@version once.
func checkFuzz(t *testing.T, pkgs []inventory.Package, evidence inventory.Evidence) {
	seen := map[string]bool{}
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" || p.Type != inventory.NPM || p.Evidence != evidence || p.Cataloger != "npm" {
			t.Fatalf("bad package %+v", p)
		}
		if seen[p.Name+"@"+p.Version] {
			t.Fatalf("%s@%s twice", p.Name, p.Version)
		}
		seen[p.Name+"@"+p.Version] = true
	}
}

func FuzzPackageJSON(f *testing.F) {
	f.Add([]byte(`{"name": "a", "version": "1.0.0", "license": {"type": "MIT"}, "licenses": ["ISC", {"type": "X"}]}`))
	f.Add([]byte(`{"name": "a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parsePackageJSON(data)
		if len(pkgs) > 1 || (err != nil && len(pkgs) > 0) {
			t.Fatalf("%d packages, error %v", len(pkgs), err)
		}
		checkFuzz(t, pkgs, inventory.Installed)
	})
}

// addSnippets seeds a fuzz test with the lock snippets whose name starts
// with format.
func addSnippets(f *testing.F, format string) {
	for _, s := range lockSnippets {
		if strings.HasPrefix(s.name, format) {
			f.Add([]byte(s.data))
		}
	}
}

func FuzzPackageLock(f *testing.F) {
	addSnippets(f, "package-lock")
	f.Add([]byte(`{"lockfileVersion": 1, "dependencies": {"a": {"version": "npm:b@1", "dependencies": {"c": {"version": "2", "dev": true}}}}}`))
	f.Add([]byte(`{"lockfileVersion": 3, "packages": {"": {}, "node_modules/a": {"version": "1", "license": "MIT"}, "node_modules/b/node_modules/a": {"version": "1", "dev": true}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := parsePackageLock(data)
		checkFuzz(t, pkgs, inventory.Declared)
	})
}

func FuzzYarnLock(f *testing.F) {
	addSnippets(f, "yarn")
	f.Add([]byte("\"a@npm:b@^1\", a@1:\n  version \"1\"\n  resolution: \"x@patch:y\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := parseYarnLock(data)
		checkFuzz(t, pkgs, inventory.Declared)
		if n := bytes.Count(data, []byte("version")); len(pkgs) > n {
			t.Fatalf("%d packages from %d version fields", len(pkgs), n)
		}
	})
}

func FuzzPnpmLock(f *testing.F) {
	addSnippets(f, "pnpm")
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := parsePnpmLock(data)
		checkFuzz(t, pkgs, inventory.Declared)
	})
}
