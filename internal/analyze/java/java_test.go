package java

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/real-jars.tsv from unzip's reading of the jars")

// realJars are the Debian-built jars of the shared test data.
var realJars = []string{
	"lang/debian-pkgs/liblog4j2-java/usr/share/java/log4j-core.jar",
	"lang/debian-pkgs/liblog4j2-java/usr/share/java/log4j-api.jar",
	"lang/debian-pkgs/libjackson2-databind-java/usr/share/java/jackson-databind.jar",
}

const golden = "testdata/real-jars.tsv"

// unzipPoms reads every pom.properties of a jar with Info-ZIP's unzip,
// independently of archive/zip, and returns "<jar>\t<groupId>:<artifactId>\t<version>" lines.
func unzipPoms(t *testing.T, jar string) []string {
	t.Helper()
	list, err := exec.Command("unzip", "-Z1", jar).Output()
	if err != nil {
		t.Fatalf("unzip -Z1 %s: %v", jar, err)
	}
	var lines []string
	for _, name := range strings.Fields(string(list)) {
		if !strings.HasPrefix(name, "META-INF/maven/") || !strings.HasSuffix(name, "/pom.properties") {
			continue
		}
		out, err := exec.Command("unzip", "-p", jar, name).Output()
		if err != nil {
			t.Fatalf("unzip -p %s %s: %v", jar, name, err)
		}
		kv := map[string]string{}
		for _, l := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(k, "#") {
				kv[k] = v
			}
		}
		lines = append(lines, fmt.Sprintf("%s\t%s:%s\t%s", filepath.Base(jar), kv["groupId"], kv["artifactId"], kv["version"]))
	}
	return lines
}

// want returns the golden packages of the real jars, keyed by jar file
// name, as "<name>\t<version>". When unzip is installed the golden file is
// first checked against (or, with -update, rewritten from) what it reads.
func want(t *testing.T) map[string][]string {
	t.Helper()
	if _, err := exec.LookPath("unzip"); err == nil {
		var lines []string
		for _, j := range realJars {
			lines = append(lines, unzipPoms(t, testenv.Shared(t, j))...)
		}
		text := strings.Join(lines, "\n") + "\n"
		if *update {
			if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if g, err := os.ReadFile(golden); err != nil || string(g) != text {
			t.Fatalf("%s differs from what unzip reads now; rerun with -update", golden)
		}
	}
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		jar, rest, _ := strings.Cut(l, "\t")
		m[jar] = append(m[jar], rest)
	}
	return m
}

func catalog(t *testing.T, c Cataloger, name string, data []byte) ([]inventory.Package, error) {
	t.Helper()
	return c.Catalog(context.Background(), analyze.NewFile(name, 0o644, data))
}

func catalogFile(t *testing.T, c Cataloger, name, file string) ([]inventory.Package, error) {
	t.Helper()
	f, closer, err := analyze.OpenFile(name, file)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return c.Catalog(context.Background(), f)
}

