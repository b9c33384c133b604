package binary

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// catalog runs the cataloger on the file on disk at name as if it were at
// path p of an image, after checking that Wants offers it.
func catalog(t *testing.T, p, name string) []inventory.Package {
	t.Helper()
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if !(Cataloger{}).Wants(p, st.Mode()|0o755, st.Size()) {
		t.Fatalf("Wants(%s) is false", p)
	}
	f, c, err := analyze.OpenFile(p, name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f.Mode |= 0o755 // as installed in an image
	pkgs, err := Cataloger{}.Catalog(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// run returns the output of a reference command, trimmed.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func byName(pkgs []inventory.Package) map[string]inventory.Package {
	m := map[string]inventory.Package{}
	for _, p := range pkgs {
		m[p.Name] = p
	}
	return m
}

func wantPackage(t *testing.T, pkgs []inventory.Package, name, version, cpe string) {
	t.Helper()
	p, ok := byName(pkgs)[name]
	if !ok {
		t.Fatalf("no %s in %+v", name, pkgs)
	}
	if p.Version != version {
		t.Errorf("%s version %q, the program says %q", name, p.Version, version)
	}
	if cpe != "" && (len(p.CPEs) != 1 || p.CPEs[0] != cpe) {
		t.Errorf("%s CPEs %q, want [%s]", name, p.CPEs, cpe)
	}
	if got, want := inventory.PURL(&p, nil), "pkg:"+string(p.Type)+"/"+name+"@"+version; p.Type == inventory.Generic && got != want {
		t.Errorf("%s purl %s, want %s", name, got, want)
	}
}

// TestBinaryNode reads the official Node.js build from npm: the version
// node itself reports, and the OpenSSL it links statically, as
// process.versions.openssl says ("3.0.12+quic": the release is 3.0.12).
func TestBinaryNode(t *testing.T) {
	bin := testenv.NodeBinary(t)
	version := strings.TrimPrefix(run(t, bin, "--version"), "v")
	ssl := run(t, bin, "-p", "process.versions.openssl")
	ssl, _, _ = strings.Cut(ssl, "+")
	pkgs := catalog(t, "usr/local/bin/node", bin)
	if len(pkgs) != 2 {
		t.Errorf("%d packages, want node and openssl: %+v", len(pkgs), pkgs)
	}
	wantPackage(t, pkgs, "node", version, "cpe:2.3:a:nodejs:node.js:"+version+":*:*:*:*:*:*:*")
	wantPackage(t, pkgs, "openssl", ssl, "cpe:2.3:a:openssl:openssl:"+ssl+":*:*:*:*:*:*:*")
}

// TestBinaryPython reads Debian's python3.11, copied under /usr/local as
// a tarball install would put it, at the version it reports.
func TestBinaryPython(t *testing.T) {
	bin := "/usr/bin/python3.11"
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(t, "Debian's python3.11 (apt-get install python3.11-minimal)")
	}
	version := strings.TrimPrefix(run(t, bin, "--version"), "Python ")
	for _, p := range []string{"usr/local/bin/python3.11", "usr/local/bin/python3", "usr/local/bin/python"} {
		t.Run(p, func(t *testing.T) {
			wantPackage(t, catalog(t, p, bin), "python", version, "cpe:2.3:a:python:python:"+version+":*:*:*:*:*:*:*")
		})
	}
	// A file named for another release does not take this one's version.
	if pkgs := catalog(t, "usr/local/bin/python3.9", bin); len(pkgs) != 0 {
		t.Errorf("python3.9 holding 3.11: %+v", pkgs)
	}
}

// TestBinaryBusyBox reads Debian's statically linked busybox.
func TestBinaryBusyBox(t *testing.T) {
	bin := testenv.Tool(t, "busybox")
	banner := run(t, bin, "--help")
	m := regexp.MustCompile(`^BusyBox v([0-9.]+)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("busybox --help: %q", banner)
	}
	if out := run(t, "file", "-L", bin); !strings.Contains(out, "statically linked") {
		t.Fatalf("%s is not statically linked: %s", bin, out)
	}
	wantPackage(t, catalog(t, "bin/busybox", bin), "busybox", m[1], "cpe:2.3:a:busybox:busybox:"+m[1]+":*:*:*:*:*:*:*")
}

// TestBinaryOpenSSL reads the host's libcrypto at the version the openssl
// command reports of the library it runs with.
func TestBinaryOpenSSL(t *testing.T) {
	lib := "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
	if _, err := os.Stat(lib); err != nil {
		testenv.Missing(t, "Debian's libssl3 ("+lib+")")
	}
	out := run(t, testenv.Tool(t, "openssl"), "version")
	m := regexp.MustCompile(`^OpenSSL ([0-9]+\.[0-9]+\.[0-9]+[a-z]*)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("openssl version: %q", out)
	}
	wantPackage(t, catalog(t, "usr/local/lib/libcrypto.so.3", lib), "openssl", m[1], "cpe:2.3:a:openssl:openssl:"+m[1]+":*:*:*:*:*:*:*")
}

// TestBinaryJava reads a JDK's release file, at the version java -version
// reports.
func TestBinaryJava(t *testing.T) {
	home := "/usr/lib/jvm/java-17-openjdk-amd64"
	if _, err := os.Stat(filepath.Join(home, "release")); err != nil {
		testenv.Missing(t, "Debian's openjdk-17-jre-headless")
	}
	out := run(t, filepath.Join(home, "bin", "java"), "-version")
	m := regexp.MustCompile(`version "([0-9._]+)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("java -version: %q", out)
	}
	pkgs := catalog(t, "opt/java/openjdk/release", filepath.Join(home, "release"))
	wantPackage(t, pkgs, "openjdk", m[1], "cpe:2.3:a:oracle:openjdk:"+m[1]+":*:*:*:*:*:*:*")
}

// TestBinaryGoToolchain reads a Go release's VERSION file as the standard
// library and the go command of that release, the version go version
// reads from the release's own go binary.
func TestBinaryGoToolchain(t *testing.T) {
	root := testenv.GoToolchain(t, "1.21.5")
	out := run(t, testenv.Tool(t, "go"), "version", filepath.Join(root, "bin", "go"))
	m := regexp.MustCompile(`: go([0-9.]+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("go version: %q", out)
	}
	pkgs := catalog(t, "usr/local/go/VERSION", filepath.Join(root, "VERSION"))
	if len(pkgs) != 2 {
		t.Fatalf("%+v, want stdlib and toolchain", pkgs)
	}
	for _, p := range pkgs {
		if p.Type != inventory.Go || p.Version != "v"+m[1] || p.Metadata["go.toolchain"] != "go"+m[1] {
			t.Errorf("%+v, want Go %s at v%s", p, p.Name, m[1])
		}
	}
	wantPackage(t, pkgs, "stdlib", "v"+m[1], "")
	wantPackage(t, pkgs, "toolchain", "v"+m[1], "")
}

func TestBinaryWants(t *testing.T) {
	for _, c := range []struct {
		path string
		mode fs.FileMode
		size int64
		want bool
	}{
		{"usr/local/bin/node", 0o755, 90 << 20, true},
		{"usr/local/bin/node", 0o644, 90 << 20, false}, // not executable
		{"usr/local/lib/libpython3.12.so.1.0", 0o644, 20 << 20, true},
		{"usr/local/bin/python3.12", 0o755, 20 << 10, true},
		{"usr/local/bin/python3-config", 0o755, 4 << 10, false},
		{"usr/lib/x86_64-linux-gnu/libcrypto.so.3", 0o644, 4 << 20, true},
		{"usr/bin/curl", 0o755, 300 << 10, true},
		{"usr/local/lib/libcurl.so.4.8.0", 0o644, 600 << 10, true},
		{"usr/local/bin/openssl", 0o755, 900 << 10, true},
		{"usr/local/lib/libssl.so.3", 0o644, 600 << 10, true},
		{"bin/busybox", 0o755, 2 << 20, true},
		{"opt/java/openjdk/release", 0o644, 1200, true},
		{"opt/java/openjdk/release", 0o644, 1 << 20, false},
		{"usr/local/go/VERSION", 0o644, 40, true},
		{"proc/1/exe", 0o755, 1 << 20, false},
		{"usr/bin/nodejs-helper", 0o755, 1 << 20, false},
	} {
		if got := (Cataloger{}).Wants(c.path, c.mode, c.size); got != c.want {
			t.Errorf("Wants(%s, %v, %d) = %v", c.path, c.mode, c.size, got)
		}
	}
}

// TestBinaryNotPrograms: files named like the programs but holding no
// version yield nothing, and no error.
func TestBinaryNotPrograms(t *testing.T) {
	for _, c := range []struct{ path, content string }{
		{"usr/local/bin/node", "#!/bin/sh\nexec /opt/node/bin/node \"$@\"\n" + strings.Repeat("#", 2000)},
		{"usr/local/bin/busybox", "\x7fELF" + strings.Repeat("\x00", 2000)},
		{"etc/release", "NAME=whatever\n"},
		{"srv/VERSION", "1.2.3\n"},
		{"srv/VERSION", "go1.21.5 with spaces\n"},
		{"opt/jdk/release", "JAVA_VERSION=\"17.0.9; rm -rf /\"\n"},
	} {
		f := analyze.NewFile(c.path, 0o755, []byte(c.content))
		pkgs, err := Cataloger{}.Catalog(context.Background(), f)
		if err != nil || len(pkgs) != 0 {
			t.Errorf("%s %q: %+v, %v", c.path, c.content, pkgs, err)
		}
	}
}

// TestBinaryChunkBoundary: a version string split across two chunks of
// the scan is still found.
func TestBinaryChunkBoundary(t *testing.T) {
	for _, at := range []int{chunk - 5, chunk - 16, chunk, chunk + overlap} {
		b := make([]byte, 3*chunk)
		copy(b, "\x7fELF\x02\x01\x01")
		copy(b[at:], "BusyBox v1.36.1 (2023-07-27)")
		ms, err := Scan(context.Background(), analyze.NewFile("bin/busybox", 0o755, b), int64(len(b)), []*Class{BusyBox})
		if err != nil || len(ms) != 1 || ms[0].Version != "1.36.1" {
			t.Errorf("at %d: %+v, %v", at, ms, err)
		}
	}
}

// TestBinaryCurl reads Debian's curl at the version curl --version
// reports; a dynamically linked curl holds no OpenSSL version of its own.
func TestBinaryCurl(t *testing.T) {
	bin := testenv.Tool(t, "curl")
	f := strings.Fields(run(t, bin, "--version"))
	if len(f) < 2 || f[0] != "curl" {
		t.Fatalf("curl --version: %q", f)
	}
	pkgs := catalog(t, "usr/local/bin/curl", bin)
	if len(pkgs) != 1 {
		t.Errorf("%+v, want curl alone", pkgs)
	}
	wantPackage(t, pkgs, "curl", f[1], "cpe:2.3:a:haxx:curl:"+f[1]+":*:*:*:*:*:*:*")
}
