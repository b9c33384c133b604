package gobin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// isExecutable reports whether f starts like an ELF, Mach-O or PE
// executable, the formats Go builds for containers and their hosts. It
// reads a few bytes, so that the shell scripts and text files that make
// up most executables in an image are turned away before any parsing.
func isExecutable(f io.ReaderAt) (bool, error) {
	var hdr [64]byte
	n, err := f.ReadAt(hdr[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	b := hdr[:n]
	if len(b) < 16 { // buildinfo needs 16 bytes of header to decide
		return false, nil
	}
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return true, nil
	case bytes.HasPrefix(b, []byte("\xfe\xed\xfa\xce")), bytes.HasPrefix(b, []byte("\xfe\xed\xfa\xcf")),
		bytes.HasPrefix(b, []byte("\xce\xfa\xed\xfe")), bytes.HasPrefix(b, []byte("\xcf\xfa\xed\xfe")):
		return true, nil
	case bytes.HasPrefix(b, []byte("\xca\xfe\xba\xbe")):
		// Universal Mach-O binaries share their magic with Java class
		// files; a class file has its version (45 or more) where a
		// universal binary has its small architecture count.
		return binary.BigEndian.Uint32(b[4:8]) < 45, nil
	case bytes.HasPrefix(b, []byte("MZ")) && len(b) >= 0x40:
		// "MZ" alone is two printable letters; a PE file has its
		// signature at the offset stored at 0x3c.
		off := int64(binary.LittleEndian.Uint32(b[0x3c:0x40]))
		var sig [4]byte
		if _, err := f.ReadAt(sig[:], off); err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
		return string(sig[:]) == "PE\x00\x00", nil
	}
	return false, nil
}
