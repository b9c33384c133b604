package cli

// These tests hold `vigil sbom` to what the images themselves say. The
// expected packages never come from Vigil's code: the final filesystem is
// unpacked by umoci (which applies the layers' whiteouts), Debian packages
// are listed by dpkg-query, Python metadata is read by Python's own email
// parser, Go binaries by `go version -m`, Java archives by unzip, npm
// manifests and Alpine's database by a plain reading of the files, and
// layers by listing each layer blob with tar.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// sbomJSON is the part of Vigil's JSON inventory these tests read.
type sbomJSON struct {
	Distro *struct {
		ID        string `json:"id"`
		VersionID string `json:"versionId"`
	} `json:"distro"`
	Packages []struct {
		Type     string            `json:"type"`
		Name     string            `json:"name"`
		Version  string            `json:"version"`
		Path     string            `json:"path"`
		PURL     string            `json:"purl"`
		Metadata map[string]string `json:"metadata"`
		Layer    struct {
			Index  int    `json:"index"`
			DiffID string `json:"diffId"`
			Digest string `json:"digest"`
		} `json:"layer"`
	} `json:"packages"`
	Warnings []json.RawMessage `json:"warnings"`
}

func runVigil(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	cache := t.TempDir()
	return runVigilEnv(t, map[string]string{"HOME": cache, "VIGIL_CACHE_DIR": cache}, args...)
}

// runVigilEnv runs the command line in-process with the given environment
// and fails the test unless it exits 0.
func runVigilEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string) {
	t.Helper()
	code, out, errs := runVigilCode(env, args...)
	if code != 0 {
		t.Fatalf("vigil %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out, errs
}

// runVigilCode runs the command line and returns its exit code and output.
func runVigilCode(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{
		Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return code, out.String(), errb.String()
}

func sbomOf(t *testing.T, ref string) *sbomJSON {
	t.Helper()
	out, _ := runVigil(t, "sbom", ref, "--format", "json")
	var doc sbomJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("vigil sbom %s: %v", ref, err)
	}
	return &doc
}

// pkgLine is how both sides are compared: type, name, version, the index
// of the introducing layer and the path.
func pkgLine(typ, name, version string, layer int, path string) string {
	return fmt.Sprintf("%s %s %s L%d %s", typ, name, version, layer, path)
}

// layout is an OCI image layout read with plain JSON, not with Vigil's code.
type layout struct {
	dir    string
	blobs  []string          // layer blobs, base first
	files  []map[string]bool // entries of each layer, as tar lists them
	names  []map[string]string
	rootfs string // the final filesystem, unpacked by umoci
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func blobPath(dir, digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, "blobs", alg, hex)
}

func openLayout(t *testing.T, dir string) *layout {
	t.Helper()
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	var manifest struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	for _, m := range index.Manifests {
		if m.Annotations["org.opencontainers.image.ref.name"] == "latest" {
			readJSON(t, blobPath(dir, m.Digest), &manifest)
		}
	}
	if len(manifest.Layers) == 0 {
		t.Fatalf("%s: no layers for tag latest", dir)
	}
	l := &layout{dir: dir}
	tarTool := testenv.Tool(t, "tar")
	for _, layer := range manifest.Layers {
		blob := blobPath(dir, layer.Digest)
		out, err := exec.Command(tarTool, "-tzf", blob).Output()
		if err != nil {
			t.Fatalf("tar -tzf %s: %v", blob, err)
		}
		files, names := map[string]bool{}, map[string]string{}
		for _, name := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			clean := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(name, "./"), "/"), "/")
			files[clean] = true
			names[clean] = name
		}
		l.blobs = append(l.blobs, blob)
		l.files = append(l.files, files)
		l.names = append(l.names, names)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	cmd := exec.Command(testenv.Tool(t, "umoci"), "unpack", "--image", dir+":latest", bundle)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	l.rootfs = filepath.Join(bundle, "rootfs")
	return l
}

// top returns the highest layer whose tar holds path: the layer the final
// file comes from.
func (l *layout) top(t *testing.T, path string) int {
	for i := len(l.files) - 1; i >= 0; i-- {
		if l.files[i][path] {
			return i
		}
	}
	t.Fatalf("no layer holds %s", path)
	return -1
}

// layerFile extracts one file of one layer with tar.
func (l *layout) layerFile(t *testing.T, i int, path string) []byte {
	out, err := exec.Command("tar", "-xzOf", l.blobs[i], l.names[i][path]).Output()
	if err != nil {
		t.Fatalf("tar -x %s from layer %d: %v", path, i, err)
	}
	return out
}

