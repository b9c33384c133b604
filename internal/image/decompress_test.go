package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/vigilsec/vigil/internal/testenv"
)

// alpineTar returns the Alpine 3.20.3 minirootfs, compressed as
// published and uncompressed by the gzip tool.
func alpineTar(t *testing.T) (gz, plain []byte) {
	t.Helper()
	path := testenv.Shared(t, "images/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	gz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return gz, run(t, "gzip", "-dc", path)
}

// tool pipes in through a compression tool.
func tool(t *testing.T, in []byte, name string, args ...string) []byte {
	t.Helper()
	testenv.Tool(t, name)
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func TestDecompress(t *testing.T) {
	gz, plain := alpineTar(t)
	var kz bytes.Buffer
	enc, err := zstd.NewWriter(&kz, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	// Two gzip members, as parallel compressors write: one stream.
	var multi bytes.Buffer
	half := len(plain) / 2
	for _, part := range [][]byte{plain[:half], plain[half:]} {
		zw := gzip.NewWriter(&multi)
		zw.Write(part)
		zw.Close()
	}

	tests := []struct {
		name, kind string
		data       []byte
	}{
		{"published gzip", "gzip", gz},
		{"gzip members", "gzip", multi.Bytes()},
		{"klauspost zstd", "zstd", kz.Bytes()},
		{"zstd tool", "zstd", tool(t, plain, "zstd", "-q", "-c", "-3")},
		{"uncompressed", "tar", plain},
		{"GNU tar", "tar", tarOf(t, "--format=gnu")},
		{"PAX tar", "tar", tarOf(t, "--format=pax")},
		{"V7 tar", "tar", tarOf(t, "--format=v7")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, err := Compression(bufio.NewReader(bytes.NewReader(tt.data)))
			if err != nil || kind != tt.kind {
				t.Fatalf("Compression = %q, %v; want %q", kind, err, tt.kind)
			}
			rc, err := Decompress(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			want := plain
			if tt.name == "GNU tar" || tt.name == "PAX tar" || tt.name == "V7 tar" {
				want = tt.data
			}
			if sha256.Sum256(got) != sha256.Sum256(want) {
				t.Fatalf("%d bytes out, differ from the %d expected", len(got), len(want))
			}
			if _, err := tar.NewReader(bytes.NewReader(got)).Next(); err != nil {
				t.Errorf("not a tar: %v", err)
			}
		})
	}
}

// tarOf makes a small archive with the tar tool in the given format.
func tarOf(t *testing.T, format string) []byte {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "etc-os-release"), []byte("ID=test\n"))
	return run(t, "tar", "-c", format, "-f", "-", "-C", dir, "etc-os-release")
}

func TestDecompressErrors(t *testing.T) {
	gz, plain := alpineTar(t)
	zst := tool(t, plain, "zstd", "-q", "-c")
	head := plain[:64<<10] // enough for the magic numbers, quick to compress
	text := []byte("this is a text file and nothing like a tar archive at all\n")
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty stream"},
		{"text", text, "neither gzip, zstd nor a tar"},
		{"corrupt tar header", append(bytes.Clone(plain[:100]), make([]byte, 412)...), "neither gzip, zstd nor a tar"},
		{"bzip2", tool(t, head, "bzip2", "-c"), "bzip2-compressed"},
		{"xz", tool(t, head, "xz", "-c"), "xz-compressed"},
		{"lz4", tool(t, head, "lz4", "-c"), "lz4-compressed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decompress(bytes.NewReader(tt.data))
			wantErr(t, err, "image: ", tt.want)
		})
	}

	// Damage shows when the stream is read.
	reads := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated gzip", gz[:len(gz)/2], "unexpected EOF"},
		{"truncated zstd", zst[:len(zst)/2], "unexpected EOF"},
		{"corrupt gzip", flip(gz, len(gz)/2), ""},
		{"corrupt zstd", flip(zst, len(zst)/2), ""},
		// zstd --long=30 on a stream of unknown size (a pipe) declares
		// a 1 GiB window, which the decoder must refuse, not allocate.
		{"zstd 1 GiB window", tool(t, plain[:1<<20], "zstd", "-q", "-c", "--long=30"), "window size exceeded"},
	}
	for _, tt := range reads {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := Decompress(bytes.NewReader(tt.data))
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			wantErr(t, err, tt.want)
		})
	}
}

func flip(data []byte, i int) []byte {
	out := bytes.Clone(data)
	out[i] ^= 0xff
	return out
}

func FuzzDecompress(f *testing.F) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "etc/os-release", Mode: 0o644, Size: 8})
	tw.Write([]byte("ID=test\n"))
	tw.Close()
	var gzb bytes.Buffer
	zw := gzip.NewWriter(&gzb)
	zw.Write(tb.Bytes())
	zw.Close()
	enc, _ := zstd.NewWriter(nil)
	f.Add(tb.Bytes())
	f.Add(gzb.Bytes())
	f.Add(enc.EncodeAll(tb.Bytes(), nil))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("BZh9"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := Decompress(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer rc.Close()
		io.Copy(io.Discard, io.LimitReader(rc, 16<<20))
	})
}
