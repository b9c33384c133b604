package binary

import (
	"context"
	"regexp"
	"testing"

	"github.com/vigilsec/vigil/internal/analyze"
)

var versionShape = regexp.MustCompile(`^[0-9][0-9A-Za-z._]{0,31}$`)

// FuzzBinaryScan feeds arbitrary bytes, as ELF files with hostile
// section headers and as plain data, to the version scanners and to the
// release and VERSION readers: none may panic, read outside the file or
// report a version of another shape than the patterns allow.
func FuzzBinaryScan(f *testing.F) {
	elf64 := func(shoff uint64, shnum, idx uint16) []byte {
		b := make([]byte, 256)
		copy(b, "\x7fELF\x02\x01\x01")
		for i := 0; i < 8; i++ {
			b[0x28+i] = byte(shoff >> (8 * i))
		}
		b[0x3a] = 64
		b[0x3c], b[0x3d] = byte(shnum), byte(shnum>>8)
		b[0x3e], b[0x3f] = byte(idx), byte(idx>>8)
		return b
	}
	f.Add([]byte("node.js/v18.19.0\x00OpenSSL 3.0.12+quic 24 Oct 2023\x00"))
	f.Add([]byte("\x003.11.2\x00BusyBox v1.36.1 curl/8.5.0"))
	f.Add(append(elf64(64, 3, 2), "\x00.rodata\x00BusyBox v1.2.3"...))
	f.Add(elf64(1<<62, 65535, 65534))
	f.Add([]byte("JAVA_VERSION=\"17.0.9\"\nIMPLEMENTOR=\"x\"\n"))
	f.Add([]byte("go1.21.5\ntime 2023-11-29T21:21:46Z\n"))
	classes := []*Class{Node, Python, pythonClass("3.11"), OpenSSL, BusyBox, Curl}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, data := range [][]byte{b, append([]byte("\x7fELF\x02\x01\x01"), b...)} {
			ms, err := Scan(context.Background(), analyze.NewFile("x", 0o755, data), int64(len(data)), classes)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			for _, m := range ms {
				if !versionShape.MatchString(m.Version) {
					t.Fatalf("%s version %q", m.Class.Name, m.Version)
				}
			}
		}
		for _, p := range append(javaPackages(b), goPackages(b)...) {
			if len(p.Version) > 40 {
				t.Fatalf("version %q", p.Version)
			}
		}
	})
}
