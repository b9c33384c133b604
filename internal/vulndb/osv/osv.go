// Package osv reads vulnerability records in the OSV format
// (https://ossf.github.io/osv-schema/): one record from its bytes, every
// record of an osv.dev all.zip, or every record of a directory tree such
// as a checkout of an advisory database. It only parses; fetching is done
// elsewhere.
//
// A record decodes straight into vuln.Advisory, whose JSON tags are OSV's.
// What matching depends on is validated; everything else, including
// database_specific and ecosystem_specific, is kept as published.
package osv

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/vuln"
)

// maxRecordSize bounds one record. The largest real records (AlmaLinux
// advisories that list every package of a module) are about 200 KiB.
const maxRecordSize = 16 << 20

// The newest schema version whose fields this package has been checked
// against. Minor versions only add fields, so a newer one is read anyway
// and reported as a warning.
const knownMajor, knownMinor = 1, 7

// A RecordError is a problem with one record of a zip or directory.
type RecordError struct {
	// Entry is the zip entry or file path the record was read from.
	Entry string
	// ID is the record's id, when the record could be decoded.
	ID  string
	Err error
	// Warning is set when the record was still delivered: the problem
	// does not affect matching (a schema_version newer than known).
	Warning bool
}

func (e *RecordError) Error() string {
	where := e.Entry
	if e.ID != "" {
		where += " (" + e.ID + ")"
	}
	if e.Warning {
		return fmt.Sprintf("osv: %s: warning: %v", where, e.Err)
	}
	return fmt.Sprintf("osv: %s: %v", where, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Parse decodes and validates one OSV record. The advisory's Source is
// "osv"; callers that know the feed refine it ("osv/Go").
//
// A schema_version newer than this package knows is not an error here:
// the fields matching needs are validated regardless. ReadZip and ReadDir
// report it as a warning.
func Parse(data []byte) (*vuln.Advisory, error) {
	a, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("osv: %w", err)
	}
	return a, nil
}

// parse is Parse that also returns the advisory when only validation
// failed, so that errors can name its id.
func parse(data []byte) (*vuln.Advisory, error) {
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("record of %d bytes is larger than the %d allowed", len(data), maxRecordSize)
	}
	var a vuln.Advisory
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	a.Source = "osv"
	if err := validate(&a); err != nil {
		return &a, err
	}
	a.VendorSeverity = githubSeverity(&a)
	return &a, nil
}

// githubSeverity is GitHub's rating of a GHSA record (LOW, MODERATE,
// HIGH, CRITICAL), which its OSV export keeps in
// database_specific.severity: for records GitHub reviewed without a CVSS
// vector it is the only score they carry.
func githubSeverity(a *vuln.Advisory) string {
	if a.VendorSeverity != "" || !strings.HasPrefix(a.ID, "GHSA-") || len(a.DatabaseSpecific) == 0 {
		return a.VendorSeverity
	}
	var ds struct {
		Severity string `json:"severity"`
	}
	if json.Unmarshal(a.DatabaseSpecific, &ds) != nil {
		return ""
	}
	return ds.Severity
}

func validate(a *vuln.Advisory) error {
	if strings.TrimSpace(a.ID) == "" {
		return errors.New("missing id")
	}
	for i := range a.Affected {
		if err := validateAffected(&a.Affected[i], a.Withdrawn != nil); err != nil {
			return fmt.Errorf("affected[%d]: %w", i, err)
		}
	}
	return nil
}

func validateAffected(af *vuln.Affected, withdrawn bool) error {
	p := af.Package
	switch {
	case p.Ecosystem == "" && p.Name == "" && onlyGit(af.Ranges):
		// The schema lets an entry that only gives commit ranges (C and
		// C++ projects) name no package; it can never match a package.
	case withdrawn:
		// A withdrawn record is not matched; it only has to say which
		// id is withdrawn.
	case p.Ecosystem == "":
		return errors.New("package.ecosystem missing")
	case p.Name == "":
		return errors.New("package.name missing")
	}
	for i, r := range af.Ranges {
		if err := validateRange(&r); err != nil {
			return fmt.Errorf("ranges[%d]: %w", i, err)
		}
	}
	return nil
}

func onlyGit(rs []vuln.Range) bool {
	for _, r := range rs {
		if r.Type != vuln.RangeGit {
			return false
		}
	}
	return len(rs) > 0
}

func validateRange(r *vuln.Range) error {
	switch r.Type {
	case vuln.RangeEcosystem, vuln.RangeSemver:
	case vuln.RangeGit:
		if r.Repo == "" {
			return errors.New("GIT range without repo")
		}
	default:
		return fmt.Errorf("unknown range type %q", r.Type)
	}
	if len(r.Events) == 0 {
		return errors.New("no events")
	}
	introduced := false
	for i, e := range r.Events {
		n := 0
		for _, v := range []string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("events[%d] has %d fields set, want exactly one", i, n)
		}
		introduced = introduced || e.Introduced != ""
	}
	if !introduced {
		// Evaluation starts from an introduced event; without one the
		// range would silently match nothing.
		return errors.New("no introduced event")
	}
	return nil
}

// schemaWarning reports a schema_version newer than knownMajor.knownMinor,
// or one that is not a version at all. An absent version means 1.0.0.
func schemaWarning(v string) error {
	if v == "" {
		return nil
	}
	parts := strings.SplitN(v, ".", 3)
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := 0, error(nil)
	if len(parts) > 1 {
		minor, err2 = strconv.Atoi(parts[1])
	}
	if err1 != nil || err2 != nil {
		return fmt.Errorf("schema_version %q is not a version", v)
	}
	if major > knownMajor || major == knownMajor && minor > knownMinor {
		return fmt.Errorf("schema_version %s is newer than %d.%d, the newest this reader knows", v, knownMajor, knownMinor)
	}
	return nil
}

// errList collects per-record errors, keeping at most maxErrors of them
// so that a feed of millions of broken records cannot exhaust memory.
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
		return append(l.errs, fmt.Errorf("osv: %d more record errors not listed", l.dropped))
	}
	return l.errs
}

// deliver parses one record and hands it to fn. Problems with the record
// go to errs; only fn's error is returned.
func deliver(entry string, data []byte, errs *errList, fn func(*vuln.Advisory) error) error {
	a, err := parse(data)
	if err != nil {
		re := &RecordError{Entry: entry, Err: err}
		if a != nil {
			re.ID = a.ID
		}
		errs.add(re)
		return nil
	}
	if w := schemaWarning(a.SchemaVersion); w != nil {
		errs.add(&RecordError{Entry: entry, ID: a.ID, Err: w, Warning: true})
	}
	return fn(a)
}
