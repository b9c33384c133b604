package ruby

import (
	"context"
	"github.com/vigilsec/vigil/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
)

// rubyLoad prints what RubyGems itself reads from a gemspec.
const rubyLoad = `spec = Gem::Specification.load(ARGV[0]); puts [spec.name, spec.version, spec.platform, spec.licenses.join(",")].join("\t")`

// TestGemspecs reads specifications written in the shape of RubyGems
// 1.8 to 3.4 (rubygems' Gem::Specification#to_ruby). The expectations
// were read off each file by hand; the test also checks them against
// the "# stub:" line RubyGems writes and against the file name, which
// RubyGems derives from the spec (name-version[-platform].gemspec), and,
// when Ruby is installed, against Gem::Specification.load.
func TestGemspecs(t *testing.T) {
	_, rubyErr := exec.LookPath("ruby")
	if rubyErr != nil && testenv.Required() {
		t.Fatal("missing ruby, the reference reader of gemspecs (Debian: ruby)")
	}
	for _, tc := range []struct {
		file, name, version, platform string
		licenses                      []string
		dflt                          bool
	}{
		{"rake-13.0.6.gemspec", "rake", "13.0.6", "", []string{"MIT"}, false},
		{"nokogiri-1.15.4-x86_64-linux.gemspec", "nokogiri", "1.15.4", "x86_64-linux", []string{"MIT"}, false},
		{"google-protobuf-3.24.3-x86_64-linux.gemspec", "google-protobuf", "3.24.3", "x86_64-linux", []string{"BSD-3-Clause"}, false},
		{"rack-2.2.8.gemspec", "rack", "2.2.8", "", []string{"MIT"}, false},
		{"thor-0.14.6.gemspec", "thor", "0.14.6", "", nil, false},
		{"default/json-2.6.3.gemspec", "json", "2.6.3", "", []string{"Ruby"}, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			file := filepath.Join("testdata", "specifications", tc.file)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			full := tc.name + "-" + tc.version
			if tc.platform != "" {
				full += "-" + tc.platform
			}
			if filepath.Base(tc.file) != full+".gemspec" {
				t.Fatalf("file name %s does not match the expectation %s", tc.file, full)
			}
			if i := strings.Index(string(data), "# stub: "); i >= 0 {
				stub := strings.Fields(strings.SplitN(string(data[i:]), "\n", 2)[0])
				plat := tc.platform
				if plat == "" {
					plat = "ruby"
				}
				if stub[2] != tc.name || stub[3] != tc.version || stub[4] != plat {
					t.Fatalf("stub line %q does not match the expectation", stub)
				}
			}
			if rubyErr == nil {
				out, err := exec.Command("ruby", "-e", rubyLoad, file).Output()
				if err != nil {
					t.Fatalf("ruby: %v", err)
				}
				plat := tc.platform
				if plat == "" {
					plat = "ruby"
				}
				want := strings.Join([]string{tc.name, tc.version, plat, strings.Join(tc.licenses, ",")}, "\t")
				if got := strings.TrimRight(string(out), "\r\n"); got != want {
					t.Fatalf("RubyGems reads %q, the expectation is %q", got, want)
				}
			}

			p := "usr/local/bundle/specifications/" + tc.file
			if tc.dflt {
				p = "usr/lib/ruby/gems/3.2.0/specifications/" + tc.file
			}
			if !(Cataloger{}).Wants(p, 0o644, int64(len(data))) {
				t.Fatalf("Wants(%q) = false", p)
			}
			pkgs, err := Cataloger{}.Catalog(context.Background(), analyze.NewFile(p, 0o644, data))
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) != 1 {
				t.Fatalf("got %d packages", len(pkgs))
			}
			g := pkgs[0]
			if g.Name != tc.name || g.Version != tc.version || g.Arch != tc.platform {
				t.Errorf("got %s %s %q, want %s %s %q", g.Name, g.Version, g.Arch, tc.name, tc.version, tc.platform)
			}
			if !reflect.DeepEqual(g.Licenses, tc.licenses) {
				t.Errorf("licenses %q, want %q", g.Licenses, tc.licenses)
			}
			if (g.Metadata["gem.default"] == "true") != tc.dflt {
				t.Errorf("gem.default = %q", g.Metadata["gem.default"])
			}
			if g.Type != inventory.Gem || g.Evidence != inventory.Installed || g.Cataloger != "gem" {
				t.Errorf("type/evidence/cataloger = %s/%s/%s", g.Type, g.Evidence, g.Cataloger)
			}
		})
	}
}

