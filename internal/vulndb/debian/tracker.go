package debian

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/vuln"
)

// maxTrackerSize bounds the tracker JSON; the real export is about 50 MiB.
const maxTrackerSize = 256 << 20

// The tracker JSON, as bin/tracker_service.py of the security tracker
// writes it (null fields are left out):
//
//	{ "<source package>": { "<CVE-… or TEMP-…>": {
//	    "description": "…", "scope": "local"|"remote", "debianbug": 123,
//	    "releases": { "<codename>": {
//	      "status": "resolved"|"open"|"undetermined",
//	      "repositories": { "<codename>[-security]": "<version>" },
//	      "fixed_version": "…", "urgency": "…",
//	      "nodsa": "…", "nodsa_reason": "ignored"|"postponed",
//	      "next_point_update": true } } } } }
type trackerIssue struct {
	Description string                    `json:"description"`
	DebianBug   json.Number               `json:"debianbug"`
	Releases    map[string]trackerRelease `json:"releases"`
}

type trackerRelease struct {
	Status       string `json:"status"`
	FixedVersion string `json:"fixed_version"`
	Urgency      string `json:"urgency"`
	NoDSA        string `json:"nodsa"`
	NoDSAReason  string `json:"nodsa_reason"`
}

// releaseInfo is what an affected entry keeps of the tracker's view of
// one release, in its database_specific.
type releaseInfo struct {
	Release     string `json:"release"`
	Status      string `json:"status"`
	Urgency     string `json:"urgency,omitempty"`
	NoDSA       string `json:"nodsa,omitempty"`
	NoDSAReason string `json:"nodsa_reason,omitempty"`
}

