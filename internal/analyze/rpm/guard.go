package rpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
)

// go-rpmdb trusts every offset, length and count it reads. On a hostile
// file its reader goroutine can index past a page (a panic no recover()
// in Catalog can catch, which ends the process), loop forever on an
// overflow chain, or allocate whatever a length field says; and its
// header parser can spin for billions of rounds on a string count, or
// allocate an index of 2^31 entries. The checks below walk the file the
// way go-rpmdb will, check each package header as rpm does (header.go),
// and refuse the file before go-rpmdb sees it if any of that could
// happen. They are stricter than go-rpmdb, never looser: a database rpm
// wrote passes them.

// Berkeley DB hash database layout, as go-rpmdb reads it (libdb's
// db_page.h).
const (
	bdbHashMagic       = 0x00061561
	bdbPageHeaderSize  = 26
	bdbHashUnsorted    = 2  // hash page written before libdb 4.6
	bdbHashOffPage     = 3  // HOFFPAGE: the value is on overflow pages
	bdbOverflowPage    = 7  // page of an overflow chain
	bdbHashMetaPage    = 8  // page 0
	bdbHashPage        = 13 // sorted hash page
	bdbHashOffPageSize = 12 // type, 3 unused, page number, length
)

// checkBDB refuses a Berkeley DB file that go-rpmdb could crash or hang
// on. size is the file's length.
func checkBDB(r io.ReaderAt, size int64) error {
	meta := make([]byte, 512)
	if n, err := r.ReadAt(meta, 0); n < 72 {
		return fmt.Errorf("bdb: %d bytes, too short for a database: %v", n, err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint32(meta[12:]) == bdbHashMagic {
		order = binary.BigEndian // a database written on s390x or ppc64
	}
	if m := order.Uint32(meta[12:]); m != bdbHashMagic {
		return fmt.Errorf("bdb: magic %#x is not a hash database's", m)
	}
	if meta[24] != 0 {
		return errors.New("bdb: encrypted database")
	}
	if meta[25] != bdbHashMetaPage {
		return fmt.Errorf("bdb: first page has type %d, not hash metadata", meta[25])
	}
	pageSize := int64(order.Uint32(meta[20:]))
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("bdb: page size %d", pageSize)
	}
	lastPage := int64(order.Uint32(meta[32:]))
	pages := size / pageSize
	if lastPage >= pages {
		// go-rpmdb stops at the end of the file with an error; so do
		// we, with a clearer one.
		return fmt.Errorf("bdb: last page %d beyond the file's %d pages (truncated?)", lastPage, pages)
	}

	// Each overflow page holds part of exactly one value: a page reached
	// twice means a cycle or shared chains, which would make go-rpmdb
	// loop or do quadratic work.
	used := make([]bool, pages)
	var value []byte
	page := make([]byte, pageSize)
	chain := make([]byte, pageSize)
	for no := int64(0); no <= lastPage; no++ {
		if _, err := r.ReadAt(page, no*pageSize); err != nil {
			return fmt.Errorf("bdb: page %d: %w", no, err)
		}
		if t := page[25]; t != bdbHashPage && t != bdbHashUnsorted {
			continue // go-rpmdb looks only at hash pages
		}
		entries := int64(order.Uint16(page[20:]))
		if entries%2 != 0 {
			return fmt.Errorf("bdb: page %d: odd number of entries %d", no, entries)
		}
		if bdbPageHeaderSize+2*entries > pageSize {
			return fmt.Errorf("bdb: page %d: %d entries overflow the page", no, entries)
		}
		// Entries alternate key, value; go-rpmdb reads the values.
		for i := int64(1); i < entries; i += 2 {
			off := int64(order.Uint16(page[bdbPageHeaderSize+2*i:]))
			if off >= pageSize {
				return fmt.Errorf("bdb: page %d: entry %d at offset %d beyond the page", no, i, off)
			}
			if page[off] != bdbHashOffPage {
				continue
			}
			if off+bdbHashOffPageSize > pageSize {
				return fmt.Errorf("bdb: page %d: entry %d at offset %d overruns the page", no, i, off)
			}
			// The value is the data of the chain's pages, as go-rpmdb
			// joins them: whole pages, then the used part of the last.
			value = value[:0]
			for next := int64(order.Uint32(page[off+4:])); next != 0; {
				if next >= pages {
					return fmt.Errorf("bdb: page %d: overflow page %d beyond the file", no, next)
				}
				if used[next] {
					return fmt.Errorf("bdb: page %d: overflow page %d reached twice", no, next)
				}
				used[next] = true
				if _, err := r.ReadAt(chain, next*pageSize); err != nil {
					return fmt.Errorf("bdb: overflow page %d: %w", next, err)
				}
				if chain[25] != bdbOverflowPage {
					return fmt.Errorf("bdb: page %d: overflow chain reaches page %d of type %d", no, next, chain[25])
				}
				if len(value) > headerMaxBytes {
					return fmt.Errorf("bdb: page %d: entry %d: header larger than %d bytes", no, i, headerMaxBytes)
				}
				cur := next
				next = int64(order.Uint32(chain[16:]))
				if next != 0 {
					value = append(value, chain[bdbPageHeaderSize:]...)
					continue
				}
				free := int64(order.Uint16(chain[22:]))
				if bdbPageHeaderSize+free > pageSize {
					return fmt.Errorf("bdb: overflow page %d: %d bytes of data overrun the page", cur, free)
				}
				value = append(value, chain[bdbPageHeaderSize:bdbPageHeaderSize+free]...)
			}
			if err := checkHeader(value); err != nil {
				return fmt.Errorf("bdb: page %d: entry %d: %w", no, i, err)
			}
		}
	}
	return nil
}

// NDB layout (rpm's lib/backend/ndb/rpmpkg.c), as go-rpmdb reads it.
const (
	ndbHeaderMagic   = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic     = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic     = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbBlobTailMagic = 'B' | 'l'<<8 | 'b'<<16 | 'E'<<24
	ndbBlobTailSize  = 12 // Adler-32 of head and data, length, magic
	ndbHeaderSize    = 32
	ndbSlotSize      = 16
	ndbBlobHdrSize   = 16
	ndbBlockSize     = 16
	ndbMaxPages      = 2048 // go-rpmdb's own limit
)

// isNDB reports whether go-rpmdb will take the file for NDB: it falls
// back to Berkeley DB for anything else, including an NDB header with no
// slot pages.
func isNDB(head []byte) bool {
	return len(head) >= ndbHeaderSize &&
		binary.LittleEndian.Uint32(head) == ndbHeaderMagic &&
		binary.LittleEndian.Uint32(head[4:]) == 0 &&
		binary.LittleEndian.Uint32(head[12:]) != 0
}

// checkNDB refuses an NDB file whose slots or blobs are broken: go-rpmdb
// prints bad slots to standard output, carries on past bad blob headers,
// allocates whatever length a blob header gives, and checks no checksum.
func checkNDB(r io.ReaderAt, size int64) error {
	head := make([]byte, ndbHeaderSize)
	if _, err := r.ReadAt(head, 0); err != nil {
		return fmt.Errorf("ndb: header: %w", err)
	}
	npages := int64(binary.LittleEndian.Uint32(head[12:]))
	if npages == 0 || npages > ndbMaxPages {
		return fmt.Errorf("ndb: %d slot pages, limit %d", npages, ndbMaxPages)
	}
	// The header takes the place of the first two slots.
	nslots := npages*4096/ndbSlotSize - 2
	if ndbHeaderSize+nslots*ndbSlotSize > size {
		return fmt.Errorf("ndb: %d slot pages do not fit in %d bytes (truncated?)", npages, size)
	}
	slots := make([]byte, nslots*ndbSlotSize)
	if _, err := r.ReadAt(slots, ndbHeaderSize); err != nil {
		return fmt.Errorf("ndb: slots: %w", err)
	}
	blob := make([]byte, ndbBlobHdrSize)
	for i := int64(0); i < nslots; i++ {
		s := slots[i*ndbSlotSize:]
		if m := binary.LittleEndian.Uint32(s); m != ndbSlotMagic {
			return fmt.Errorf("ndb: slot %d: bad magic %#x", i, m)
		}
		pkg := binary.LittleEndian.Uint32(s[4:])
		if pkg == 0 {
			continue // free slot
		}
		off := int64(binary.LittleEndian.Uint32(s[8:])) * ndbBlockSize
		if off+ndbBlobHdrSize > size {
			return fmt.Errorf("ndb: package %d: blob at %d beyond the file", pkg, off)
		}
		if _, err := r.ReadAt(blob, off); err != nil {
			return fmt.Errorf("ndb: package %d: %w", pkg, err)
		}
		if m := binary.LittleEndian.Uint32(blob); m != ndbBlobMagic {
			return fmt.Errorf("ndb: package %d: bad blob magic %#x", pkg, m)
		}
		if p := binary.LittleEndian.Uint32(blob[4:]); p != pkg {
			return fmt.Errorf("ndb: package %d: blob belongs to package %d", pkg, p)
		}
		n := int64(binary.LittleEndian.Uint32(blob[12:]))
		blocks := int64(binary.LittleEndian.Uint32(s[12:]))
		if blocks != (ndbBlobHdrSize+n+ndbBlobTailSize+ndbBlockSize-1)/ndbBlockSize {
			return fmt.Errorf("ndb: package %d: %d-byte blob in %d blocks", pkg, n, blocks)
		}
		if n > headerMaxBytes {
			return fmt.Errorf("ndb: package %d: %d-byte header", pkg, n)
		}
		if off+blocks*ndbBlockSize > size {
			return fmt.Errorf("ndb: package %d: %d-byte blob runs past the end of the file", pkg, n)
		}
		if err := checkNDBBlob(r, off, blocks*ndbBlockSize, n); err != nil {
			return fmt.Errorf("ndb: package %d: %w", pkg, err)
		}
		header := make([]byte, n)
		if _, err := r.ReadAt(header, off+ndbBlobHdrSize); err != nil {
			return fmt.Errorf("ndb: package %d: %w", pkg, err)
		}
		if err := checkHeader(header); err != nil {
			return fmt.Errorf("ndb: package %d: %w", pkg, err)
		}
	}
	return nil
}

// checkNDBBlob verifies a blob's tail and checksum, as rpm does when it
// verifies a database. go-rpmdb checks neither, so a damaged header would
// otherwise be read as if it were good.
func checkNDBBlob(r io.ReaderAt, off, length, n int64) error {
	sum := adler32.New()
	if _, err := io.Copy(sum, io.NewSectionReader(r, off, length-ndbBlobTailSize)); err != nil {
		return err
	}
	tail := make([]byte, ndbBlobTailSize)
	if _, err := r.ReadAt(tail, off+length-ndbBlobTailSize); err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(tail[8:]) != ndbBlobTailMagic || int64(binary.LittleEndian.Uint32(tail[4:])) != n {
		return errors.New("bad blob tail")
	}
	if got, want := sum.Sum32(), binary.LittleEndian.Uint32(tail); got != want {
		return fmt.Errorf("blob checksum %#x, expected %#x", got, want)
	}
	return nil
}
