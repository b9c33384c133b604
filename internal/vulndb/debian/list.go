package debian

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/vuln"
)

const (
	// maxListSize bounds a DSA or DLA list; the real ones are under 1 MiB.
	maxListSize = 256 << 20
	// maxLineSize bounds one line; the longest real ones (kernel DSAs
	// listing a few hundred CVEs) are a few KiB.
	maxLineSize = 1 << 20
)

var (
	// [29 Mar 2023] DSA-5380-1 xorg-server - security update
	headerRe = regexp.MustCompile(`^\[(\d{1,2} [A-Z][a-z]{2} \d{4})\] ([A-Z]+-(\d+)(?:-(\d+))?)\s*(.*?)\s*$`)
	// [bullseye] - xorg-server 2:1.20.11-1+deb11u6 (bug #123; medium)
	packageRe = regexp.MustCompile(`^\[([a-z]+)\]\s+-\s+([A-Za-z0-9][A-Za-z0-9.+-]*)\s+(<[a-z-]+>|[A-Za-z0-9:.+~-]+)(?:\s+\((.*)\))?$`)
)

// ParseList reads a DSA or DLA list of the Debian security tracker
// (kind "DSA" or "DLA"): one advisory per advisory id ("DSA-5380-1"),
// published on its date, relating the CVEs it fixes (they are Related,
// not Aliases: one DSA fixes several vulnerabilities and is none of
// them), with an affected entry per "[release] - package version" line;
// an urgency noted on those lines ("(medium)") becomes the advisory's
// VendorSeverity, the worst one when they differ. NOTE lines are
// comments. Every advisory in the list is returned, also those that
// affect nothing (end-of-life announcements).
//
// A record with a line that cannot be read (or an unknown release) is
// skipped and reported as a *RecordError; the error is for input that
// cannot be read at all.
func ParseList(r io.Reader, kind string) ([]vuln.Advisory, []error, error) {
	return parseList(r, kind, maxListSize)
}

