package ruby

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// TestGemfileLock reads the lock file of a Rails 7.0 application with
// gems from a git repository (devise), a local path (billing) and
// rubygems.org, one of them locked for two platforms (nokogiri). The
// expected gems are the CHECKSUMS section's, which lists every locked
// gem again on its own, with the platform cut off; when Ruby is installed
// Bundler's own LockfileParser must agree.
func TestGemfileLock(t *testing.T) {
	file := filepath.Join("testdata", "rails-app", "Gemfile.lock")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, checks, ok := strings.Cut(string(data), "\nCHECKSUMS\n")
	if !ok {
		t.Fatal("no CHECKSUMS section")
	}
	checks, _, _ = strings.Cut(checks, "\n\n")
	wantSet := map[string]bool{}
	re := regexp.MustCompile(`^  (\S+) \(([^)-]+)(-[^)]+)?\)`)
	for _, l := range strings.Split(checks, "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("CHECKSUMS line %q", l)
		}
		wantSet[m[1]+"\t"+m[2]] = true
	}
	var want []string
	for k := range wantSet {
		want = append(want, k)
	}
	sort.Strings(want)

	if _, err := exec.LookPath("ruby"); err != nil && testenv.Required() {
		t.Fatal("missing ruby with Bundler, the reference reader of Gemfile.lock (Debian: ruby, bundler)")
	} else if err == nil {
		// Bundler resolves the lock file's PATH sources against a
		// Gemfile's directory: an empty one beside nothing will do.
		gemfile := filepath.Join(t.TempDir(), "Gemfile")
		if err := os.WriteFile(gemfile, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ruby", "-rbundler", "-e",
			`Bundler::LockfileParser.new(File.read(ARGV[0])).specs.each { |s| puts [s.name, s.version].join("\t") }`, file)
		cmd.Env = append(os.Environ(), "BUNDLE_GEMFILE="+gemfile)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ruby: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		sort.Strings(lines)
		lines = compact(lines)
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Fatalf("Bundler reads\n%s\nCHECKSUMS lists\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}

	if !(Cataloger{}).Wants("srv/app/Gemfile.lock", 0o644, 1) {
		t.Fatal("Wants(Gemfile.lock) = false")
	}
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile("srv/app/Gemfile.lock", 0o644, data))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"\t"+p.Version)
		if p.Type != inventory.Gem || p.Evidence != inventory.Declared || p.Arch != "" {
			t.Errorf("%s: type %s evidence %s arch %q", p.Name, p.Type, p.Evidence, p.Arch)
		}
		wantSource := map[string]string{"devise": "git", "billing": "path"}[p.Name]
		if p.Metadata["gem.source"] != wantSource {
			t.Errorf("%s: gem.source %q, want %q", p.Name, p.Metadata["gem.source"], wantSource)
		}
	}
	sort.Strings(got)
	if len(got) != len(want) || len(want) != 60 {
		t.Errorf("got %d gems, CHECKSUMS lists %d (60 expected)", len(got), len(want))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func TestParseGemfileLock(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       string
		err        string
	}{
		{"crlf", "GEM\r\n  remote: https://rubygems.org/\r\n  specs:\r\n    rake (13.0.6)\r\n\r\n", "rake 13.0.6", ""},
		{"only specs subsection", "GEM\n  remote: x\n    notaspec (1)\n  specs:\n    a (1)\n      b (>= 1)\n", "a 1", ""},
		{"other sections ignored", "PLATFORMS\n  ruby\n\nDEPENDENCIES\n  a (~> 1)\n\nCHECKSUMS\n  a (1) sha256=00\n\nGEM\n  specs:\n    a (1)\n", "a 1", ""},
		{"plugin source skipped", "PLUGIN SOURCE\n  remote: x\n  specs:\n    p (1)\n\nGEM\n  specs:\n", "", ""},
		{"platforms collapse", "GEM\n  specs:\n    n (1.2-java)\n    n (1.2-x86_64-linux-musl)\n    n (1.3)\n", "n 1.2,n 1.3", ""},
		{"prerelease", "GIT\n  remote: g\n  specs:\n    rails (7.1.0.alpha)\n", "rails 7.1.0.alpha", ""},
		{"bad spec kept going", "GEM\n  specs:\n    bad line\n    ok (1)\n    x ()\n", "ok 1", "line 3: not a spec"},
		{"bad version", "GEM\n  specs:\n    x ()\n", "", "line 3: bad version"},
		{"not a lock file", "{\"json\": true}\n", "", "no GEM, GIT or PATH section"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := ParseGemfileLock([]byte(tc.data))
			var got []string
			for _, p := range pkgs {
				got = append(got, p.Name+" "+p.Version)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("got %q, want %q", strings.Join(got, ","), tc.want)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "gem: Gemfile.lock: ")):
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"usr/local/bundle/specifications/rake-13.0.6.gemspec", true},
		{"usr/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec", true},
		{"specifications/a-1.gemspec", true},
		{"usr/local/bundle/gems/rake-13.0.6/rake.gemspec", false},
		{"src/app/app.gemspec", false},
		{"usr/local/bundle/specifications/default/x/a-1.gemspec", false},
		{"srv/app/Gemfile.lock", true},
		{"srv/app/gems.locked", true},
		{"srv/app/Gemfile", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func FuzzParseGemfileLock(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "rails-app", "Gemfile.lock")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("GIT\n  specs:\n    a (1-b)\n      c\nPATH\n  specs:\n    d (2)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := ParseGemfileLock(data)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || strings.ContainsAny(p.Name+p.Version, " ()\n") || strings.Contains(p.Version, "-") {
				t.Fatalf("bad package %q %q", p.Name, p.Version)
			}
		}
	})
}

func TestCatalogNamesFile(t *testing.T) {
	const p = "usr/local/bundle/specifications/x-1.gemspec"
	pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(p, 0o644, []byte("Gem::Specification.new do |s|\n  s.name = \"x\"\n")))
	if len(pkgs) != 0 || err == nil || !strings.HasPrefix(err.Error(), "gem: gemspec: ") || !strings.Contains(err.Error(), p) {
		t.Errorf("got %v, %v; want an error naming the file", pkgs, err)
	}
}
