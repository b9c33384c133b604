// Package debian reads the Debian security tracker's data into
// advisories: the DSA and DLA lists (data/DSA/list, data/DLA/list in the
// tracker's repository) and the tracker's JSON export
// (https://security-tracker.debian.org/tracker/data/json). It only
// parses; fetching is done elsewhere.
//
// Package names are source packages, and each affected entry is one source
// package in one release, in the ecosystem "Debian:<version>" ("Debian:12"
// for bookworm). How the tracker's states map to ranges and statuses:
//
//	fixed in version V            range introduced 0, fixed V
//	not affected (<not-affected>,
//	  fixed_version "0"), removed  no affected entry: it can never match
//	open, unfixed, undetermined,
//	  postponed, no-dsa            range introduced 0, status NotFixed
//	ignored, end-of-life           range introduced 0, status WillNotFix
package debian

import (
	"errors"
	"fmt"
	"io"
)

// ecosystems maps Debian codenames to OSV's ecosystem names. Unstable
// has no number; OSV (and osv.dev's Debian converter) calls it
// "Debian:unstable".
var ecosystems = map[string]string{
	"buzz": "Debian:1.1", "rex": "Debian:1.2", "bo": "Debian:1.3",
	"hamm": "Debian:2.0", "slink": "Debian:2.1", "potato": "Debian:2.2",
	"woody": "Debian:3.0", "sarge": "Debian:3.1",
	"etch": "Debian:4", "lenny": "Debian:5", "squeeze": "Debian:6",
	"wheezy": "Debian:7", "jessie": "Debian:8", "stretch": "Debian:9",
	"buster": "Debian:10", "bullseye": "Debian:11", "bookworm": "Debian:12",
	"trixie": "Debian:13", "forky": "Debian:14", "duke": "Debian:15",
	"sid": "Debian:unstable",
}

// Ecosystem returns the OSV ecosystem of a Debian codename ("bookworm" →
// "Debian:12"), or false for a codename this package does not know.
func Ecosystem(codename string) (string, bool) {
	e, ok := ecosystems[codename]
	return e, ok
}

// A RecordError is a problem with one record: a DSA or DLA, or one
// package's entry for one vulnerability in the tracker JSON.
type RecordError struct {
	// Where locates the record: "DSA list line 12", "tracker".
	Where string
	// ID names the record: "DSA-5380-1", "CVE-2023-1234 openssl".
	ID  string
	Err error
}

func (e *RecordError) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("debian: %s: %v", e.Where, e.Err)
	}
	return fmt.Sprintf("debian: %s: %s: %v", e.Where, e.ID, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Tracker urgencies, least to most urgent. "not yet assigned" and
// "end-of-life" say nothing about severity and rank below all of them.
var urgencyRank = map[string]int{"unimportant": 1, "low": 2, "medium": 3, "high": 4}

// worse returns the more urgent of two urgencies.
func worse(a, b string) string {
	if urgencyRank[b] > urgencyRank[a] {
		return b
	}
	return a
}

// errList collects per-record errors, keeping at most maxErrors.
type errList struct {
	errs    []error
	dropped int
}

const maxErrors = 1000

func (l *errList) add(err error) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, err)
		return
	}
	l.dropped++
}

func (l *errList) list() []error {
	if l.dropped > 0 {
		return append(l.errs, fmt.Errorf("debian: %d more record errors not listed", l.dropped))
	}
	return l.errs
}

var errTooLarge = errors.New("input larger than allowed")

// capReader fails once more than n bytes have been read, so that an
// oversized input is an error rather than a silently truncated one.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return n, errTooLarge
	}
	return n, err
}