// dpkgQuery lists name=version of the installed packages in a status file.
func dpkgQuery(t *testing.T, status []byte) map[string]bool {
	adm := t.TempDir()
	if err := os.WriteFile(filepath.Join(adm, "status"), status, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.Tool(t, "dpkg-query"), "--admindir="+adm, "-W",
		"-f=${db:Status-Abbrev} ${Package}=${Version}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	set := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && len(f[0]) >= 2 && f[0][1] != 'n' && f[0][1] != 'c' {
			set[f[1]] = true
		}
	}
	return set
}

func (l *layout) expectDpkg(t *testing.T) []string {
	const status = "var/lib/dpkg/status"
	if _, err := os.Stat(filepath.Join(l.rootfs, status)); err != nil {
		return nil
	}
	perLayer := map[int]map[string]bool{}
	for i := range l.files {
		if l.files[i][status] {
			perLayer[i] = dpkgQuery(t, l.layerFile(t, i, status))
		}
	}
	final, err := os.ReadFile(filepath.Join(l.rootfs, status))
	if err != nil {
		t.Fatal(err)
	}
	top := l.top(t, status)
	var want []string
	for nv := range dpkgQuery(t, final) {
		intro := top
		for i := top - 1; i >= 0; i-- {
			set, ok := perLayer[i]
			if !ok {
				continue
			}
			if !set[nv] {
				break
			}
			intro = i
		}
		name, version, _ := strings.Cut(nv, "=")
		want = append(want, pkgLine("deb", name, version, intro, "/"+status))
	}
	return want
}

// apkInstalled lists name=version from an apk installed database, read
// line by line: each package is a P: line followed by its V: line.
func apkInstalled(db []byte) []string {
	var out []string
	name := ""
	sc := bufio.NewScanner(bytes.NewReader(db))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "P:"):
			name = line[2:]
		case strings.HasPrefix(line, "V:"):
			out = append(out, name+"="+line[2:])
		}
	}
	return out
}

func (l *layout) expectAPK(t *testing.T) []string {
	const db = "lib/apk/db/installed"
	data, err := os.ReadFile(filepath.Join(l.rootfs, db))
	if err != nil {
		return nil
	}
	var want []string
	for _, nv := range apkInstalled(data) {
		name, version, _ := strings.Cut(nv, "=")
		want = append(want, pkgLine("apk", name, version, l.top(t, db), "/"+db))
	}
	return want
}

// expectPython reads every installed distribution's metadata with
// Python's email parser, which is how importlib.metadata reads it.
func (l *layout) expectPython(t *testing.T) []string {
	var files []string
	filepath.WalkDir(l.rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		dir := filepath.Base(filepath.Dir(p))
		if (strings.HasSuffix(dir, ".dist-info") && d.Name() == "METADATA") ||
			(strings.HasSuffix(dir, ".egg-info") && d.Name() == "PKG-INFO") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		return nil
	}
	script := `import email.parser, sys
for f in sys.argv[1:]:
    m = email.parser.Parser().parse(open(f, encoding="utf-8", errors="surrogateescape"))
    print(m["Name"], m["Version"], f)`
	out, err := exec.Command(testenv.Tool(t, "python3"), append([]string{"-c", script}, files...)...).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		rel := strings.TrimPrefix(f[2], l.rootfs+"/")
		want = append(want, pkgLine("pypi", f[0], f[1], l.top(t, rel), "/"+rel))
	}
	return want
}

// expectNPM reads name and version from every package.json below a
// node_modules directory.
func (l *layout) expectNPM(t *testing.T) []string {
	var want []string
	filepath.WalkDir(l.rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "package.json" {
			return nil
		}
		rel := strings.TrimPrefix(p, l.rootfs+"/")
		if !strings.Contains(rel, "node_modules/") {
			return nil
		}
		var m struct{ Name, Version string }
		readJSON(t, p, &m)
		if m.Name != "" && m.Version != "" {
			want = append(want, pkgLine("npm", m.Name, m.Version, l.top(t, rel), "/"+rel))
		}
		return nil
	})
	return want
}