func TestParseGemspec(t *testing.T) {
	const head = "Gem::Specification.new do |s|\n"
	for _, tc := range []struct {
		name, data          string
		wantName, ver, plat string
		licenses            []string
		err                 string
	}{
		{"single quotes", head + "  s.name = 'a'\n  s.version = '1.0'\nend\n", "a", "1.0", "", nil, ""},
		{"percent literals", head + "s.name = %q{b{c}}\ns.version = %Q(2)\ns.licenses = [%q<MIT>, %[Apache-2.0],]\n", "b{c}", "2", "", []string{"MIT", "Apache-2.0"}, ""},
		{"escapes", head + `s.name = "d\x65\u0066\u{67}\"\\\#"` + "\ns.version = \"3\"\n", "defg\"\\#", "3", "", nil, ""},
		{"license singular", head + "s.name = \"e\".freeze\ns.version = \"4\".freeze\ns.license = \"GPL-2.0\".freeze\n", "e", "4", "", []string{"GPL-2.0"}, ""},
		{"ruby platform", head + "s.name = \"f\"\ns.version = \"5\"\ns.platform = Gem::Platform::RUBY\n", "f", "5", "", nil, ""},
		{"platform string ruby", head + "s.name = \"g\"\ns.version = \"6\"\ns.platform = \"ruby\".freeze\n", "g", "6", "", nil, ""},
		{"other variable", "Gem::Specification.new do |spec|\n  spec.name = \"h\"\n  spec.version = \"7\"\n  s.version = \"8\"\n", "h", "7", "", nil, ""},
		{"later assignment wins", head + "s.name = \"i\"\ns.version = \"1\"\ns.version = \"2\"\n", "i", "2", "", nil, ""},
		{"comparison is not assignment", head + "s.name = \"j\"\ns.version = \"1\"\ns.version == \"2\"\n", "j", "1", "", nil, ""},
		{"crlf", "Gem::Specification.new do |s|\r\n  s.name = \"k\".freeze\r\n  s.version = \"9\"\r\n", "k", "9", "", nil, ""},
		{"no block", "s.name = \"x\"\ns.version = \"1\"\n", "", "", "", nil, "no `Gem::Specification.new"},
		{"missing version", head + "s.name = \"x\"\n", "", "", "", nil, "missing name or version"},
		{"computed version", head + "s.name = \"x\"\ns.version = Foo::VERSION\n", "", "", "", nil, "line 3: version: not a string literal"},
		{"interpolation", head + "s.name = \"x#{y}\"\ns.version = \"1\"\n", "", "", "", nil, "string interpolation"},
		{"unterminated", head + "s.name = \"x\ns.version = \"1\"\n", "", "", "", nil, "unterminated string"},
		{"junk after value", head + "s.name = \"x\" + y\ns.version = \"1\"\n", "", "", "", nil, "unexpected"},
		{"bad array", head + "s.name = \"x\"\ns.version = \"1\"\ns.licenses = [\"a\" \"b\"]\n", "", "", "", nil, "expected ',' or ']'"},
		{"space in version", head + "s.name = \"x\"\ns.version = \"1 2\"\n", "", "", "", nil, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseGemspec([]byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "gem: gemspec: ") {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tc.wantName || p.Version != tc.ver || p.Arch != tc.plat || !reflect.DeepEqual(p.Licenses, tc.licenses) {
				t.Errorf("got %q %q %q %q, want %q %q %q %q", p.Name, p.Version, p.Arch, p.Licenses, tc.wantName, tc.ver, tc.plat, tc.licenses)
			}
		})
	}
}

func FuzzParseGemspec(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "specifications", "rack-2.2.8.gemspec")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Gem::Specification.new do |s|\ns.name = %q{a}\ns.version = \"\\u{1F600 41}\"\ns.licenses = ['x\\'y',]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseGemspec(data)
		if err != nil {
			return
		}
		if p.Name == "" || p.Version == "" || strings.ContainsAny(p.Name+p.Version, " \t\r\n") {
			t.Fatalf("bad package %q %q", p.Name, p.Version)
		}
	})
}