func parseList(r io.Reader, kind string, max int64) ([]vuln.Advisory, []error, error) {
	if kind != "DSA" && kind != "DLA" {
		return nil, nil, fmt.Errorf("debian: unknown advisory list kind %q", kind)
	}
	where := kind + " list"
	sc := bufio.NewScanner(&capReader{r: r, n: max})
	sc.Buffer(make([]byte, 0, 4<<10), maxLineSize)
	var (
		advs []vuln.Advisory
		errs errList
		cur  *listRecord
		line int
	)
	flush := func() {
		if cur == nil {
			return
		}
		if cur.err != nil {
			errs.add(&RecordError{Where: fmt.Sprintf("%s line %d", where, cur.errLine), ID: cur.adv.ID, Err: cur.err})
		} else {
			advs = append(advs, cur.adv)
		}
		cur = nil
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		if text[0] == ' ' || text[0] == '\t' {
			if cur == nil {
				errs.add(&RecordError{Where: fmt.Sprintf("%s line %d", where, line), Err: errors.New("annotation before any advisory")})
				continue
			}
			if cur.err == nil {
				if err := cur.annotate(strings.TrimSpace(text)); err != nil {
					cur.err, cur.errLine = err, line
				}
			}
			continue
		}
		flush()
		cur = newListRecord(text, kind)
		if cur.err != nil {
			cur.errLine = line
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, errs.list(), fmt.Errorf("debian: %s: %w", where, err)
	}
	return advs, errs.list(), nil
}

type listRecord struct {
	adv     vuln.Advisory
	err     error
	errLine int
}

func newListRecord(header, kind string) *listRecord {
	rec := &listRecord{}
	m := headerRe.FindStringSubmatch(header)
	if m == nil {
		rec.err = fmt.Errorf("malformed header %q", truncate(header))
		return rec
	}
	rec.adv.ID = m[2]
	if !strings.HasPrefix(rec.adv.ID, kind+"-") {
		rec.err = fmt.Errorf("not a %s id", kind)
		return rec
	}
	date, err := time.Parse("2 Jan 2006", m[1])
	if err != nil {
		rec.err = fmt.Errorf("date %q: %w", m[1], err)
		return rec
	}
	rec.adv.Published, rec.adv.Modified = date, date
	rec.adv.Summary = m[5]
	rec.adv.Source = "debian-" + strings.ToLower(kind)
	rec.adv.References = []vuln.Reference{{Type: "ADVISORY", URL: advisoryURL(kind, m[3], m[4], date.Year())}}
	return rec
}

// advisoryURL is the advisory's page on www.debian.org, as the tracker
// links it: DSAs by number alone, DLAs with their revision unless it is 1.
func advisoryURL(kind, number, revision string, year int) string {
	n, _ := strconv.Atoi(number)
	if kind == "DSA" {
		return fmt.Sprintf("https://www.debian.org/security/%d/dsa-%d", year, n)
	}
	page := fmt.Sprintf("dla-%d", n)
	if revision != "" && revision != "1" {
		page += "-" + revision
	}
	return fmt.Sprintf("https://www.debian.org/lts/security/%d/%s", year, page)
}

func (rec *listRecord) annotate(text string) error {
	switch {
	case strings.HasPrefix(text, "NOTE:"), strings.HasPrefix(text, "TODO:"):
		return nil
	case strings.HasPrefix(text, "{"):
		inner, ok := strings.CutSuffix(text[1:], "}")
		ids := strings.Fields(inner)
		if !ok || len(ids) == 0 {
			return fmt.Errorf("malformed cross-reference %q", truncate(text))
		}
		for _, id := range ids {
			if !contains(rec.adv.Related, id) {
				rec.adv.Related = append(rec.adv.Related, id)
			}
		}
		return nil
	case strings.HasPrefix(text, "["):
		return rec.addPackage(text)
	}
	return fmt.Errorf("unrecognised line %q", truncate(text))
}

func (rec *listRecord) addPackage(text string) error {
	m := packageRe.FindStringSubmatch(text)
	if m == nil {
		return fmt.Errorf("malformed package line %q", truncate(text))
	}
	release, pkg, version, note := m[1], m[2], m[3], m[4]
	eco, ok := Ecosystem(release)
	if !ok {
		return fmt.Errorf("unknown release %q", release)
	}
	for _, item := range strings.Split(note, ";") {
		if u := strings.TrimSpace(item); urgencyRank[u] > 0 {
			rec.adv.VendorSeverity = worse(rec.adv.VendorSeverity, u)
		}
	}
	af, ok, err := affected(eco, pkg, version)
	if err != nil || !ok {
		return err
	}
	rec.adv.Affected = append(rec.adv.Affected, af)
	return nil
}

// affected is the affected entry for a package line's version, which is a
// version or a tracker pseudo-version such as <not-affected>; ok is false
// when the package is not affected.
func affected(eco, pkg, version string) (af vuln.Affected, ok bool, err error) {
	af.Package = vuln.Package{Ecosystem: eco, Name: pkg}
	r := vuln.Range{Type: vuln.RangeEcosystem, Events: []vuln.Event{{Introduced: "0"}}}
	switch version {
	case "<not-affected>", "<removed>", "<itp>":
		// Not affected, no longer in the release, or never in Debian.
		return af, false, nil
	case "<unfixed>", "<undetermined>", "<postponed>", "<no-dsa>":
		af.Status = vuln.NotFixed
	case "<end-of-life>", "<ignored>":
		af.Status = vuln.WillNotFix
	default:
		if strings.HasPrefix(version, "<") {
			return af, false, fmt.Errorf("unknown pseudo-version %s", version)
		}
		r.Events = append(r.Events, vuln.Event{Fixed: version})
	}
	af.Ranges = []vuln.Range{r}
	return af, true, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
