package image

import (
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// errIntegrity marks a blob whose content is not what its digest or size
// says: a corrupt or tampered image, never to be read as if it were fine.
var errIntegrity = errors.New("integrity check failed")

// verifier checks a blob as it streams: its digest, and its size when
// known, are compared when the stream ends, and a mismatch is returned
// from Read in place of io.EOF, so that no reader takes a tampered blob
// for a complete one. Reading stops at the first byte past the size.
type verifier struct {
	r     io.Reader
	c     io.Closer
	h     hash.Hash
	want  v1.Hash
	size  int64 // -1 when unknown
	n     int64
	where string // the blob as the error names it: digest and path
	err   error
}

// verified wraps rc so that reading it to the end checks it against
// digest and size (-1: unknown). where names the blob and where it is
// kept, for errors.
func verified(rc io.ReadCloser, digest v1.Hash, size int64, where string) (io.ReadCloser, error) {
	h, err := v1.Hasher(digest.Algorithm)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s: digest %q: %w", where, digest, err)
	}
	return &verifier{r: rc, c: rc, h: h, want: digest, size: size, where: where}, nil
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.size >= 0 && int64(len(p)) > v.size-v.n+1 {
		// One byte more than is left is enough to see a blob too long.
		p = p[:v.size-v.n+1]
	}
	n, err := v.r.Read(p)
	if v.size >= 0 && v.n+int64(n) > v.size {
		n = int(v.size - v.n)
		v.err = fmt.Errorf("%s: more than the %d bytes its descriptor gives: %w", v.where, v.size, errIntegrity)
	}
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.err != nil {
		return n, v.err
	}
	if errors.Is(err, io.EOF) {
		v.err = v.check()
		if v.err == nil {
			v.err = io.EOF
		}
		return n, v.err
	}
	return n, err
}

// check compares what was read with the descriptor.
func (v *verifier) check() error {
	if v.size >= 0 && v.n != v.size {
		return fmt.Errorf("%s: %d bytes, its descriptor gives %d (truncated?): %w", v.where, v.n, v.size, errIntegrity)
	}
	if got := fmt.Sprintf("%x", v.h.Sum(nil)); got != v.want.Hex {
		return fmt.Errorf("%s: content has digest %s:%s: %w", v.where, v.want.Algorithm, got, errIntegrity)
	}
	return nil
}

func (v *verifier) Close() error { return v.c.Close() }
