// Package oval reads Oracle Linux's errata (ELSA) as Oracle publishes
// them in OVAL, com.oracle.elsa-all.xml (bzip2-compressed), and Photon
// OS's (PHSA) as VMware publishes them, com.vmware.phsa-photonN.xml: one
// patch definition per advisory, naming its release ("Oracle Linux 9",
// "Photon 3"), its CVEs and, in its criteria, each binary RPM and the EVR
// that fixes it.
//
// The criteria are read from their criterion comments — "openssl is
// earlier than 1:3.0.7-27.0.1.el9" and "Oracle Linux arch is x86_64" —
// which Oracle's generator writes for every rpminfo test, so that a
// document keeps its meaning even when only its definitions are at hand.
// When a definition fixes a package at different releases per
// architecture, the x86_64 fix is kept: Vigil's packages are compared by
// name and version alone.
//
// It does no I/O of its own.
package oval

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/vuln"
)

// EcosystemPrefix starts the ecosystem of Oracle Linux's packages:
// "Oracle Linux:9"; PhotonPrefix Photon OS's, "Photon OS:3".
const (
	EcosystemPrefix = "Oracle Linux:"
	PhotonPrefix    = "Photon OS:"
)

// RecordError is a definition that was skipped.
type RecordError struct {
	ID  string
	Err error
}

