package sbom

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"

	"github.com/vigilsec/vigil/internal/inventory"
)

// Subject describes what the inventory is of.
type Subject struct {
	Name     string // reference as the user gave it
	Digest   string // manifest digest "sha256:…" or ""
	Platform string // "linux/amd64"
	RepoTags []string
	Layers   []inventory.LayerRef
}

// Tool names the program that wrote a document.
type Tool struct{ Name, Version string }

// MaxSize is the largest document Decode reads.
const MaxSize = 256 << 20

// ErrTooLarge is returned by Decode for documents over MaxSize.
var ErrTooLarge = errors.New("sbom: document larger than 256 MiB")

// documentID derives a name-based (version 5) UUID from a document's
// content; see "Reproducible output" in the package documentation.
func documentID(content []byte) string {
	h := newDocumentHash()
	h.Write(content)
	return documentIDOf(h)
}

// newDocumentHash returns the hash documentIDOf names a document by,
// for the document to be written to as it is encoded.
func newDocumentHash() hash.Hash {
	// A fixed namespace UUID for Vigil's documents (itself random).
	ns := [16]byte{0x3c, 0x1e, 0x6d, 0x0b, 0x52, 0x8f, 0x4a, 0x57, 0x9d, 0x3e, 0x11, 0x07, 0xc2, 0x4b, 0x8a, 0x60}
	h := sha1.New()
	h.Write(ns[:])
	return h
}

// documentIDOf is documentID of what was written to h.
func documentIDOf(h hash.Hash) string {
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