// expectGo asks the Go toolchain which Go binaries the filesystem holds
// and what they were built from.
func (l *layout) expectGo(t *testing.T) []string {
	out, _ := exec.Command(testenv.Tool(t, "go"), "version", "-m", l.rootfs).Output()
	var want []string
	var bin string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && !strings.HasPrefix(line, "\t"):
			bin = strings.TrimPrefix(strings.TrimSuffix(f[0], ":"), l.rootfs+"/")
			want = append(want, pkgLine("golang", "stdlib", "v"+strings.TrimPrefix(f[1], "go"), l.top(t, bin), "/"+bin))
		case len(f) >= 3 && (f[0] == "mod" || f[0] == "dep"):
			want = append(want, pkgLine("golang", f[1], f[2], l.top(t, bin), "/"+bin))
		}
	}
	return want
}

// expectJava reads the pom.properties of every jar with unzip.
func (l *layout) expectJava(t *testing.T) []string {
	var want []string
	unzip := ""
	filepath.WalkDir(l.rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".jar") {
			return nil
		}
		if unzip == "" {
			unzip = testenv.Tool(t, "unzip")
		}
		rel := strings.TrimPrefix(p, l.rootfs+"/")
		list, err := exec.Command(unzip, "-Z1", p).Output()
		if err != nil {
			t.Fatalf("unzip -Z1 %s: %v", p, err)
		}
		for _, entry := range strings.Split(string(list), "\n") {
			if !strings.HasPrefix(entry, "META-INF/maven/") || !strings.HasSuffix(entry, "/pom.properties") {
				continue
			}
			props, err := exec.Command(unzip, "-p", p, entry).Output()
			if err != nil {
				t.Fatal(err)
			}
			kv := map[string]string{}
			for _, line := range strings.Split(string(props), "\n") {
				if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
					kv[k] = v
				}
			}
			want = append(want, pkgLine("maven", kv["groupId"]+":"+kv["artifactId"], kv["version"], l.top(t, rel), "/"+rel))
		}
		return nil
	})
	return want
}

func compareLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	sort.Strings(got)
	sort.Strings(want)
	g := map[string]bool{}
	for _, l := range got {
		g[l] = true
	}
	w := map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	for _, l := range want {
		if !g[l] {
			t.Errorf("%s: missing %s", what, l)
		}
	}
	for _, l := range got {
		if !w[l] {
			t.Errorf("%s: unexpected %s", what, l)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d packages, want %d", what, len(got), len(want))
	}
}

func TestSBOMMatchesImages(t *testing.T) {
	images := []string{"debian-bookworm-minbase", "debian-bullseye-app",
		"alpine-3.6.5", "alpine-3.7.3", "alpine-3.8.5", "alpine-3.10.3", "alpine-3.20.3"}
	for _, name := range images {
		t.Run(name, func(t *testing.T) {
			dir := testenv.Image(t, name)
			l := openLayout(t, dir)
			doc := sbomOf(t, "oci:"+dir+":latest")
			byType := map[string][]string{}
			for _, p := range doc.Packages {
				byType[p.Type] = append(byType[p.Type], pkgLine(p.Type, p.Name, p.Version, p.Layer.Index, p.Path))
				if !strings.HasPrefix(p.PURL, "pkg:"+p.Type+"/") {
					t.Errorf("%s %s: purl %q", p.Type, p.Name, p.PURL)
				}
			}
			compareLines(t, "deb", byType["deb"], l.expectDpkg(t))
			compareLines(t, "apk", byType["apk"], l.expectAPK(t))
			compareLines(t, "pypi", byType["pypi"], l.expectPython(t))
			compareLines(t, "npm", byType["npm"], l.expectNPM(t))
			compareLines(t, "golang", byType["golang"], l.expectGo(t))
			compareLines(t, "maven", byType["maven"], l.expectJava(t))
			for typ := range byType {
				switch typ {
				case "deb", "apk", "pypi", "npm", "golang", "maven":
				default:
					t.Errorf("unexpected %s packages: %v", typ, byType[typ])
				}
			}
			if len(doc.Warnings) > 0 {
				t.Errorf("warnings: %s", doc.Warnings)
			}
			checkOwners(t, l, doc)
			if doc.Distro == nil {
				t.Fatal("no distribution")
			}
			var osRelease map[string]string = map[string]string{}
			if b, err := os.ReadFile(filepath.Join(l.rootfs, "etc", "os-release")); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if k, v, ok := strings.Cut(line, "="); ok {
						osRelease[k] = strings.Trim(v, `"`)
					}
				}
			}
			if doc.Distro.ID != osRelease["ID"] || doc.Distro.VersionID != osRelease["VERSION_ID"] {
				t.Errorf("distro %+v, os-release says %s %s", *doc.Distro, osRelease["ID"], osRelease["VERSION_ID"])
			}
		})
	}
}