// render lists packages as "<path>\t<name>\t<version>", sorted.
func render(pkgs []inventory.Package) []string {
	var lines []string
	for _, p := range pkgs {
		lines = append(lines, p.Path+"\t"+p.Name+"\t"+p.Version)
	}
	sort.Strings(lines)
	return lines
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func checkCommon(t *testing.T, pkgs []inventory.Package) {
	t.Helper()
	for _, p := range pkgs {
		if p.Type != inventory.Maven || p.Cataloger != "java" || p.Evidence != inventory.Installed || p.PURL != "" {
			t.Errorf("%s: type %q cataloger %q evidence %q purl %q", p.Name, p.Type, p.Cataloger, p.Evidence, p.PURL)
		}
	}
}

func TestRealJars(t *testing.T) {
	expect := want(t)
	for _, j := range realJars {
		t.Run(filepath.Base(j), func(t *testing.T) {
			file := testenv.Shared(t, j)
			pkgs, err := catalogFile(t, Cataloger{}, strings.TrimPrefix(j, "lang/debian-pkgs/"), file)
			if err != nil {
				t.Fatal(err)
			}
			checkCommon(t, pkgs)
			var w []string
			for _, l := range expect[filepath.Base(j)] {
				w = append(w, "\t"+l) // the outer archive's packages leave Path empty
			}
			if len(w) == 0 {
				t.Fatal("no expectation")
			}
			sameLines(t, render(pkgs), w)
			for _, p := range pkgs {
				if p.Metadata != nil {
					t.Errorf("%s: metadata %v for a pom.properties package", p.Name, p.Metadata)
				}
			}
		})
	}
}

// TestManifestFallbackOnRealManifests strips the real jars down to their
// MANIFEST.MF: the manifest rules must then name the same package that
// the jar's pom.properties does, under Debian's unversioned file name and
// under Maven's versioned one.
func TestManifestFallbackOnRealManifests(t *testing.T) {
	expect := want(t)
	for _, j := range realJars {
		file := testenv.Shared(t, j)
		exp := expect[filepath.Base(j)]
		if len(exp) != 1 {
			t.Fatalf("%s: want one pom.properties, golden has %d", j, len(exp))
		}
		name, version, _ := strings.Cut(exp[0], "\t")
		manifest := entryOf(t, file, "META-INF/MANIFEST.MF")
		jar := zipOf(t, entry{name: "META-INF/MANIFEST.MF", data: manifest})
		artifact := name[strings.IndexByte(name, ':')+1:]
		for _, fileName := range []string{artifact + ".jar", artifact + "-" + version + ".jar"} {
			t.Run(fileName, func(t *testing.T) {
				pkgs, err := catalog(t, Cataloger{}, "usr/share/java/"+fileName, jar)
				if err != nil {
					t.Fatal(err)
				}
				checkCommon(t, pkgs)
				sameLines(t, render(pkgs), []string{"\t" + name + "\t" + version})
				if len(pkgs) == 1 && pkgs[0].Metadata["maven.groupId.from"] != "Bundle-SymbolicName" {
					t.Errorf("metadata %v, want the groupId from Bundle-SymbolicName", pkgs[0].Metadata)
				}
			})
		}
	}
}

// entryOf returns the content of one entry of a zip file.
func entryOf(t *testing.T, file, name string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type entry struct {
	name  string
	data  []byte
	store bool
}

// zipOf builds a zip archive in memory.
func zipOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.store {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// buildArchive packs the directory dir into the archive out with the JDK's
// jar tool (which also writes a MANIFEST.MF), or with archive/zip where no
// JDK is installed.
func buildArchive(t *testing.T, out, dir string, store bool) {
	t.Helper()
	if _, err := exec.LookPath("jar"); err == nil {
		args := []string{"--create", "--file", out}
		if store {
			args = append(args, "--no-compress")
		}
		if b, err := exec.Command("jar", append(args, "-C", dir, ".")...).CombinedOutput(); err != nil {
			t.Fatalf("jar: %v\n%s", err, b)
		}
		return
	}
	var entries []entry
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		entries = append(entries, entry{name: filepath.ToSlash(rel), data: data, store: store})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, zipOf(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// webapp builds a war holding the real jars under WEB-INF/lib and returns
// its path.
func webapp(t *testing.T, store bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, j := range realJars {
		copyFile(t, testenv.Shared(t, j), filepath.Join(dir, "WEB-INF", "lib", filepath.Base(j)))
	}
	if err := os.WriteFile(filepath.Join(dir, "WEB-INF", "web.xml"), []byte("<web-app/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "app.war")
	buildArchive(t, out, dir, store)
	return out
}

// nestedWant is what the real jars give when nested at prefix.
func nestedWant(t *testing.T, prefix string) []string {
	t.Helper()
	var w []string
	for jar, lines := range want(t) {
		for _, l := range lines {
			w = append(w, prefix+jar+"\t"+l)
		}
	}
	return w
}

// checkUnknown checks the package of an outer archive with neither
// pom.properties nor a versioned manifest: its file name, no version, no
// groupId.
func checkUnknown(t *testing.T, pkgs []inventory.Package, name string) {
	t.Helper()
	for _, p := range pkgs {
		if p.Name == name && p.Path == "" {
			if p.Version != "" || p.Metadata["maven.groupId.unknown"] != "true" {
				t.Errorf("%s: version %q metadata %v, want no version and an unknown groupId", name, p.Version, p.Metadata)
			}
			return
		}
	}
	t.Errorf("no package %s for the outer archive", name)
}

func TestWar(t *testing.T) {
	for _, store := range []bool{false, true} {
		t.Run(fmt.Sprintf("stored=%v", store), func(t *testing.T) {
			war := webapp(t, store)
			for _, c := range []struct {
				name string
				cat  Cataloger
			}{
				{"defaults", Cataloger{}},
				// Nothing fits in memory: every compressed nested
				// jar is spooled to a temporary file.
				{"spooled", Cataloger{TempDir: t.TempDir(), lim: &limits{
					directory: 1 << 20, entries: 10000, small: 1 << 20, entry: 1 << 30, ratio: 100,
					inMemory: 1, held: 1, total: 1 << 30, depth: 4, archives: 100,
				}}},
			} {
				t.Run(c.name, func(t *testing.T) {
					pkgs, err := catalogFile(t, c.cat, "srv/app.war", war)
					if err != nil {
						t.Fatal(err)
					}
					checkCommon(t, pkgs)
					sameLines(t, render(pkgs), append(nestedWant(t, "/srv/app.war!/WEB-INF/lib/"), "\tapp\t"))
					checkUnknown(t, pkgs, "app")
					if c.cat.TempDir != "" {
						left, _ := os.ReadDir(c.cat.TempDir)
						if len(left) != 0 {
							t.Errorf("%d spooled files left behind", len(left))
						}
					}
				})
			}
		})
	}
}

// TestEar nests a war in an ear, beside a jar of its own.
func TestEar(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, webapp(t, false), filepath.Join(dir, "web.war"))
	copyFile(t, testenv.Shared(t, realJars[1]), filepath.Join(dir, "lib", "log4j-api.jar"))
	ear := filepath.Join(t.TempDir(), "app.ear")
	buildArchive(t, ear, dir, false)

	pkgs, err := catalogFile(t, Cataloger{}, "opt/app.ear", ear)
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, pkgs)
	w := nestedWant(t, "/opt/app.ear!/web.war!/WEB-INF/lib/")
	w = append(w, "\tapp\t", "/opt/app.ear!/web.war\tweb\t")
	for _, l := range want(t)["log4j-api.jar"] {
		w = append(w, "/opt/app.ear!/lib/log4j-api.jar\t"+l)
	}
	sameLines(t, render(pkgs), w)
}

// TestExecutableSpringBootJar reads a Spring Boot style jar: libraries
// stored uncompressed under BOOT-INF/lib, and a launcher script in front
// of the zip ("fully executable" jars).
func TestExecutableSpringBootJar(t *testing.T) {
	dir := t.TempDir()
	for _, j := range realJars {
		copyFile(t, testenv.Shared(t, j), filepath.Join(dir, "BOOT-INF", "lib", filepath.Base(j)))
	}
	pom := "groupId=com.example\nartifactId=demo\nversion=0.0.1-SNAPSHOT\n"
	if err := os.MkdirAll(filepath.Join(dir, "META-INF", "maven", "com.example", "demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "META-INF", "maven", "com.example", "demo", "pom.properties"), []byte(pom), 0o644); err != nil {
		t.Fatal(err)
	}
	jar := filepath.Join(t.TempDir(), "demo.jar")
	buildArchive(t, jar, dir, true)
	data, err := os.ReadFile(jar)
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nexec java -jar \"$0\" \"$@\"\n"
	pkgs, err := catalog(t, Cataloger{}, "app/demo.jar", append([]byte(script), data...))
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, pkgs)
	sameLines(t, render(pkgs), append(nestedWant(t, "/app/demo.jar!/BOOT-INF/lib/"), "\tcom.example:demo\t0.0.1-SNAPSHOT"))
}

// TestManifestOnlyJar builds a jar with the JDK's jar tool from a manifest
// alone.
func TestManifestOnlyJar(t *testing.T) {
	dir := t.TempDir()
	mf := filepath.Join(dir, "manifest.txt")
	if err := os.WriteFile(mf, []byte("Implementation-Title: Example Library\nImplementation-Version: 1.2.3\nImplementation-Vendor-Id: com.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	classes := filepath.Join(dir, "classes")
	if err := os.MkdirAll(filepath.Join(classes, "com", "example"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(classes, "com", "example", "A.class"), []byte{0xca, 0xfe, 0xba, 0xbe}, 0o644); err != nil {
		t.Fatal(err)
	}
	jar := filepath.Join(dir, "example-lib-1.2.3.jar")
	if _, err := exec.LookPath("jar"); err == nil {
		if b, err := exec.Command("jar", "--create", "--file", jar, "--manifest", mf, "-C", classes, ".").CombinedOutput(); err != nil {
			t.Fatalf("jar: %v\n%s", err, b)
		}
	} else {
		m, _ := os.ReadFile(mf)
		if err := os.WriteFile(jar, zipOf(t, entry{name: "META-INF/MANIFEST.MF", data: append([]byte("Manifest-Version: 1.0\n"), m...)}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, err := catalogFile(t, Cataloger{}, "opt/lib/example-lib-1.2.3.jar", jar)
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, pkgs)
	sameLines(t, render(pkgs), []string{"\tcom.example:example-lib\t1.2.3"})
	if len(pkgs) == 1 && pkgs[0].Metadata["maven.groupId.from"] != "Implementation-Vendor-Id" {
		t.Errorf("metadata %v", pkgs[0].Metadata)
	}
}

func TestShadedJar(t *testing.T) {
	pom := func(g, a, v string) []byte {
		return []byte("#Created by Apache Maven 3.8.7\ngroupId=" + g + "\nartifactId=" + a + "\nversion=" + v + "\n")
	}
	jar := zipOf(t,
		entry{name: "META-INF/MANIFEST.MF", data: []byte("Manifest-Version: 1.0\r\nImplementation-Version: 9.9\r\nBundle-SymbolicName: org.other.thing\r\n")},
		entry{name: "META-INF/maven/com.example/app/pom.properties", data: pom("com.example", "app", "1.0")},
		entry{name: "META-INF/maven/com.google.guava/guava/pom.properties", data: pom("com.google.guava", "guava", "31.1-jre")},
		entry{name: "META-INF/maven/org.yaml/snakeyaml/pom.properties", data: pom("org.yaml", "snakeyaml", "1.33")},
		// The same artifact again, as two shaded copies can leave it.
		entry{name: "META-INF/maven/org.yaml/snakeyaml/pom.properties", data: pom("org.yaml", "snakeyaml", "1.33")},
		// The keys win over the directory names; missing keys fall
		// back to them.
		entry{name: "META-INF/maven/dir.group/dir-artifact/pom.properties", data: []byte("version=2.0\nartifactId=real-artifact\n")},
		entry{name: "META-INF/maven/x/y/z/pom.properties", data: pom("not", "counted", "1")},
		entry{name: "BOOT-INF/classes/META-INF/maven/not/counted/pom.properties", data: pom("not", "counted", "1")},
	)
	pkgs, err := catalog(t, Cataloger{}, "app.jar", jar)
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, pkgs)
	sameLines(t, render(pkgs), []string{
		"\tcom.example:app\t1.0",
		"\tcom.google.guava:guava\t31.1-jre",
		"\torg.yaml:snakeyaml\t1.33",
		"\tdir.group:real-artifact\t2.0",
	})
}

// TestShadedOnly is Debian's guice.jar: its only pom.properties is that of
// the cglib it shades, so the jar itself is described from its manifest.
func TestShadedOnly(t *testing.T) {
	manifest := "Manifest-Version: 1.0\r\nBundle-Name: guice\r\nBundle-SymbolicName: com.google.inject\r\nBundle-Version: 4.2.3\r\n\r\n"
	cglib := []byte("#Created by Apache Maven 3.6.3\nversion=3.2.12\ngroupId=cglib\nartifactId=cglib\n")
	for _, tc := range []struct {
		file, manifest string
		want           []string
	}{
		{"guice.jar", manifest, []string{"\tcglib:cglib\t3.2.12", "\tguice\t4.2.3"}},
		{"guice-4.2.3.jar", "", []string{"\tcglib:cglib\t3.2.12", "\tguice\t4.2.3"}},
		// Without any version the archive is taken to be what it shades.
		{"guice.jar", "", []string{"\tcglib:cglib\t3.2.12"}},
		// The same version: the pom.properties is the archive's own
		// under another name (Debian's maven3-core-3.8.7.jar).
		{"cglib-nodep-3.2.12.jar", "", []string{"\tcglib:cglib\t3.2.12"}},
	} {
		entries := []entry{{name: "META-INF/maven/cglib/cglib/pom.properties", data: cglib}}
		if tc.manifest != "" {
			entries = append(entries, entry{name: "META-INF/MANIFEST.MF", data: []byte(tc.manifest)})
		}
		pkgs, err := catalog(t, Cataloger{}, "usr/share/java/"+tc.file, zipOf(t, entries...))
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, render(pkgs), tc.want)
	}
}

// TestLimits feeds archives that break each limit: each must give an
// error naming the archive and the entry, and the rest of the file must
// still be read where it can be.
func TestLimits(t *testing.T) {
	api := testenv.Shared(t, realJars[1])
	apiData, err := os.ReadFile(api)
	if err != nil {
		t.Fatal(err)
	}
	coreData, err := os.ReadFile(testenv.Shared(t, realJars[0]))
	if err != nil {
		t.Fatal(err)
	}
	apiWant := []string{}
	for _, l := range want(t)["log4j-api.jar"] {
		apiWant = append(apiWant, "/srv/x.war!/WEB-INF/lib/log4j-api.jar\t"+l)
	}

	zeros := make([]byte, 16<<20)
	// lying declares far less than the deflated zeros it holds.
	lying := func() []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		z := deflate(t, zeros)
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "WEB-INF/lib/liar.jar", Method: zip.Deflate,
			CompressedSize64: uint64(len(z)), UncompressedSize64: 20000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(z); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	// deep nests a jar with a pom.properties in jars six levels deep.
	deep := zipOf(t, entry{name: "META-INF/maven/g/level6/pom.properties", data: []byte("version=6\n")})
	for i := 5; i >= 0; i-- {
		deep = zipOf(t,
			entry{name: fmt.Sprintf("META-INF/maven/g/level%d/pom.properties", i), data: []byte(fmt.Sprintf("version=%d\n", i))},
			entry{name: fmt.Sprintf("lib/level%d.jar", i+1), data: deep, store: i%2 == 0})
	}
	small := func(f func(*limits)) Cataloger {
		l := defaultLimits
		f(&l)
		return Cataloger{lim: &l}
	}

	for _, tc := range []struct {
		name    string
		cat     Cataloger
		data    []byte
		want    []string // packages
		errWant []string // substrings of the error
	}{
		{
			name:    "ratio",
			cat:     Cataloger{},
			data:    zipOf(t, entry{name: "WEB-INF/lib/bomb.jar", data: zeros}, entry{name: "WEB-INF/lib/log4j-api.jar", data: apiData}),
			want:    append([]string{"\tx\t"}, apiWant...),
			errWant: []string{"java: /srv/x.war: WEB-INF/lib/bomb.jar: compression ratio", "zip bomb"},
		},
		{
			name:    "size lie",
			cat:     Cataloger{},
			data:    lying,
			want:    []string{"\tx\t"},
			errWant: []string{"/srv/x.war: WEB-INF/lib/liar.jar: reading 20000 declared bytes: zip: not a valid zip file"},
		},
		{
			name:    "entry size",
			cat:     small(func(l *limits) { l.entry = 100 << 10 }),
			data:    zipOf(t, entry{name: "WEB-INF/lib/log4j-api.jar", data: apiData}),
			want:    []string{"\tx\t"},
			errWant: []string{fmt.Sprintf("/srv/x.war: WEB-INF/lib/log4j-api.jar: %d bytes uncompressed, limit 102400", len(apiData))},
		},
		{
			name:    "total",
			cat:     small(func(l *limits) { l.total = 100 << 10 }),
			data:    zipOf(t, entry{name: "WEB-INF/lib/log4j-api.jar", data: apiData}),
			want:    []string{"\tx\t"},
			errWant: []string{fmt.Sprintf("/srv/x.war: WEB-INF/lib/log4j-api.jar: reading %d declared bytes: more than 102400 bytes decompressed in all", len(apiData))},
		},
		{
			name:    "entries",
			cat:     small(func(l *limits) { l.entries = 100 }),
			data:    zipOf(t, entry{name: "WEB-INF/lib/log4j-api.jar", data: apiData, store: true}),
			want:    []string{"\tx\t"},
			errWant: []string{"/srv/x.war!/WEB-INF/lib/log4j-api.jar: " + fmt.Sprint(entryCount(t, api)) + " entries, limit 100"},
		},
		{
			// log4j-core.jar's directory is over 100 KiB.
			name:    "directory",
			cat:     small(func(l *limits) { l.directory = 4 << 10 }),
			data:    zipOf(t, entry{name: "WEB-INF/lib/log4j-core.jar", data: coreData, store: true}),
			want:    []string{"\tx\t"},
			errWant: []string{"/srv/x.war!/WEB-INF/lib/log4j-core.jar: central directory larger than 4096 bytes"},
		},
		{
			name:    "archives",
			cat:     small(func(l *limits) { l.archives = 1 }),
			data:    zipOf(t, entry{name: "WEB-INF/lib/log4j-api.jar", data: apiData}, entry{name: "WEB-INF/lib/again.jar", data: apiData}),
			want:    append([]string{"\tx\t"}, apiWant...),
			errWant: []string{"/srv/x.war!/WEB-INF/lib/again.jar: more than 1 nested archives"},
		},
		{
			name: "depth",
			cat:  Cataloger{},
			data: deep,
			want: []string{
				"\tg:level0\t0",
				"/srv/x.war!/lib/level1.jar\tg:level1\t1",
				"/srv/x.war!/lib/level1.jar!/lib/level2.jar\tg:level2\t2",
				"/srv/x.war!/lib/level1.jar!/lib/level2.jar!/lib/level3.jar\tg:level3\t3",
				"/srv/x.war!/lib/level1.jar!/lib/level2.jar!/lib/level3.jar!/lib/level4.jar\tg:level4\t4",
			},
			errWant: []string{"/srv/x.war!/lib/level1.jar!/lib/level2.jar!/lib/level3.jar!/lib/level4.jar!/lib/level5.jar: archive nested more than 4 levels deep"},
		},
		{
			name: "big pom.properties",
			cat:  Cataloger{},
			data: zipOf(t,
				entry{name: "META-INF/maven/g/a/pom.properties", data: append([]byte("version=1\n#"), zeros[:2<<20]...)},
				entry{name: "META-INF/MANIFEST.MF", data: []byte("Implementation-Version: 7\n")}),
			want:    []string{"\tx\t7"},
			errWant: []string{"/srv/x.war: META-INF/maven/g/a/pom.properties: 2097163 bytes, limit 1048576"},
		},
		{
			name:    "endless manifest",
			cat:     Cataloger{},
			data:    zipOf(t, entry{name: "META-INF/MANIFEST.MF", data: append([]byte("Implementation-Version: 7\nX: "), zeros...)}),
			want:    []string{"\tx\t"},
			errWant: []string{"/srv/x.war: META-INF/MANIFEST.MF: main section longer than 1048576 bytes"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgs, err := catalog(t, tc.cat, "srv/x.war", tc.data)
			checkCommon(t, pkgs)
			sameLines(t, render(pkgs), tc.want)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.errWant {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func deflate(t *testing.T, data []byte) []byte {
	t.Helper()
	// A stored-free zip of one entry holds exactly the deflate stream.
	z := zipOf(t, entry{name: "x", data: data})
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := zr.File[0].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	return z[off : off+int64(zr.File[0].CompressedSize64)]
}

// entryCount counts a jar's entries with unzip where it is installed.
func entryCount(t *testing.T, jar string) int {
	t.Helper()
	if _, err := exec.LookPath("unzip"); err != nil {
		zr, err := zip.OpenReader(jar)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		return len(zr.File)
	}
	out, err := exec.Command("unzip", "-Z1", jar).Output()
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Fields(string(out)))
}

func TestMalformed(t *testing.T) {
	api, err := os.ReadFile(testenv.Shared(t, realJars[1]))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{4, 30, 1000, len(api) / 2, len(api) - 30, len(api) - 1} {
			pkgs, err := catalog(t, Cataloger{}, "x/log4j-api.jar", api[:n])
			if err == nil || !strings.Contains(err.Error(), "java: /x/log4j-api.jar: unreadable zip archive") {
				t.Errorf("cut at %d: error %v", n, err)
			}
			if len(pkgs) != 0 {
				t.Errorf("cut at %d: %d packages", n, len(pkgs))
			}
		}
	})
	t.Run("truncated nested", func(t *testing.T) {
		war := zipOf(t, entry{name: "WEB-INF/lib/broken.jar", data: api[:len(api)/2]})
		pkgs, err := catalog(t, Cataloger{}, "srv/x.war", war)
		sameLines(t, render(pkgs), []string{"\tx\t"})
		if err == nil || !strings.Contains(err.Error(), "/srv/x.war!/WEB-INF/lib/broken.jar: unreadable zip archive") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("not a zip", func(t *testing.T) {
		for _, data := range [][]byte{nil, []byte("#!/bin/sh\necho not a jar\n"), []byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0}, 100000)} {
			pkgs, err := catalog(t, Cataloger{}, "x/a.jar", data)
			if err != nil || len(pkgs) != 0 {
				t.Errorf("%.10q: %v, %v", data, pkgs, err)
			}
		}
	})
	t.Run("pom.properties without version", func(t *testing.T) {
		jar := zipOf(t,
			entry{name: "META-INF/maven/g/a/pom.properties", data: []byte("groupId=g\nartifactId=a\n")},
			entry{name: "META-INF/maven/g/b/pom.properties", data: []byte("groupId=g g\nartifactId=b\nversion=1\n")},
			entry{name: "META-INF/MANIFEST.MF", data: []byte("Implementation-Version: 3.0\nImplementation-Vendor-Id: org.example\n")})
		pkgs, err := catalog(t, Cataloger{}, "x/a-3.0.jar", jar)
		sameLines(t, render(pkgs), []string{"\torg.example:a\t3.0"})
		if err == nil || !strings.Contains(err.Error(), "/x/a-3.0.jar: META-INF/maven/g/a/pom.properties: no version") ||
			!strings.Contains(err.Error(), `META-INF/maven/g/b/pom.properties: invalid groupId "g g"`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		war := zipOf(t, entry{name: "WEB-INF/lib/log4j-api.jar", data: api})
		_, err := Cataloger{}.Catalog(ctx, analyze.NewFile("x.war", 0o644, war))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

func TestWants(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"usr/share/java/log4j-core.jar", true},
		{"app/app.war", true},
		{"app/app.ear", true},
		{"var/jenkins_home/plugins/git.jpi", true},
		{"var/jenkins_home/plugins/git.hpi", true},
		{"opt/LIB.JAR", true},
		{"opt/jar", false},
		{"opt/a.jar.sha1", false},
		{"opt/a.zip", false},
		{"opt/jarfile", false},
	} {
		if got := (Cataloger{}).Wants(tc.path, 0o644, 1); got != tc.want {
			t.Errorf("Wants(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// FuzzCatalog runs the whole archive reader over arbitrary bytes, seeded
// with a small jar made of the real log4j-api.jar's manifest and
// pom.properties, and a war nesting it.
func FuzzCatalog(f *testing.F) {
	api := testenv.Shared(f, realJars[1])
	zr, err := zip.OpenReader(api)
	if err != nil {
		f.Fatal(err)
	}
	var entries []entry
	for _, zf := range zr.File {
		// The manifest and pom.properties only: a small seed keeps the
		// fuzzer's minimization quick.
		if zf.Name == "META-INF/MANIFEST.MF" || isPomProperties(zf.Name) {
			rc, err := zf.Open()
			if err != nil {
				f.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			entries = append(entries, entry{name: zf.Name, data: b.Bytes()})
		}
	}
	zr.Close()
	jar := zipOf(f, entries...)
	f.Add(jar)
	f.Add(zipOf(f, entry{name: "WEB-INF/lib/log4j-api.jar", data: jar}, entry{name: "lib/s.jar", data: jar, store: true}))
	f.Add(zipOf(f, entry{name: "META-INF/MANIFEST.MF", data: []byte("Bundle-SymbolicName: a.b.c\nImplementation-Version: 1\n")}))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _ := Cataloger{}.Catalog(context.Background(), analyze.NewFile("fuzz-1.0.jar", 0o644, data))
		for _, p := range pkgs {
			if p.Name == "" || p.Type != inventory.Maven || p.Cataloger != "java" {
				t.Fatalf("bad package %+v", p)
			}
			if p.Path != "" && !strings.HasPrefix(p.Path, "/fuzz-1.0.jar!/") {
				t.Fatalf("path %q", p.Path)
			}
		}
	})
}
