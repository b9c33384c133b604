package java

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

// TestImageJars catalogs the jars that Debian's packages put in a real
// image layer (debian-bullseye-app: jackson 2.12.1) and checks them
// against unzip's reading of the same files. Each jar, stripped to its
// manifest, must also be named the same by the manifest rules.
func TestImageJars(t *testing.T) {
	dir := testenv.Image(t, "debian-bullseye-app")
	testenv.Tool(t, "unzip") // unzip gives the expected packages
	seen := 0
	for _, layer := range layers(t, dir) {
		f, err := os.Open(layer)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag != tar.TypeReg || !(Cataloger{}).Wants(h.Name, 0o644, h.Size) {
				continue
			}
			data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err != nil {
				t.Fatal(err)
			}
			seen++
			t.Run(h.Name, func(t *testing.T) { checkImageJar(t, h.Name, data) })
		}
		f.Close()
	}
	if seen != 3 {
		t.Errorf("%d jars in the layers, want Debian's 3 jackson jars", seen)
	}
}

func checkImageJar(t *testing.T, name string, data []byte) {
	file := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var w []string
	for _, l := range unzipPoms(t, file) {
		_, rest, _ := strings.Cut(l, "\t")
		w = append(w, "\t"+rest)
	}
	if len(w) != 1 {
		t.Fatalf("unzip finds %d pom.properties, want 1", len(w))
	}
	pkgs, err := catalog(t, Cataloger{}, name, data)
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, pkgs)
	sameLines(t, render(pkgs), w)

	// A manifest with OSGi headers must name the package fully; a bare
	// one (jackson-core's: Manifest-Version, Created-By, Build-Jdk) may
	// leave out groupId and version but must not contradict them.
	manifest := entryOf(t, file, "META-INF/MANIFEST.MF")
	pkgs, err = catalog(t, Cataloger{}, name, zipOf(t, entry{name: "META-INF/MANIFEST.MF", data: manifest}))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 {
		t.Fatalf("%d packages from the manifest alone", len(pkgs))
	}
	got := pkgs[0]
	_, wantName, _ := strings.Cut(w[0], "\t")
	wantName, wantVersion, _ := strings.Cut(wantName, "\t")
	if strings.Contains(string(manifest), "Bundle-SymbolicName:") {
		if got.Name != wantName || got.Version != wantVersion {
			t.Errorf("from the manifest alone: %s %s, want %s %s", got.Name, got.Version, wantName, wantVersion)
		}
		return
	}
	artifact := wantName[strings.IndexByte(wantName, ':')+1:]
	if got.Name != wantName && (got.Name != artifact || got.Metadata["maven.groupId.unknown"] != "true") ||
		got.Version != "" && got.Version != wantVersion {
		t.Errorf("from the bare manifest: %s %s %v contradicts %s %s", got.Name, got.Version, got.Metadata, wantName, wantVersion)
	}
}

// layers returns the layer blobs of the OCI layout's first image.
func layers(t *testing.T, dir string) []string {
	t.Helper()
	var index struct {
		Manifests []struct{ Digest string }
	}
	var manifest struct {
		Layers []struct{ Digest string }
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	if len(index.Manifests) == 0 {
		t.Fatal("empty index.json")
	}
	readJSON(t, blob(dir, index.Manifests[0].Digest), &manifest)
	var out []string
	for _, l := range manifest.Layers {
		out = append(out, blob(dir, l.Digest))
	}
	return out
}

func blob(dir, digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, "blobs", alg, hex)
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
