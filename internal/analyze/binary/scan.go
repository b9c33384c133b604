package binary

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
)

const (
	// chunk is how much of a file is held at once while scanning.
	chunk = 1 << 20
	// overlap is carried from one chunk into the next, so that a
	// version string across a chunk boundary is still seen whole; every
	// pattern's match is shorter.
	overlap = 256
	// maxScan bounds the bytes scanned in one file.
	maxScan = 256 << 20
	// maxSections bounds the section headers read from an ELF file.
	maxSections = 1 << 12
	// maxNames bounds the section name table read.
	maxNames = 1 << 16
)

// Match is a class found in a file, with its version.
type Match struct {
	Class   *Class
	Version string
}

// Scan looks for the version strings of classes in the constant data of
// an ELF file (its .rodata and .data sections; the whole file, up to
// maxScan bytes, when it has no section headers), reading at most chunk
// bytes at a time. It returns the first version found of each class, in
// classes order. A file that is not ELF yields nothing.
func Scan(ctx context.Context, r io.ReaderAt, size int64, classes []*Class) ([]Match, error) {
	regions, ok, err := dataRegions(r, size)
	if err != nil || !ok {
		return nil, err
	}
	found := make([]string, len(classes))
	left := len(classes)
	buf := make([]byte, 0, chunk+overlap)
	var scanned int64
	for _, reg := range regions {
		buf = buf[:0]
		for off := reg.off; off < reg.off+reg.n && left > 0 && scanned < maxScan; {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			n := min(int64(chunk), reg.off+reg.n-off, maxScan-scanned)
			keep := len(buf)
			buf = buf[:keep+int(n)]
			m, err := r.ReadAt(buf[keep:], off)
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			buf, n = buf[:keep+m], int64(m)
			for i, c := range classes {
				if found[i] != "" {
					continue
				}
				if v := c.find(buf); v != "" {
					found[i] = v
					left--
				}
			}
			off += n
			scanned += n
			if n == 0 {
				break
			}
			if len(buf) > overlap {
				copy(buf, buf[len(buf)-overlap:])
				buf = buf[:overlap]
			}
		}
	}
	var out []Match
	for i, v := range found {
		if v != "" {
			out = append(out, Match{Class: classes[i], Version: v})
		}
	}
	return out, nil
}

// find returns the version the first of c's patterns that matches b gives.
func (c *Class) find(b []byte) string {
	for _, p := range c.Patterns {
		if m := p.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return ""
}

type region struct{ off, n int64 }

// dataRegions returns where an ELF file keeps its constant data, from its
// section headers, read with every count and size bounded; ok is false
// for a file that is not ELF.
func dataRegions(r io.ReaderAt, size int64) ([]region, bool, error) {
	var hdr [64]byte
	n, err := r.ReadAt(hdr[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	if n < 52 || string(hdr[:4]) != "\x7fELF" {
		return nil, false, nil
	}
	var bo binary.ByteOrder
	switch hdr[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return nil, false, nil
	}
	var (
		shoff                 int64
		shentsize, shnum, idx int
		is64                  bool
	)
	switch hdr[4] {
	case 1:
		shoff = int64(bo.Uint32(hdr[0x20:]))
		shentsize, shnum, idx = int(bo.Uint16(hdr[0x2e:])), int(bo.Uint16(hdr[0x30:])), int(bo.Uint16(hdr[0x32:]))
	case 2:
		if n < 64 {
			return nil, false, nil
		}
		is64 = true
		shoff = int64(bo.Uint64(hdr[0x28:]))
		shentsize, shnum, idx = int(bo.Uint16(hdr[0x3a:])), int(bo.Uint16(hdr[0x3c:])), int(bo.Uint16(hdr[0x3e:]))
	default:
		return nil, false, nil
	}
	whole := []region{{0, min(size, maxScan)}}
	want := 40
	if is64 {
		want = 64
	}
	if shnum == 0 || shnum > maxSections || shentsize < want || shoff <= 0 || shoff > size ||
		int64(shnum)*int64(shentsize) > size-shoff || idx >= shnum {
		// No usable section headers (stripped of them, or damaged):
		// the file's bytes are all there is to go by.
		return whole, true, nil
	}
	table := make([]byte, shnum*shentsize)
	if _, err := r.ReadAt(table, shoff); err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	type section struct {
		name     uint32
		typ      uint32
		off, len int64
	}
	secs := make([]section, shnum)
	for i := range secs {
		e := table[i*shentsize:]
		s := section{name: bo.Uint32(e), typ: bo.Uint32(e[4:])}
		if is64 {
			s.off, s.len = int64(bo.Uint64(e[0x18:])), int64(bo.Uint64(e[0x20:]))
		} else {
			s.off, s.len = int64(bo.Uint32(e[0x10:])), int64(bo.Uint32(e[0x14:]))
		}
		secs[i] = s
	}
	strtab := secs[idx]
	if strtab.off < 0 || strtab.len <= 0 || strtab.off > size || strtab.len > size-strtab.off {
		return whole, true, nil
	}
	names := make([]byte, min(strtab.len, maxNames))
	if _, err := r.ReadAt(names, strtab.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	var out []region
	for _, s := range secs {
		const progbits = 1
		if s.typ != progbits || s.off < 0 || s.len <= 0 || s.off > size || s.len > size-s.off || int(s.name) >= len(names) {
			continue
		}
		name := names[s.name:]
		if i := strings.IndexByte(string(name[:min(len(name), 64)]), 0); i >= 0 {
			name = name[:i]
		}
		switch nm := string(name); {
		case nm == ".rodata", strings.HasPrefix(nm, ".rodata."), nm == ".data", nm == ".data.rel.ro":
			out = append(out, region{s.off, s.len})
		}
	}
	if len(out) == 0 {
		return whole, true, nil
	}
	return out, true, nil
}
