package vulndb

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"regexp"
	"strings"
	"time"
)

// A database's version names it for as long as it is kept: the time it
// was built, to the second, and the first twelve hex digits of the digest
// of its content, "20261204T183257Z-3f2a9c1b7e4d". It sorts by build time
// and is a valid OCI tag, so a kept copy, a report and a gate decision
// can all name the same database by it.
//
// The content digest covers what a scan can read from the database —
// every advisory as stored, EPSS, KEV and NVD rows, and each feed's
// name, kind, record count and data age — in build order, which is
// deterministic. It leaves out when and from where the feeds were
// downloaded: the same data from a mirror, or downloaded again, has the
// same digest.

// versionTime is the layout of a version's build time.
const versionTime = "20060102T150405Z"

// versionDigits is how many hex digits of the content digest a version
// carries.
const versionDigits = 12

var versionPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[0-9a-f]{12})?$`)

// MakeVersion is the version of a database built at built whose content
// digest is digest ("sha256:…"); without a digest (a database built
// before digests were recorded) it is the build time alone.
func MakeVersion(built time.Time, digest string) string {
	v := built.UTC().Format(versionTime)
	if hexPart, ok := strings.CutPrefix(digest, "sha256:"); ok && len(hexPart) >= versionDigits {
		v += "-" + hexPart[:versionDigits]
	}
	return v
}

// ValidVersion reports whether s has the form of a database version, so
// that one given on a command line or in a request can be refused before
// it is looked for (and can never name a path outside a directory).
func ValidVersion(s string) bool { return versionPattern.MatchString(s) }

// contentDigest hashes what a build stores, one length-prefixed field at
// a time so that no two sequences of rows hash alike.
type contentDigest struct{ h hash.Hash }

func newContentDigest() *contentDigest { return &contentDigest{h: sha256.New()} }

func (c *contentDigest) row(fields ...[]byte) {
	var n [binary.MaxVarintLen64]byte
	c.h.Write(n[:binary.PutUvarint(n[:], uint64(len(fields)))])
	for _, f := range fields {
		c.h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		c.h.Write(f)
	}
}

func (c *contentDigest) strings(fields ...string) {
	bs := make([][]byte, len(fields))
	for i, f := range fields {
		bs[i] = []byte(f)
	}
	c.row(bs...)
}

func (c *contentDigest) sum() string { return "sha256:" + hex.EncodeToString(c.h.Sum(nil)) }
