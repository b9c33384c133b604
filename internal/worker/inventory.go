package worker

import (
	"encoding/json"
	"fmt"

	"github.com/vigilsec/vigil/internal/inventory"
)

// encodeInventory is json.Marshal(inv), byte for byte, built in one
// buffer of exactly its size. Marshal grows its buffer by doubling and
// then copies it: for an image of 25,000 packages, about three times the
// 8 MB of text at once, the largest of which its pool then keeps. Here
// each package is encoded twice instead, once to measure it and once to
// write it, a few hundred bytes at a time.
func encodeInventory(inv *inventory.Inventory) ([]byte, error) {
	head := []byte(`{`)
	if inv.Distro != nil {
		d, err := json.Marshal(inv.Distro)
		if err != nil {
			return nil, fmt.Errorf("worker: encode inventory: %w", err)
		}
		head = append(append(append(head, `"distro":`...), d...), ',')
	}
	head = append(head, `"packages":`...)
	switch {
	case inv.Packages == nil:
		return append(head, "null}"...), nil
	case len(inv.Packages) == 0:
		return append(head, "[]}"...), nil
	}
	w := &valuesWriter{}
	enc := json.NewEncoder(w)
	for i := range inv.Packages {
		if err := enc.Encode(&inv.Packages[i]); err != nil {
			return nil, fmt.Errorf("worker: encode inventory: %w", err)
		}
	}
	size := len(head) + len("[]}") + len(inv.Packages) - 1 + w.n
	w.out = make([]byte, 0, size)
	w.out = append(append(w.out, head...), '[')
	for i := range inv.Packages {
		if i > 0 {
			w.out = append(w.out, ',')
		}
		if err := enc.Encode(&inv.Packages[i]); err != nil {
			return nil, fmt.Errorf("worker: encode inventory: %w", err)
		}
	}
	if len(w.out)+len("]}") != size {
		return nil, fmt.Errorf("worker: encode inventory: %d bytes, then %d", size, len(w.out)+len("]}"))
	}
	return append(w.out, "]}"...), nil
}

// valuesWriter takes the values a json.Encoder writes, one Write each
// ending in a newline, and counts them, or appends them to out without
// the newline once out is set.
type valuesWriter struct {
	n   int
	out []byte
}

func (w *valuesWriter) Write(p []byte) (int, error) {
	v := p[:len(p)-1]
	if w.out == nil {
		w.n += len(v)
	} else {
		w.out = append(w.out, v...)
	}
	return len(p), nil
}
