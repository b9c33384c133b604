// Package alpine reads Alpine Linux's security database (secdb), the JSON
// served at https://secdb.alpinelinux.org/<branch>/<repository>.json, into
// advisories. It only parses; fetching is done elsewhere.
//
// The secdb lists, per branch and per source ("origin") package, which
// package version fixed which vulnerabilities. The advisories follow
// osv.dev's own conversion of the same data, so that both merge: the id
// is "ALPINE-" followed by the vulnerability id ("ALPINE-CVE-2019-14697"),
// Upstream names the vulnerability, and each affected entry is one origin
// package in the ecosystem "Alpine:<branch>" with the range introduced 0,
// fixed <version>.
//
// Rules for the data as it really is:
//
//   - A version key of "0" lists vulnerabilities that never affected the
//     package as Alpine builds it. Such an entry yields no affected entry
//     (and a vulnerability listed only under "0" yields no advisory), so
//     it can never match.
//   - An entry is read for ids: every CVE id in it names a vulnerability
//     the version fixes, and other ids beside CVEs ("XSA-207",
//     "TALOS-2019-0844") are kept in Upstream. An entry without a CVE id
//     names its other ids as the vulnerabilities. Text in parentheses is a
//     comment, and "CVE-????-?????" a placeholder for an id not yet
//     assigned; both are ignored. Misspelt CVE ids ("CVE_2019-2426",
//     "CVE 2018-16859", "CVE-2017-8073.patch") are corrected with a warning.
//   - When one package lists the same vulnerability under several
//     versions (a fix in an older release series and one in a newer, or a
//     fix and a later complete fix), each version is a range of its own.
//     A version is then affected if it is below any of them, which never
//     hides a vulnerable version but may report a backported fix as
//     vulnerable.
package alpine

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/vuln"
)

// maxFileSize bounds one secdb file. The real ones are at most a few
// hundred KiB.
const maxFileSize = 64 << 20

// A RecordError is a problem with one secfixes entry, or one package, of
// a secdb file.
type RecordError struct {
	// Where names the file and package: "v3.10/main xen 4.11.1-r0".
	Where string
	// Entry is the secfixes entry as written, when the problem is in one.
	Entry string
	Err   error
	// Warning is set when the entry was still used, after the correction
	// the message describes.
	Warning bool
}