var (
	issueRe   = regexp.MustCompile(`^(CVE-\d{4}-\d{4,}|TEMP-\d+-[0-9A-Za-z]+)$`)
	srcNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+-]*$`)
)

// ParseTrackerJSON reads the security tracker's JSON export as a stream:
// one advisory per vulnerability, with an affected entry per (release,
// source package) the tracker lists, mapped as the package documentation
// says; the tracker's own status, urgency and no-DSA note of each release
// are kept in the entry's database_specific. An open issue whose no-DSA
// reason is "ignored", or whose urgency is "end-of-life", will not be
// fixed (WillNotFix); every other open or undetermined one is NotFixed.
//
// The advisory's id is "DEBIAN-" followed by the tracker's id, as in
// osv.dev's conversion of the same data, with the CVE in Upstream (TEMP-
// ids are the tracker's own and are not). VendorSeverity is the worst
// urgency of any release of any package, with the "**" that marks an
// urgency taken from NVD removed. Source is "debian-tracker".
//
// An entry that cannot be read, or a release with an unknown codename or
// status, is skipped and reported as a *RecordError; the error is for
// input that is not the tracker's JSON or is cut short.
func ParseTrackerJSON(r io.Reader) ([]vuln.Advisory, []error, error) {
	return parseTracker(r, maxTrackerSize)
}

func parseTracker(r io.Reader, max int64) ([]vuln.Advisory, []error, error) {
	dec := json.NewDecoder(&capReader{r: r, n: max})
	t := tracker{byID: map[string]*vuln.Advisory{}}
	if err := t.read(dec); err != nil {
		return nil, t.errs.list(), fmt.Errorf("debian: tracker JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, t.errs.list(), errors.New("debian: tracker JSON: data after the top-level object")
	}
	return t.advisories(), t.errs.list(), nil
}

type tracker struct {
	byID map[string]*vuln.Advisory
	errs errList
}

func (t *tracker) read(dec *json.Decoder) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		pkg, err := stringToken(dec)
		if err != nil {
			return err
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok != json.Delim('{') {
			t.errs.add(&RecordError{Where: "tracker", ID: pkg, Err: errors.New("package entry is not an object")})
			if err := skipRest(dec, tok); err != nil {
				return err
			}
			continue
		}
		for dec.More() {
			id, err := stringToken(dec)
			if err != nil {
				return err
			}
			// Reading the raw value first separates broken JSON, which
			// ends the stream, from a well-formed entry of the wrong
			// shape, which is one bad record.
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			var issue trackerIssue
			if err := json.Unmarshal(raw, &issue); err != nil {
				t.errs.add(&RecordError{Where: "tracker", ID: id + " " + pkg, Err: err})
				continue
			}
			t.add(pkg, id, &issue)
		}
		if err := expectDelim(dec, '}'); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}

func (t *tracker) add(pkg, id string, issue *trackerIssue) {
	fail := func(err error) { t.errs.add(&RecordError{Where: "tracker", ID: id + " " + pkg, Err: err}) }
	if !issueRe.MatchString(id) {
		fail(errors.New("not a CVE or TEMP id"))
		return
	}
	if !srcNameRe.MatchString(pkg) {
		fail(errors.New("not a source package name"))
		return
	}
	a := t.byID[id]
	if a == nil {
		a = &vuln.Advisory{ID: "DEBIAN-" + id, Source: "debian-tracker",
			References: []vuln.Reference{{Type: "ADVISORY", URL: "https://security-tracker.debian.org/tracker/" + id}}}
		if strings.HasPrefix(id, "CVE-") {
			a.Upstream = []string{id}
		}
		t.byID[id] = a
	}
	if a.Details == "" {
		a.Details = issue.Description
	}
	if bug := issue.DebianBug.String(); bug != "" {
		ref := vuln.Reference{Type: "REPORT", URL: "https://bugs.debian.org/" + bug}
		if !containsRef(a.References, ref) {
			a.References = append(a.References, ref)
		}
	}
	releases := make([]string, 0, len(issue.Releases))
	for name := range issue.Releases {
		releases = append(releases, name)
	}
	sort.Strings(releases)
	for _, name := range releases {
		rel := issue.Releases[name]
		urgency := strings.TrimSuffix(rel.Urgency, "**")
		a.VendorSeverity = worse(a.VendorSeverity, urgency)
		af, ok, err := trackerAffected(name, pkg, &rel, urgency)
		if err != nil {
			fail(fmt.Errorf("release %s: %w", name, err))
			continue
		}
		if ok {
			a.Affected = append(a.Affected, af)
		}
	}
}

func trackerAffected(release, pkg string, rel *trackerRelease, urgency string) (vuln.Affected, bool, error) {
	eco, ok := Ecosystem(release)
	if !ok {
		return vuln.Affected{}, false, fmt.Errorf("unknown release %q", release)
	}
	var version string
	switch rel.Status {
	case "resolved":
		switch rel.FixedVersion {
		case "":
			return vuln.Affected{}, false, errors.New("resolved without a fixed_version")
		case "0":
			version = "<not-affected>"
		default:
			version = rel.FixedVersion
		}
	case "open":
		version = "<unfixed>"
		if rel.NoDSAReason == "ignored" || urgency == "end-of-life" {
			version = "<ignored>"
		}
	case "undetermined":
		version = "<undetermined>"
	default:
		return vuln.Affected{}, false, fmt.Errorf("unknown status %q", rel.Status)
	}
	af, ok, err := affected(eco, pkg, version)
	if err != nil || !ok {
		return af, ok, err
	}
	info, err := json.Marshal(releaseInfo{Release: release, Status: rel.Status, Urgency: urgency, NoDSA: rel.NoDSA, NoDSAReason: rel.NoDSAReason})
	if err != nil {
		return af, false, err
	}
	af.DatabaseSpecific = info
	return af, true, nil
}

func (t *tracker) advisories() []vuln.Advisory {
	ids := make([]string, 0, len(t.byID))
	for id := range t.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]vuln.Advisory, 0, len(ids))
	for _, id := range ids {
		out = append(out, *t.byID[id])
	}
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

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("found %v where %v was expected", tok, want)
	}
	return nil
}

func stringToken(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("found %v where a key was expected", tok)
	}
	return s, nil
}

// skipRest skips the rest of a value whose first token was tok.
func skipRest(dec *json.Decoder, tok json.Token) error {
	depth := 0
	for {
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth <= 0 {
			return nil
		}
		var err error
		if tok, err = dec.Token(); err != nil {
			return err
		}
	}
}
