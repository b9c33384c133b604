package rpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Package header layout (rpm's lib/header.c): index length il and data
// length dl (big-endian), il 16-byte index entries (tag, type, offset,
// count), then dl bytes of data.
const (
	headerTagsMax  = 0xffff     // rpm's HEADER_TAGS_MAX
	headerDataMax  = 0x0fffffff // rpm's HEADER_DATA_MAX
	headerMaxBytes = 256 << 20  // rpm's headerMaxbytes: a whole header

	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9
	typeMax         = 9
)

// typeSizes are the sizes of fixed-size header types (0 for the others).
var typeSizes = [typeMax + 1]int64{0, 1, 1, 2, 4, 8, 0, 1, 0, 0}

// checkHeader checks a package header the way rpm does before it trusts
// one (hdrblobInit and hdrblobVerifyInfo): sane counts, every entry's data
// inside the data area, entries in order and not overlapping, and every
// string it claims actually there. go-rpmdb makes only some of these
// checks, and without them its parser can run for minutes or allocate
// gigabytes; with them, its work is bounded by the header's size.
func checkHeader(b []byte) error {
	if len(b) < 8 {
		return errors.New("header: too short")
	}
	il := int64(int32(binary.BigEndian.Uint32(b)))
	dl := int64(int32(binary.BigEndian.Uint32(b[4:])))
	if il < 1 || il > headerTagsMax {
		return fmt.Errorf("header: %d index entries", il)
	}
	if dl < 0 || dl > headerDataMax {
		return fmt.Errorf("header: %d bytes of data", dl)
	}
	start := 8 + 16*il
	if start+dl > int64(len(b)) {
		return fmt.Errorf("header: %d entries and %d bytes of data do not fit in %d bytes", il, dl, len(b))
	}
	data := b[start : start+dl]
	first := int64(0)
	if tag := int32(binary.BigEndian.Uint32(b[8:])); tag == 61 || tag == 62 || tag == 63 {
		// The region tag (HEADERIMAGE, HEADERSIGNATURES,
		// HEADERIMMUTABLE) points at its trailer at the end of the
		// data; rpm checks the order of the entries after it.
		first = 1
	}
	end := int64(0)
	for i := first; i < il; i++ {
		e := b[8+16*i:]
		typ := binary.BigEndian.Uint32(e[4:])
		off := int64(int32(binary.BigEndian.Uint32(e[8:])))
		count := int64(binary.BigEndian.Uint32(e[12:]))
		if typ > typeMax {
			return fmt.Errorf("header: entry %d: type %d", i, typ)
		}
		if off < end || off > dl {
			return fmt.Errorf("header: entry %d: offset %d out of order or out of range", i, off)
		}
		n := dataLength(typ, count, data[off:])
		if n <= 0 {
			return fmt.Errorf("header: entry %d: %d values of type %d do not fit", i, count, typ)
		}
		end = off + n
	}
	return nil
}

// dataLength is the length of count values of type typ at the start of
// data, or -1 if they do not fit.
func dataLength(typ uint32, count int64, data []byte) int64 {
	switch typ {
	case typeString, typeStringArray, typeI18NString:
		if typ == typeString && count != 1 {
			return -1
		}
		// count NUL-terminated strings; each takes at least a byte,
		// so the loop ends within len(data) rounds.
		n := int64(0)
		for ; count > 0; count-- {
			i := bytes.IndexByte(data[n:], 0)
			if i < 0 {
				return -1
			}
			n += int64(i) + 1
		}
		return n
	default:
		n := typeSizes[typ] * count
		if n > int64(len(data)) {
			return -1
		}
		return n
	}
}
