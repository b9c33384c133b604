// Package updateinfo reads the advisories of a yum/dnf repository, its
// repodata updateinfo.xml: one <update> element per advisory, naming the
// binary packages (name, epoch, version, release, arch) that fix it. Amazon
// Linux (ALAS), Fedora, Oracle Linux, Rocky Linux and others publish
// their advisories in this one format; the caller says which
// distribution release a document is for.
//
// It also reads a repository's repomd.xml, which says where the
// updateinfo document is, and a mirror list, which says where the
// repository is. It does no I/O of its own.
package updateinfo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/vuln"
)

// MaxDocument bounds the uncompressed size of one updateinfo document.
// The largest real ones (Amazon Linux 2 core, Oracle Linux) are a few
// hundred MiB uncompressed.
const MaxDocument = 2 << 30

// maxUpdate bounds one <update> element: the decoder holds one at a time.
const maxUpdate = 16 << 20

// RecordError is a malformed <update>: it was skipped and the others
// read, or, as a Warning, read without what was wrong (a date).
type RecordError struct {
	ID      string // the update's id, when it has one
	N       int    // its position in the document, from 1
	Err     error
	Warning bool
}

func (e *RecordError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("updateinfo: update %s: %v", e.ID, e.Err)
	}
	return fmt.Sprintf("updateinfo: update #%d: %v", e.N, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// update is the <update> element.
type update struct {
	Type     string `xml:"type,attr"`
	Status   string `xml:"status,attr"`
	From     string `xml:"from,attr"`
	ID       string `xml:"id"`
	Title    string `xml:"title"`
	Severity string `xml:"severity"`
	Issued   struct {
		Date string `xml:"date,attr"`
	} `xml:"issued"`
	Updated struct {
		Date string `xml:"date,attr"`
	} `xml:"updated"`
	Description string `xml:"description"`
	References  []struct {
		Href  string `xml:"href,attr"`
		ID    string `xml:"id,attr"`
		Type  string `xml:"type,attr"`
		Title string `xml:"title,attr"`
	} `xml:"references>reference"`
	Collections []struct {
		Packages []pkg `xml:"package"`
	} `xml:"pkglist>collection"`
}

type pkg struct {
	Name     string `xml:"name,attr"`
	Epoch    string `xml:"epoch,attr"`
	Version  string `xml:"version,attr"`
	Release  string `xml:"release,attr"`
	Arch     string `xml:"arch,attr"`
	Filename string `xml:"filename"`
}

// EVR is the package's [epoch:]version-release, as rpm's ordering takes
// it; a zero or absent epoch is left out.
func (p pkg) EVR() string {
	evr := p.Version + "-" + p.Release
	if e := strings.TrimSpace(p.Epoch); e != "" && e != "0" {
		evr = e + ":" + evr
	}
	return evr
}

// Parse reads an updateinfo document, plain or gzip-compressed (as
// repositories publish it, updateinfo.xml.gz), and calls fn with each
// advisory, its packages in ecosystem. Updates that are not security
// advisories (type bugfix, enhancement, newpackage) are passed over:
// they fix no vulnerability. A malformed update is returned among the
// record errors and the rest are still read; a document that is not
// updateinfo XML at all, or is cut short, is an error.
func Parse(r io.Reader, ecosystem string, fn func(*vuln.Advisory) error) ([]error, error) {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if head, _ := br.Peek(2); bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("updateinfo: gzip: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	lr := &limitedReader{r: in, limit: MaxDocument}
	dec := xml.NewDecoder(lr)
	// Real documents are UTF-8; a declared other charset is read as is
	// rather than refused, since only ASCII fields (ids, versions) matter
	// for matching.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var (
		errs     []error
		n        int
		rootSeen bool
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if lr.over {
				return errs, fmt.Errorf("updateinfo: document larger than %d bytes", MaxDocument)
			}
			return errs, fmt.Errorf("updateinfo: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !rootSeen {
			if se.Name.Local != "updates" {
				return nil, fmt.Errorf("updateinfo: root element is <%s>, not <updates>", se.Name.Local)
			}
			rootSeen = true
			continue
		}
		if se.Name.Local != "update" {
			if err := dec.Skip(); err != nil {
				return errs, fmt.Errorf("updateinfo: %w", err)
			}
			continue
		}
		n++
		// The decoder holds the element whole, so one element is bounded
		// on its own: a document of one huge <update> must not be read
		// into memory.
		lr.limit = min(MaxDocument, lr.read+maxUpdate)
		var u update
		err = dec.DecodeElement(&u, &se)
		lr.limit = MaxDocument
		if err != nil {
			if lr.over {
				return errs, fmt.Errorf("updateinfo: update #%d: larger than %d bytes", n, maxUpdate)
			}
			return errs, fmt.Errorf("updateinfo: update #%d: %w", n, err)
		}
		if !isSecurity(u.Type) {
			continue
		}
		a, warn, err := u.advisory(ecosystem)
		if err != nil {
			errs = append(errs, &RecordError{ID: strings.TrimSpace(u.ID), N: n, Err: err})
			continue
		}
		if warn != nil {
			errs = append(errs, &RecordError{ID: a.ID, N: n, Err: warn, Warning: true})
		}
		if err := fn(a); err != nil {
			return errs, err
		}
	}
	if !rootSeen {
		return nil, errors.New("updateinfo: no <updates> element")
	}
	return errs, nil
}

// isSecurity: Amazon, Fedora and Oracle mark advisories type="security";
// an update without a type is taken as one, as dnf does not refuse it.
func isSecurity(t string) bool {
	t = strings.ToLower(strings.TrimSpace(t))
	return t == "security" || t == ""
}

// advisory converts the update. A date it cannot read is left out and
// returned as warn: the packages and fixes, which matching needs, are
// intact, and dropping the advisory would read as "not vulnerable".
func (u *update) advisory(ecosystem string) (a *vuln.Advisory, warn, err error) {
	id := strings.TrimSpace(u.ID)
	if id == "" {
		return nil, nil, errors.New("no id")
	}
	a = &vuln.Advisory{
		ID:             id,
		Summary:        strings.TrimSpace(u.Title),
		Details:        strings.TrimSpace(u.Description),
		VendorSeverity: Severity(u.Severity),
	}
	if a.Published, err = ParseDate(u.Issued.Date); err != nil {
		warn = fmt.Errorf("issued date: %w", err)
	}
	if a.Modified, err = ParseDate(u.Updated.Date); err != nil {
		warn = errors.Join(warn, fmt.Errorf("updated date: %w", err))
	}
	if a.Modified.IsZero() || a.Modified.Before(a.Published) {
		a.Modified = a.Published
	}
	seenAlias := map[string]bool{}
	for _, r := range u.References {
		if href := strings.TrimSpace(r.Href); href != "" {
			typ := "WEB"
			if strings.EqualFold(r.Type, "self") || strings.EqualFold(r.Type, "vendor") {
				typ = "ADVISORY"
			}
			a.References = append(a.References, vuln.Reference{Type: typ, URL: href})
		}
		cve := strings.TrimSpace(r.ID)
		if strings.EqualFold(r.Type, "cve") && strings.HasPrefix(cve, "CVE-") && !seenAlias[cve] {
			seenAlias[cve] = true
			a.Aliases = append(a.Aliases, cve)
		}
	}
	sort.Strings(a.Aliases)
	if page := PageURL(id); page != "" {
		a.References = append([]vuln.Reference{{Type: "ADVISORY", URL: page}}, a.References...)
	}
	// One affected entry per package name: a package is listed once per
	// architecture, and the fixed version is the same for each. Should
	// two architectures disagree, the greater fix is not decidable here
	// (no comparator), so each distinct one is kept as its own range.
	type key struct{ name, evr string }
	seen := map[key]bool{}
	byName := map[string]int{}
	for _, c := range u.Collections {
		for _, p := range c.Packages {
			name := strings.TrimSpace(p.Name)
			if name == "" || strings.TrimSpace(p.Version) == "" {
				return nil, nil, fmt.Errorf("package without a name or version (%q %q)", p.Name, p.Version)
			}
			if p.Epoch != "" {
				if _, err := strconv.ParseUint(strings.TrimSpace(p.Epoch), 10, 32); err != nil {
					return nil, nil, fmt.Errorf("package %s: epoch %q is not a number", name, p.Epoch)
				}
			}
			k := key{name, p.EVR()}
			if seen[k] {
				continue
			}
			seen[k] = true
			rng := vuln.Range{Type: vuln.RangeEcosystem, Events: []vuln.Event{{Introduced: "0"}, {Fixed: k.evr}}}
			if i, ok := byName[name]; ok {
				a.Affected[i].Ranges = append(a.Affected[i].Ranges, rng)
				continue
			}
			byName[name] = len(a.Affected)
			a.Affected = append(a.Affected, vuln.Affected{
				Package: vuln.Package{Ecosystem: ecosystem, Name: name},
				Ranges:  []vuln.Range{rng},
			})
		}
	}
	return a, warn, nil
}

// PageURL is the Amazon Linux Security Center's page of an ALAS, which
// names it without the release its repository id carries:
// ALAS2-2018-939 is https://alas.aws.amazon.com/AL2/ALAS-2018-939.html,
// ALAS2023-2023-126 https://alas.aws.amazon.com/AL2023/ALAS-2023-126.html.
// It is "" for other ids.
func PageURL(id string) string {
	for _, r := range []struct{ prefix, dir string }{{"ALAS2023-", "AL2023"}, {"ALAS2-", "AL2"}} {
		if rest, ok := strings.CutPrefix(id, r.prefix); ok && rest != "" {
			return "https://alas.aws.amazon.com/" + r.dir + "/ALAS-" + rest + ".html"
		}
	}
	return ""
}

// Severity is an advisory's severity word in one spelling: Amazon writes
// "important" and "Important" in different years. Unknown words are kept
// as they are.
func Severity(s string) string {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "critical":
		return "Critical"
	case "important":
		return "Important"
	case "medium":
		return "Medium"
	case "moderate":
		return "Moderate"
	case "low":
		return "Low"
	case "none", "":
		return ""
	}
	return s
}

// ParseDate reads the dates of updateinfo documents: "2018-11-07
// 22:07:00" (Amazon, Fedora), with a trailing " UTC" or without a time
// ("2022-04-16"), or seconds since 1970 (SUSE). All are UTC. An empty
// date is the zero time.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	s = strings.TrimSpace(strings.TrimSuffix(s, "UTC"))
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil && secs > 0 && secs < 1<<34 {
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unrecognised date %q", s)
}

// limitedReader stops at the offset limit and says so, so that an
// oversized document or element is told apart from a malformed one.
type limitedReader struct {
	r     io.Reader
	limit int64
	read  int64
	over  bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.read >= l.limit {
		l.over = true
		return 0, errors.New("too large")
	}
	if int64(len(p)) > l.limit-l.read {
		p = p[:l.limit-l.read]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}
