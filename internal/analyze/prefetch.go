package analyze

import (
	"io"
	"sync"
)

const (
	prefetchChunk = 512 << 10
	prefetchDepth = 4
)

// prefetcher reads ahead of its consumer in a goroutine of its own, so
// that decompressing a layer and walking its tar stream (hashing it,
// copying files out) use two CPUs instead of taking turns on one. It holds
// at most prefetchDepth+2 chunks.
type prefetcher struct {
	full  chan []byte
	free  chan []byte
	done  chan struct{}
	once  sync.Once
	cur   []byte
	chunk []byte // the buffer cur slices, to return to free
	err   error  // set by the goroutine before it closes full
}

func newPrefetcher(r io.Reader) *prefetcher {
	p := &prefetcher{
		full: make(chan []byte, prefetchDepth),
		free: make(chan []byte, prefetchDepth+2),
		done: make(chan struct{}),
	}
	for i := 0; i < prefetchDepth+2; i++ {
		p.free <- *chunks.Get().(*[]byte)
	}
	go p.fill(r)
	return p
}

func (p *prefetcher) fill(r io.Reader) {
	defer close(p.full)
	for {
		var buf []byte
		select {
		case buf = <-p.free:
		case <-p.done:
			return
		}
		n, err := fill(r, buf)
		if n > 0 {
			select {
			case p.full <- buf[:n]:
			case <-p.done:
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			p.err = err
			return
		}
	}
}

// fill reads until buf is full or r fails, and returns r's error as it
// is: unlike io.ReadFull it does not turn an early io.EOF into
// io.ErrUnexpectedEOF, so that a stream that really is cut short (a gzip
// layer without its trailer says io.ErrUnexpectedEOF) is told apart from
// one that ends.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *prefetcher) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.chunk != nil {
			p.free <- p.chunk[:cap(p.chunk)]
			p.chunk = nil
		}
		c, ok := <-p.full
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.cur, p.chunk = c, c
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// Close stops the goroutine; it must be called before the underlying reader
// is closed.
func (p *prefetcher) Close() error {
	p.once.Do(func() {
		close(p.done)
		for c := range p.full {
			putChunk(c)
		}
		if p.chunk != nil {
			putChunk(p.chunk)
			p.chunk, p.cur = nil, nil
		}
		for {
			select {
			case c := <-p.free:
				putChunk(c)
			default:
				return
			}
		}
	})
	return nil
}

// chunks keeps prefetch buffers between layers.
// It holds pointers, so that putting a buffer back allocates nothing.
var chunks = sync.Pool{New: func() any { b := make([]byte, prefetchChunk); return &b }}

func putChunk(c []byte) {
	c = c[:cap(c)]
	chunks.Put(&c)
}
