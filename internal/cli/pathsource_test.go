package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// execTool runs a reference tool, failing the test when it is absent or
// fails.
func execTool(t *testing.T, name string, args ...string) {
	t.Helper()
	testenv.Tool(t, name)
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// pathFixtures makes, from the alpine-3.7.3 test image, every kind of
// local source: the layout itself, a docker save tarball and an OCI
// archive written by skopeo, a gzip-compressed docker archive, the
// official minirootfs tarball and that tarball extracted by tar.
type pathFixtures struct {
	layout, dockerTar, ociTar, dockerTarGz, rootfsTar, rootfsDir string
}

func makePathFixtures(t *testing.T) pathFixtures {
	t.Helper()
	dir := t.TempDir()
	f := pathFixtures{
		layout:      testenv.Image(t, "alpine-3.7.3"),
		dockerTar:   filepath.Join(dir, "alpine.tar"),
		ociTar:      filepath.Join(dir, "alpine-oci.tar"),
		dockerTarGz: filepath.Join(dir, "alpine.tar.gz"),
		rootfsTar:   testenv.Shared(t, "images/alpine/alpine-minirootfs-3.7.3-x86_64.tar.gz"),
		rootfsDir:   filepath.Join(dir, "rootfs"),
	}
	execTool(t, "skopeo", "copy", "--quiet", "oci:"+f.layout+":latest", "docker-archive:"+f.dockerTar+":vigil/alpine:3.7.3")
	execTool(t, "skopeo", "copy", "--quiet", "oci:"+f.layout+":latest", "oci-archive:"+f.ociTar+":latest")
	execTool(t, "sh", "-c", "gzip -c <"+f.dockerTar+" >"+f.dockerTarGz)
	if err := os.Mkdir(f.rootfsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	execTool(t, "tar", "-xzf", f.rootfsTar, "-C", f.rootfsDir)
	return f
}

func TestPathSourceDetect(t *testing.T) {
	f := makePathFixtures(t)
	sbomFile := filepath.Join(t.TempDir(), "app.cdx.json")
	os.WriteFile(sbomFile, []byte(`{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}`), 0o644)
	for _, tc := range []struct{ arg, want string }{
		{f.layout, "oci:" + f.layout},
		{f.layout + ":latest", "oci:" + f.layout + ":latest"},
		{f.dockerTar, "archive:" + f.dockerTar},
		{f.dockerTar + ":vigil/alpine:3.7.3", "archive:" + f.dockerTar + ":vigil/alpine:3.7.3"},
		{f.ociTar, "archive:" + f.ociTar},
		{f.dockerTarGz, "archive:" + f.dockerTarGz},
		{f.rootfsTar, "rootfs:" + f.rootfsTar},
		{f.rootfsDir, "dir:" + f.rootfsDir},
		{sbomFile, "sbom:" + sbomFile},
		// Names that are not paths stay references.
		{"alpine:3.20", "alpine:3.20"},
		{"localhost:5000/team/app:1.0", "localhost:5000/team/app:1.0"},
		{"registry:" + f.layout, "registry:" + f.layout},
		{"dir:" + f.layout, "dir:" + f.layout},
	} {
		got, err := resolveSource(tc.arg, true)
		if err != nil || got != tc.want {
			t.Errorf("resolveSource(%q) = %q, %v; want %q", tc.arg, got, err, tc.want)
		}
	}
	if _, err := resolveSource(sbomFile, false); err == nil || !strings.Contains(err.Error(), "not an image") {
		t.Errorf("an SBOM as an image source: %v", err)
	}
	// A path written as one is never looked up in a registry.
	for _, p := range []string{"./no-such-dir", "/no/such/image.tar", "../no-such"} {
		if _, err := resolveSource(p, true); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("resolveSource(%q): %v, want no such file", p, err)
		}
	}

	// An existing path wins over the reference it also spells: a
	// directory named "alpine" in the working directory is scanned, not
	// docker.io/library/alpine.
	wd := t.TempDir()
	t.Chdir(wd)
	os.Mkdir("alpine", 0o755)
	if got, err := resolveSource("alpine", true); err != nil || got != "dir:alpine" {
		t.Errorf(`resolveSource("alpine") with ./alpine present = %q, %v; want dir:alpine`, got, err)
	}
}

// TestPathSourceScan: `vigil scan PATH` scans the directory, layout,
// archive or tarball it names, with the same findings as the explicit
// source; `vigil sbom PATH` likewise.
func TestPathSourceScan(t *testing.T) {
	env := alpineDB(t)
	f := makePathFixtures(t)
	want := "musl CVE-2019-14697,musl-utils CVE-2019-14697"
	for _, arg := range []string{f.rootfsDir, f.layout, f.dockerTar, f.ociTar, f.dockerTarGz, f.rootfsTar} {
		out, _ := runVigilEnv(t, env, "scan", arg, "--format", "json")
		if got := strings.Join(scanIDs(t, out), ","); got != want {
			t.Errorf("vigil scan %s: %s, want %s", arg, got, want)
		}
	}
	// ./dir, relative to the working directory.
	t.Chdir(filepath.Dir(f.rootfsDir))
	out, _ := runVigilEnv(t, env, "scan", "./"+filepath.Base(f.rootfsDir), "--format", "json")
	if got := strings.Join(scanIDs(t, out), ","); got != want {
		t.Errorf("vigil scan ./rootfs: %s, want %s", got, want)
	}
	explicit, _ := runVigilEnv(t, env, "sbom", "dir:./rootfs", "--format", "json")
	bare, _ := runVigilEnv(t, env, "sbom", "./rootfs", "--format", "json")
	if pk, pb := sbomPackages(t, explicit), sbomPackages(t, bare); pk != pb || pk == "" {
		t.Errorf("vigil sbom ./rootfs lists %q, dir:./rootfs %q", pb, pk)
	}
	// An SBOM file given bare is scanned as an SBOM.
	runVigilEnv(t, env, "sbom", "./rootfs", "--format", "cyclonedx", "--output", "alpine.cdx.json")
	out, _ = runVigilEnv(t, env, "scan", "alpine.cdx.json", "--format", "json")
	if got := strings.Join(scanIDs(t, out), ","); got != want {
		t.Errorf("vigil scan alpine.cdx.json: %s, want %s", got, want)
	}
	if code, _, errs := runVigilCode(env, "scan", "./missing", "--format", "json"); code != ExitError || !strings.Contains(errs, "./missing") {
		t.Errorf("vigil scan ./missing: exit %d\n%s", code, errs)
	}
}

// sbomPackages lists the type, name and version of every package of a
// vigil sbom --format json document.
func sbomPackages(t *testing.T, out string) string {
	t.Helper()
	var doc sbomJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("sbom output: %v\n%s", err, out)
	}
	var lines []string
	for _, p := range doc.Packages {
		lines = append(lines, p.Type+" "+p.Name+" "+p.Version)
	}
	return strings.Join(lines, "\n")
}
