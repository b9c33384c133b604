package image

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// maxZstdWindow bounds the memory a zstd frame may ask the decoder for.
// 128 MiB covers every level of the zstd tool including --ultra -22 and
// --long=27; a hostile frame cannot make the decoder allocate more.
const maxZstdWindow = 128 << 20

// tarBlockSize is the size of a tar header block.
const tarBlockSize = 512

// Compression names the compression of the stream r from its first bytes,
// without consuming them: "gzip", "zstd", or "tar" for an uncompressed tar
// archive. It reads the magic numbers, not media types, because those lie:
// docker save stores uncompressed layers and keeps the gzip media type.
// Other compressions and data that is not a tar archive are errors. r
// must buffer at least 512 bytes (bufio's default is 4096) to recognise
// a tar header.
func Compression(r *bufio.Reader) (string, error) {
	kind, err := compression(r)
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	return kind, nil
}

func compression(r *bufio.Reader) (string, error) {
	head, err := r.Peek(tarBlockSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", err
	}
	switch {
	case len(head) == 0:
		return "", errors.New("empty stream, not a tar archive")
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip", nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd", nil
	case bytes.HasPrefix(head, []byte("BZh")):
		return "", errors.New("bzip2-compressed stream: only gzip, zstd and uncompressed tar are supported")
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return "", errors.New("xz-compressed stream: only gzip, zstd and uncompressed tar are supported")
	case bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18}):
		return "", errors.New("lz4-compressed stream: only gzip, zstd and uncompressed tar are supported")
	case len(head) == tarBlockSize && isTarHeader(head):
		return "tar", nil
	}
	return "", fmt.Errorf("unrecognised stream starting %x: neither gzip, zstd nor a tar archive", head[:min(len(head), 8)])
}

// isTarHeader reports whether block is a tar header block with a valid
// checksum, or the all-zero block that ends an empty archive. The checksum
// accepts V7, ustar, GNU and PAX archives alike, where a magic-string test
// would miss V7 ones.
func isTarHeader(block []byte) bool {
	if bytes.Count(block, []byte{0}) == len(block) {
		return true
	}
	field := bytes.TrimRight(bytes.TrimLeft(block[148:156], " "), " \x00")
	want, err := strconv.ParseInt(string(field), 8, 64)
	if err != nil {
		return false
	}
	// The checksum sums the block with its own field read as spaces;
	// some old tars summed signed bytes, so accept either.
	var unsigned, signed int64
	for i, b := range block {
		if i >= 148 && i < 156 {
			b = ' '
		}
		unsigned += int64(b)
		signed += int64(int8(b))
	}
	return want == unsigned || want == signed
}

// Decompress returns the tar stream of a layer blob as stored: it
// recognises gzip and zstd by their magic numbers and passes an
// uncompressed tar through. Closing the result does not close r.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	rc, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return rc, nil
}

func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	kind, err := compression(br)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case "zstd":
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1), // one stream per layer; callers parallelise across layers
			zstd.WithDecoderMaxWindow(maxZstdWindow),
			zstd.WithDecoderMaxMemory(maxZstdWindow),
			zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}