// TestSBOMWhiteouts checks the app image's deleted files: python3-yaml is
// still installed as far as dpkg knows, but its Python metadata was
// deleted in the top layer, so no PyYAML Python package may be reported.
func TestSBOMWhiteouts(t *testing.T) {
	dir := testenv.Image(t, "debian-bullseye-app")
	l := openLayout(t, dir)
	var whiteouts []string
	for p := range l.files[len(l.files)-1] {
		if strings.HasPrefix(filepath.Base(p), ".wh.") {
			whiteouts = append(whiteouts, p)
		}
	}
	if len(whiteouts) == 0 {
		t.Fatal("the app image's top layer has no whiteouts")
	}
	doc := sbomOf(t, "oci:"+dir+":latest")
	var sawDeb bool
	for _, p := range doc.Packages {
		if p.Type == "pypi" && strings.EqualFold(p.Name, "pyyaml") {
			t.Errorf("PyYAML reported from deleted metadata at %s", p.Path)
		}
		if p.Type == "deb" && p.Name == "python3-yaml" {
			sawDeb = true
		}
		for _, w := range whiteouts {
			deleted := filepath.Join(filepath.Dir(w), strings.TrimPrefix(filepath.Base(w), ".wh."))
			if strings.HasPrefix(strings.TrimPrefix(p.Path, "/"), deleted) {
				t.Errorf("%s %s read from deleted %s", p.Type, p.Name, deleted)
			}
		}
	}
	if !sawDeb {
		t.Error("python3-yaml missing from the dpkg packages")
	}
}

// TestSBOMMinirootfs reads the official Alpine minirootfs tarballs as root
// filesystems and compares with their apk databases, extracted with tar.
func TestSBOMMinirootfs(t *testing.T) {
	for _, v := range []string{"3.6.5", "3.7.3", "3.8.5", "3.10.3", "3.20.3"} {
		t.Run(v, func(t *testing.T) {
			tarball := testenv.Shared(t, "images/alpine/alpine-minirootfs-"+v+"-x86_64.tar.gz")
			db, err := exec.Command(testenv.Tool(t, "tar"), "-xzOf", tarball, "./lib/apk/db/installed").Output()
			if err != nil {
				t.Fatalf("tar: %v", err)
			}
			var want []string
			for _, nv := range apkInstalled(db) {
				name, version, _ := strings.Cut(nv, "=")
				want = append(want, pkgLine("apk", name, version, 0, "/lib/apk/db/installed"))
			}
			doc := sbomOf(t, "rootfs:"+tarball)
			var got []string
			for _, p := range doc.Packages {
				got = append(got, pkgLine(p.Type, p.Name, p.Version, p.Layer.Index, p.Path))
			}
			compareLines(t, "apk", got, want)
			if doc.Distro == nil || doc.Distro.ID != "alpine" || doc.Distro.VersionID != v {
				t.Errorf("distro %+v, want alpine %s", doc.Distro, v)
			}
		})
	}
}

// checkOwners compares the OS package Vigil says installed each language
// package's file with what `dpkg-query -S` says of the unpacked image.
func checkOwners(t *testing.T, l *layout, doc *sbomJSON) {
	t.Helper()
	admin := filepath.Join(l.rootfs, "var", "lib", "dpkg")
	if _, err := os.Stat(filepath.Join(admin, "status")); err != nil {
		return
	}
	var paths []string
	for _, p := range doc.Packages {
		if p.Type != "deb" {
			paths = append(paths, strings.SplitN(p.Path, "!/", 2)[0])
		}
	}
	if len(paths) == 0 {
		return
	}
	// dpkg-query -S exits 1 when some path belongs to no package; its
	// output still lists the others.
	out, _ := exec.Command(testenv.Tool(t, "dpkg-query"), append([]string{"--admindir=" + admin, "-S"}, paths...)...).Output()
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkgs, path, ok := strings.Cut(line, ": ")
		if !ok || strings.Contains(pkgs, "diversion") {
			continue
		}
		name, _, _ := strings.Cut(strings.Split(pkgs, ", ")[0], ":")
		want[path] = "deb:" + name
	}
	owned := 0
	for _, p := range doc.Packages {
		if p.Type == "deb" {
			continue
		}
		file := strings.SplitN(p.Path, "!/", 2)[0]
		if got := p.Metadata["vigil.owner"]; got != want[file] {
			t.Errorf("%s %s at %s: owner %q, dpkg-query -S says %q", p.Type, p.Name, file, got, want[file])
		}
		if want[file] != "" {
			owned++
		}
	}
	t.Logf("%d language packages installed by dpkg packages", owned)
}
