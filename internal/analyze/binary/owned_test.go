package binary_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/analyze/binary"
	"github.com/vigilsec/vigil/internal/analyze/dpkg"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testenv"
)

// TestBinaryOwnedSkipped: the same python3.11 installed by dpkg at
// /usr/bin and unpacked under /usr/local is reported once, from
// /usr/local: the copy dpkg's file list names is the Debian package's.
func TestBinaryOwnedSkipped(t *testing.T) {
	py, err := os.ReadFile("/usr/bin/python3.11")
	if err != nil {
		testenv.Missing(t, "Debian's python3.11 (apt-get install python3.11-minimal)")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{
		{"etc/os-release", 0o644, []byte("ID=debian\nVERSION_ID=\"12\"\n")},
		{"var/lib/dpkg/status", 0o644, []byte("Package: python3.11-minimal\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.11.2-6+deb12u6\n\n")},
		{"var/lib/dpkg/info/python3.11-minimal.list", 0o644, []byte("/.\n/usr\n/usr/bin\n/usr/bin/python3.11\n")},
		{"usr/bin/python3.11", 0o755, py},
		{"usr/local/bin/python3.11", 0o755, py},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	raw := buf.Bytes()
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(raw)
	zw.Close()
	sum := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	blob := zb.Bytes()
	img := &image.Image{Name: "owned", Layers: []*image.Layer{image.NewLayer(
		image.Layer{Index: 0, Digest: sum(blob), DiffID: sum(raw), Size: int64(len(blob))},
		func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })}}
	a, err := analyze.New([]analyze.Cataloger{dpkg.Cataloger{}, binary.Cataloger{}}, analyze.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	var generic []inventory.Package
	for _, p := range res.Inventory.Packages {
		if p.Type == inventory.Generic {
			generic = append(generic, p)
		}
	}
	if len(generic) != 1 || generic[0].Path != "/usr/local/bin/python3.11" || generic[0].Name != "python" {
		t.Fatalf("generic packages %+v, want python at /usr/local/bin/python3.11 only", generic)
	}
	if generic[0].PURL != "pkg:generic/python@"+generic[0].Version {
		t.Errorf("purl %s", generic[0].PURL)
	}
}