func (e *RecordError) Error() string { return fmt.Sprintf("oval: definition %s: %v", e.ID, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

type definition struct {
	ID       string `xml:"id,attr"`
	Class    string `xml:"class,attr"`
	Metadata struct {
		Title     string   `xml:"title"`
		Platforms []string `xml:"affected>platform"`
		Refs      []struct {
			Source string `xml:"source,attr"`
			RefID  string `xml:"ref_id,attr"`
			URL    string `xml:"ref_url,attr"`
		} `xml:"reference"`
		Description string `xml:"description"`
		Advisory    struct {
			Severity string `xml:"severity"`
			Issued   struct {
				Date string `xml:"date,attr"`
			} `xml:"issued"`
			Updated struct {
				Date string `xml:"date,attr"`
			} `xml:"updated"`
		} `xml:"advisory"`
	} `xml:"metadata"`
	Criteria criteria `xml:"criteria"`
}

type criteria struct {
	Criteria   []criteria `xml:"criteria"`
	Criterions []struct {
		Comment string `xml:"comment,attr"`
	} `xml:"criterion"`
}

// Meta is what Parse says of the document as a whole.
type Meta struct {
	// Timestamp is the generator's timestamp, when the document has one.
	Timestamp time.Time
}

// Parse reads an Oracle ELSA OVAL document, bzip2-compressed or
// not, and calls fn for each ELSA that fixes a package of an Oracle Linux
// release.
func Parse(r io.Reader, fn func(*vuln.Advisory) error) (Meta, []error, error) {
	var meta Meta
	br := bufio.NewReader(r)
	var in io.Reader = br
	if head, _ := br.Peek(3); bytes.Equal(head, []byte("BZh")) {
		in = bzip2.NewReader(br)
	}
	dec := xml.NewDecoder(in)
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var errs []error
	root := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return meta, errs, fmt.Errorf("oval: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "oval_definitions":
			root = true
		case "timestamp":
			var s string
			if err := dec.DecodeElement(&s, &se); err == nil {
				if t, err := time.Parse("2006-01-02T15:04:05", strings.TrimSpace(s)); err == nil {
					meta.Timestamp = t.UTC()
				}
			}
		case "definition":
			if !root {
				return meta, errs, errors.New("oval: not an OVAL definitions document")
			}
			var d definition
			if err := dec.DecodeElement(&d, &se); err != nil {
				return meta, errs, fmt.Errorf("oval: definition: %w", err)
			}
			advs, err := d.advisories()
			if err != nil {
				errs = append(errs, &RecordError{ID: d.ID, Err: err})
				continue
			}
			for _, a := range advs {
				if err := fn(a); err != nil {
					return meta, errs, err
				}
			}
		case "tests", "objects", "states", "variables":
			if err := dec.Skip(); err != nil {
				return meta, errs, fmt.Errorf("oval: %w", err)
			}
		}
	}
	if !root {
		return meta, errs, errors.New("oval: not an OVAL definitions document")
	}
	return meta, errs, nil
}

// fix is one "NAME is earlier than EVR" criterion, under the architecture
// its criteria name ("" for every architecture).
type fix struct{ release, arch, name, evr string }

// collect walks the criteria, carrying the release and architecture the
// enclosing criteria name.
func (c *criteria) collect(release, arch string, out *[]fix) {
	for _, cr := range c.Criterions {
		s := strings.TrimSpace(cr.Comment)
		if v, ok := strings.CutPrefix(s, "Oracle Linux arch is "); ok {
			arch = strings.TrimSpace(v)
			continue
		}
		for _, os := range []string{"Oracle Linux ", "Photon OS "} {
			if v, ok := strings.CutPrefix(s, os); ok {
				if rel, ok := strings.CutSuffix(v, " is installed"); ok {
					release = strings.TrimSpace(rel)
				}
			}
		}
	}
	for _, cr := range c.Criterions {
		name, evr, ok := strings.Cut(strings.TrimSpace(cr.Comment), " is earlier than ")
		if ok && name != "" && evr != "" && !strings.ContainsAny(name, " ") {
			*out = append(*out, fix{release, arch, name, strings.TrimSpace(evr)})
		}
	}
	for i := range c.Criteria {
		c.Criteria[i].collect(release, arch, out)
	}
}

func (d *definition) advisories() ([]*vuln.Advisory, error) {
	if d.Class != "" && d.Class != "patch" {
		return nil, nil
	}
	var id string
	var cves []string
	var refs []vuln.Reference
	photon := strings.HasPrefix(d.ID, "oval:com.vmware.phsa:")
	prefix := EcosystemPrefix
	if photon {
		prefix = PhotonPrefix
		// "PHSA-2020:00001 sqlite Security Update. (Important)"
		if title := strings.TrimSpace(d.Metadata.Title); strings.HasPrefix(title, "PHSA-") {
			id, _, _ = strings.Cut(title, " ")
		}
	}
	for _, r := range d.Metadata.Refs {
		switch strings.ToLower(r.Source) {
		case "elsa", "phsa":
			if !photon {
				id = strings.TrimSpace(r.RefID)
			}
			if r.URL != "" {
				refs = append([]vuln.Reference{{Type: "ADVISORY", URL: r.URL}}, refs...)
			}
		case "cve":
			// Photon writes "CVE:00001:CVE-2019-16168".
			cve := strings.TrimSpace(r.RefID)
			if i := strings.Index(cve, "CVE-"); i > 0 {
				cve = cve[i:]
			}
			if strings.HasPrefix(cve, "CVE-") && !contains(cves, cve) {
				cves = append(cves, cve)
				if r.URL != "" {
					refs = append(refs, vuln.Reference{Type: "WEB", URL: r.URL})
				}
			}
		}
	}
	if id == "" {
		title := strings.TrimSpace(d.Metadata.Title)
		if i := strings.IndexByte(title, ':'); i > 0 && strings.HasPrefix(title, "EL") {
			id = title[:i]
		}
	}
	if id == "" {
		return nil, errors.New("no advisory id")
	}
	var fixes []fix
	d.Criteria.collect("", "", &fixes)
	// The release of each fix: its criteria's, else the one platform.
	platform := ""
	if len(d.Metadata.Platforms) == 1 {
		platform = strings.TrimSpace(d.Metadata.Platforms[0])
		platform = strings.TrimPrefix(strings.TrimPrefix(platform, "Oracle Linux "), "Photon ")
	}
	type key struct{ eco, name string }
	byKey := map[key][]fix{}
	for _, f := range fixes {
		rel := f.release
		if rel == "" {
			rel = platform
		}
		if rel == "" || strings.ContainsAny(rel, " ") {
			continue
		}
		k := key{prefix + rel, f.name}
		byKey[k] = append(byKey[k], f)
	}
	// One architecture's fixes per package: the arch-less ones, else
	// x86_64's, else the first named. Several fixes of one architecture
	// are alternatives in the criteria (an OR), each its own range.
	chosen := map[key][]string{}
	for k, fs := range byKey {
		arch := fs[0].arch
		for _, f := range fs {
			if f.arch == "" || f.arch == "x86_64" && arch != "" {
				arch = f.arch
			}
		}
		for _, f := range fs {
			// Oracle writes every EVR with its epoch; "0:" is none.
			evr := strings.TrimPrefix(f.evr, "0:")
			if f.arch == arch && !contains(chosen[k], evr) {
				chosen[k] = append(chosen[k], evr)
			}
		}
	}
	if len(chosen) == 0 {
		return nil, nil
	}
	sort.Strings(cves)
	a := &vuln.Advisory{
		ID:             id,
		Aliases:        cves,
		Summary:        strings.TrimSpace(d.Metadata.Title),
		Details:        strings.TrimSpace(d.Metadata.Description),
		VendorSeverity: strings.ToLower(strings.TrimSpace(d.Metadata.Advisory.Severity)),
		References:     refs,
	}
	if t, err := time.Parse(time.DateOnly, strings.TrimSpace(d.Metadata.Advisory.Issued.Date)); err == nil {
		a.Published, a.Modified = t.UTC(), t.UTC()
	}
	if t, err := time.Parse(time.DateOnly, strings.TrimSpace(d.Metadata.Advisory.Updated.Date)); err == nil && t.After(a.Modified) {
		a.Modified = t.UTC()
	}
	var keys []key
	for k := range chosen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].eco != keys[j].eco {
			return keys[i].eco < keys[j].eco
		}
		return keys[i].name < keys[j].name
	})
	for _, k := range keys {
		purl := "pkg:rpm/oracle/" + k.name
		if photon {
			purl = "pkg:rpm/photon/" + k.name
		}
		af := vuln.Affected{Package: vuln.Package{Ecosystem: k.eco, Name: k.name, PURL: purl}}
		for _, evr := range chosen[k] {
			af.Ranges = append(af.Ranges, vuln.Range{Type: vuln.RangeEcosystem, Events: []vuln.Event{{Introduced: "0"}, {Fixed: evr}}})
		}
		a.Affected = append(a.Affected, af)
	}
	return []*vuln.Advisory{a}, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// IsPhoton recognises the start of a Photon OS PHSA OVAL document and
// returns its release ("3"), read from its first platform.
func IsPhoton(head []byte) (string, bool) {
	if !bytes.Contains(head, []byte("<oval_definitions")) || !bytes.Contains(head, []byte("com.vmware.phsa")) {
		return "", false
	}
	_, rest, ok := bytes.Cut(head, []byte("<platform>Photon "))
	if !ok {
		return "", false
	}
	rel, _, ok := bytes.Cut(rest, []byte("</platform>"))
	if !ok || len(rel) == 0 || len(rel) > 8 {
		return "", false
	}
	return string(rel), true
}

// IsOracle recognises the start of an Oracle ELSA OVAL document.
func IsOracle(head []byte) bool {
	return bytes.Contains(head, []byte("<oval_definitions")) &&
		(bytes.Contains(head, []byte("com.oracle.elsa")) || bytes.Contains(head, []byte("Oracle Errata System")))
}
