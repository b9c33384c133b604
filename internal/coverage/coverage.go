// Package coverage says what a scan could assess. For each distribution
// release and language ecosystem an image's packages belong to, it records
// whether the vulnerability database holds advisories for it and from
// which feeds; and it lists the files the analysis wanted but did not
// fully read. An image whose coverage is not full is never reported as
// clean: "no findings" there means "not assessed", and every output,
// threshold and gate says so.
package coverage

import (
	"fmt"
	"strings"
)

// Reasons say why an image's coverage is what it is. SUCCESSFUL and
// UNSUPPORTED_OS are Amazon Inspector's coverage reasons; Inspector has
// none for the other two gaps, so Vigil names them.
const (
	// ReasonSuccessful: every package is covered by an advisory source
	// and every wanted file was read.
	ReasonSuccessful = "SUCCESSFUL"
	// ReasonUnsupportedOS: the database holds no advisories for the
	// image's distribution release.
	ReasonUnsupportedOS = "UNSUPPORTED_OS"
	// ReasonIncomplete: a file a cataloger wanted was skipped (over a
	// size limit, unreadable, malformed), or the distribution's package
	// database is missing, so packages may be missing.
	ReasonIncomplete = "INCOMPLETE_INVENTORY"
	// ReasonPartial: packages of a language ecosystem have no advisory
	// source in the database.
	ReasonPartial = "PARTIAL_COVERAGE"
)

// Scope is one distribution release or language ecosystem of the image.
type Scope struct {
	// Name is how reports name it: "alpine 3.20", "debian 12", "npm".
	Name string `json:"name"`
	// Ecosystem is the advisories' ecosystem ("Alpine:v3.20", "npm"),
	// empty when Vigil knows none for these packages.
	Ecosystem string `json:"ecosystem,omitempty"`
	// OS is set for a distribution's packages.
	OS bool `json:"os"`
	// Packages counts the image's packages in the scope.
	Packages int `json:"packages"`
	// Covered says whether the database holds advisories for it.
	Covered bool `json:"covered"`
	// Sources are the feeds those advisories came from ("alpine-secdb",
	// "debian-dsa", "osv/npm").
	Sources []string `json:"sources,omitempty"`
	// Note says why the scope is not covered ("no advisory feed (have
	// v3.3–v3.11)"), or what limits a covered one.
	Note string `json:"note,omitempty"`
	// MissingDatabase is set of a distribution whose package database
	// the image lacks ("/var/lib/dpkg/status"): its packages are not
	// known, so it is not covered whatever the database holds, and the
	// inventory is incomplete rather than the release unsupported.
	MissingDatabase string `json:"missingDatabase,omitempty"`
}

// File is a file the analysis wanted but did not fully read.
type File struct {
	// Layer is the layer's index, -1 when not known.
	Layer int    `json:"layer"`
	Path  string `json:"path"`
	// WantedBy names what wanted it ("dpkg", "npm", "release").
	WantedBy string `json:"wantedBy"`
	Message  string `json:"message"`
}

// Coverage is what a scan could assess of one image.
type Coverage struct {
	// Full is true when every scope is covered and every wanted file
	// was read.
	Full bool `json:"full"`
	// Reason is one of the Reason constants: the first gap found, in
	// the order UNSUPPORTED_OS, INCOMPLETE_INVENTORY, PARTIAL_COVERAGE.
	Reason string  `json:"reason"`
	Scopes []Scope `json:"scopes"`
	Files  []File  `json:"files"`
}

// New judges the scopes and skipped files of an image.
func New(scopes []Scope, files []File) *Coverage {
	c := &Coverage{Full: true, Reason: ReasonSuccessful, Scopes: scopes, Files: files}
	if c.Scopes == nil {
		c.Scopes = []Scope{}
	}
	if c.Files == nil {
		c.Files = []File{}
	}
	os, lang, missing := false, false, false
	for _, s := range scopes {
		switch {
		case s.Covered:
		case s.MissingDatabase != "":
			missing = true
		case s.OS:
			os = true
		default:
			lang = true
		}
	}
	switch {
	case os:
		c.Reason = ReasonUnsupportedOS
	case missing || len(files) > 0:
		c.Reason = ReasonIncomplete
	case lang:
		c.Reason = ReasonPartial
	}
	c.Full = c.Reason == ReasonSuccessful
	return c
}

// Gaps says, one line each, what was not assessed: "alpine 3.20: no
// advisory feed (have v3.3–v3.11)", "npm: 55 packages, no feed",
// "layer 0: /var/lib/dpkg/status: not read (dpkg): …".
func (c *Coverage) Gaps() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, s := range c.Scopes {
		if s.Covered {
			continue
		}
		if s.OS {
			out = append(out, s.Name+": "+s.Note)
		} else {
			out = append(out, fmt.Sprintf("%s: %s, %s", s.Name, packages(s.Packages), s.Note))
		}
	}
	for _, f := range c.Files {
		out = append(out, f.String())
	}
	return out
}

// Limits says, one line each, what limits the covered scopes: "debian 11:
// DSA/DLA lists only (…)".
func (c *Coverage) Limits() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, s := range c.Scopes {
		if s.Covered && s.Note != "" {
			out = append(out, s.Name+": "+s.Note)
		}
	}
	return out
}

// Summary is the gaps in one line, for a scan status message; at most
// limit bytes (0: no limit).
func (c *Coverage) Summary(limit int) string {
	s := strings.Join(c.Gaps(), "; ")
	if limit > 0 && len(s) > limit {
		cut := limit
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func (f File) String() string {
	s := ""
	if f.Layer >= 0 {
		s = fmt.Sprintf("layer %d: ", f.Layer)
	}
	return s + "/" + f.Path + ": not read (" + f.WantedBy + "): " + f.Message
}

func packages(n int) string {
	if n == 1 {
		return "1 package"
	}
	return fmt.Sprintf("%d packages", n)
}