func (e *RecordError) Error() string {
	where := e.Where
	if e.Entry != "" {
		where += fmt.Sprintf(" %q", e.Entry)
	}
	if e.Warning {
		return fmt.Sprintf("alpine: %s: warning: %v", where, e.Err)
	}
	return fmt.Sprintf("alpine: %s: %v", where, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

type secdb struct {
	DistroVersion string            `json:"distroversion"`
	RepoName      string            `json:"reponame"`
	Packages      []json.RawMessage `json:"packages"`
}

type secdbPackage struct {
	Pkg struct {
		Name     string         `json:"name"`
		Secfixes map[string]any `json:"secfixes"`
	} `json:"pkg"`
}

var (
	branchRe  = regexp.MustCompile(`^(v\d+\.\d+|edge)$`)
	nameRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	versionRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]*$`)
	// apkVersionRe is apk's version grammar; the revision is optional
	// because the secdb sometimes leaves it out ("7.50.1").
	apkVersionRe = regexp.MustCompile(`^\d+(\.\d+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(-r\d+)?$`)
)

// Parse reads one secdb file. It returns one advisory per vulnerability
// the file records a fix for, with one affected entry per package that
// fixed it, sorted by id. Entries and packages that cannot be read are
// skipped and reported as *RecordError, as are corrections (warnings); the
// error is for a file that cannot be read at all.
//
// Advisories of different files (branches, main and community) share ids:
// Merge joins them.
func Parse(data []byte) ([]vuln.Advisory, []error, error) {
	if len(data) > maxFileSize {
		return nil, nil, fmt.Errorf("alpine: file of %d bytes is larger than the %d allowed", len(data), maxFileSize)
	}
	var db secdb
	if err := json.Unmarshal(data, &db); err != nil {
		return nil, nil, fmt.Errorf("alpine: %w", err)
	}
	if !branchRe.MatchString(db.DistroVersion) {
		return nil, nil, fmt.Errorf("alpine: distroversion %q is not a branch", db.DistroVersion)
	}
	file := db.DistroVersion
	if db.RepoName != "" {
		file += "/" + db.RepoName
	}
	b := builder{ecosystem: "Alpine:" + db.DistroVersion, fixed: map[fixKey]bool{}, upstream: map[string][]string{}}
	var errs errList
	for i, raw := range db.Packages {
		var p secdbPackage
		if err := json.Unmarshal(raw, &p); err != nil {
			errs.add(&RecordError{Where: fmt.Sprintf("%s packages[%d]", file, i), Err: err})
			continue
		}
		name := p.Pkg.Name
		if !nameRe.MatchString(name) {
			errs.add(&RecordError{Where: fmt.Sprintf("%s packages[%d]", file, i), Err: fmt.Errorf("package name %q is not a name", name)})
			continue
		}
		versions := make([]string, 0, len(p.Pkg.Secfixes))
		for v := range p.Pkg.Secfixes {
			versions = append(versions, v)
		}
		sort.Strings(versions)
		for _, version := range versions {
			where := file + " " + name + " " + version
			entries, err := entryList(p.Pkg.Secfixes[version])
			if err != nil {
				errs.add(&RecordError{Where: where, Err: err})
				continue
			}
			if version == "0" {
				continue // never affected
			}
			if !versionRe.MatchString(version) {
				errs.add(&RecordError{Where: where, Err: errors.New("not a version")})
				continue
			}
			if !apkVersionRe.MatchString(version) {
				errs.add(&RecordError{Where: where, Err: errors.New("not an apk version; comparisons with it may be wrong"), Warning: true})
			}
			for _, e := range entries {
				ids, extra, warnings, err := parseEntry(e)
				for _, w := range warnings {
					errs.add(&RecordError{Where: where, Entry: e, Err: w, Warning: true})
				}
				if err != nil {
					errs.add(&RecordError{Where: where, Entry: e, Err: err})
					continue
				}
				for _, id := range ids {
					b.add(id, extra, name, version)
				}
			}
		}
	}
	return b.advisories(), errs.list(), nil
}

// entryList reads a secfixes value: a list of strings, or null for none.
func entryList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("secfixes value is a %T, not a list", v)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("secfixes entry %v is a %T, not a string", x, x)
		}
		out = append(out, s)
	}
	return out, nil
}

var (
	cveRe = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)
	// cveLooseRe is a CVE id with the wrong separator or case, or with
	// something stuck to its end ("CVE-2017-17434-1", "….patch").
	cveLooseRe = regexp.MustCompile(`^(?i:cve)[-_](\d{4})-(\d{4,})(\D.*)?$`)
	// cveTailRe is what follows a "CVE" written apart from its number.
	cveTailRe = regexp.MustCompile(`^\d{4}-\d{4,}$`)
	// otherIDRe is any other advisory id: XSA-207, TALOS-2019-0844,
	// ZBX-11023, wnpa-sec-2017-18.
	otherIDRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)+$`)
)

// parseEntry reads the ids of one secfixes entry: ids are the
// vulnerabilities it fixes, extra the other ids it names beside them.
func parseEntry(s string) (ids, extra []string, warnings []error, err error) {
	text := s
	if i := strings.IndexByte(text, '('); i >= 0 {
		text = text[:i] // "(FrameRelay)", "(+ regression fix)"
	}
	var cves, others []string
	f := strings.Fields(text)
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.EqualFold(tok, "CVE") && i+1 < len(f) && cveTailRe.MatchString(f[i+1]) {
			tok = "CVE-" + f[i+1]
			warnings = append(warnings, fmt.Errorf("read %q as %s", f[i]+" "+f[i+1], tok))
			i++
		}
		switch m := cveLooseRe.FindStringSubmatch(tok); {
		case cveRe.MatchString(tok):
			cves = append(cves, tok)
		case strings.Contains(tok, "?"):
			// A placeholder for an id not yet assigned.
		case m != nil:
			id := "CVE-" + m[1] + "-" + m[2]
			warnings = append(warnings, fmt.Errorf("read %q as %s", tok, id))
			cves = append(cves, id)
		case otherIDRe.MatchString(tok):
			others = append(others, tok)
		default:
			warnings = append(warnings, fmt.Errorf("ignored %q, which is not an id", tok))
		}
	}
	switch {
	case len(cves) > 0:
		return cves, others, warnings, nil
	case len(others) > 0:
		return others, nil, warnings, nil
	}
	return nil, nil, warnings, errors.New("no vulnerability id in entry")
}

type fixKey struct{ id, pkg, version string }

// builder gathers the fixes of one file and turns them into advisories.
type builder struct {
	ecosystem string
	fixed     map[fixKey]bool
	upstream  map[string][]string // id → other ids named beside it
}

func (b *builder) add(id string, extra []string, pkg, version string) {
	b.fixed[fixKey{id, pkg, version}] = true
	b.upstream[id] = append(b.upstream[id], extra...)
}

func (b *builder) advisories() []vuln.Advisory {
	keys := make([]fixKey, 0, len(b.fixed))
	for k := range b.fixed {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.id != c.id {
			return a.id < c.id
		}
		if a.pkg != c.pkg {
			return a.pkg < c.pkg
		}
		return a.version < c.version
	})
	var out []vuln.Advisory
	for _, k := range keys {
		if len(out) == 0 || out[len(out)-1].ID != "ALPINE-"+k.id {
			out = append(out, newAdvisory(k.id, b.upstream[k.id]))
		}
		a := &out[len(out)-1]
		if n := len(a.Affected); n == 0 || a.Affected[n-1].Package.Name != k.pkg {
			a.Affected = append(a.Affected, vuln.Affected{Package: vuln.Package{Ecosystem: b.ecosystem, Name: k.pkg}})
		}
		af := &a.Affected[len(a.Affected)-1]
		af.Ranges = append(af.Ranges, vuln.Range{Type: vuln.RangeEcosystem, Events: []vuln.Event{{Introduced: "0"}, {Fixed: k.version}}})
	}
	return out
}

func newAdvisory(id string, extra []string) vuln.Advisory {
	a := vuln.Advisory{
		ID:       "ALPINE-" + id,
		Upstream: union([]string{id}, extra),
		Source:   "alpine-secdb",
	}
	if cveRe.MatchString(id) {
		a.References = []vuln.Reference{{Type: "ADVISORY", URL: "https://security.alpinelinux.org/vuln/" + id}}
	}
	return a
}

// union appends to a the strings of b it does not hold yet.
func union(a, b []string) []string {
	for _, s := range b {
		if !contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Merge joins advisories that share an id, as the same vulnerability does
// across the files of different branches and repositories: their affected
// entries, upstream ids and references are put together. The result is
// sorted by id.
func Merge(advs []vuln.Advisory) []vuln.Advisory {
	byID := map[string]int{}
	var out []vuln.Advisory
	for _, a := range advs {
		i, ok := byID[a.ID]
		if !ok {
			byID[a.ID] = len(out)
			// Copies, so that merging never writes into the caller's slices.
			a.Affected = append([]vuln.Affected(nil), a.Affected...)
			a.Upstream = append([]string(nil), a.Upstream...)
			a.References = append([]vuln.Reference(nil), a.References...)
			out = append(out, a)
			continue
		}
		m := &out[i]
		m.Affected = append(m.Affected, a.Affected...)
		m.Upstream = union(m.Upstream, a.Upstream)
		for _, r := range a.References {
			if !containsRef(m.References, r) {
				m.References = append(m.References, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func containsRef(list []vuln.Reference, r vuln.Reference) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
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
		return append(l.errs, fmt.Errorf("alpine: %d more record errors not listed", l.dropped))
	}
	return l.errs
}
