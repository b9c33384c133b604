// Package vuln is Vigil's model of published vulnerability data: one
// Advisory per record, in the shape of the OSV schema
// (https://ossf.github.io/osv-schema/), which every feed — OSV itself,
// Alpine's secdb, Debian's security tracker — is converted to. The JSON
// tags are OSV's, so an OSV record decodes into an Advisory as it is.
//
// It is a domain leaf: no I/O, no database, no HTTP.
package vuln

import (
	"encoding/json"
	"time"
)

// Advisory is one vulnerability record of one source.
type Advisory struct {
	SchemaVersion string     `json:"schema_version,omitempty"`
	ID            string     `json:"id"`
	Modified      time.Time  `json:"modified"`
	Published     time.Time  `json:"published,omitempty"`
	Withdrawn     *time.Time `json:"withdrawn,omitempty"`
	// Aliases are other ids of the same vulnerability (CVE, GHSA): an
	// advisory and its aliases are one vulnerability.
	Aliases []string `json:"aliases,omitempty"`
	// Related are ids of vulnerabilities this record is about without
	// being the same record: a distribution advisory (DSA, ALSA) relates
	// the CVEs it fixes.
	Related    []string    `json:"related,omitempty"`
	Upstream   []string    `json:"upstream,omitempty"`
	Summary    string      `json:"summary,omitempty"`
	Details    string      `json:"details,omitempty"`
	Severity   []Severity  `json:"severity,omitempty"`
	Affected   []Affected  `json:"affected,omitempty"`
	References []Reference `json:"references,omitempty"`

	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`

	// Vigil's own fields, absent from OSV records.

	// Source names the feed the record came from ("osv/Go",
	// "alpine-secdb", "debian-dsa").
	Source string `json:"vigil_source,omitempty"`
	// VendorSeverity is the source's own rating in its own words
	// ("Important", "high"), when it has one.
	VendorSeverity string `json:"vigil_vendor_severity,omitempty"`
}

// Severity is a scored rating: a CVSS vector string with its type.
type Severity struct {
	// Type is "CVSS_V2", "CVSS_V3", "CVSS_V4" or "Ubuntu".
	Type  string `json:"type"`
	Score string `json:"score"`
	// Source says who scored it ("nvd@nist.gov", "debian"); empty means
	// the advisory's own source.
	Source string `json:"vigil_source,omitempty"`
}

// The severity types of the OSV schema.
const (
	CVSSv2 = "CVSS_V2"
	CVSSv3 = "CVSS_V3"
	CVSSv4 = "CVSS_V4"
)

// Affected says which versions of one package are vulnerable.
type Affected struct {
	Package  Package    `json:"package"`
	Severity []Severity `json:"severity,omitempty"`
	Ranges   []Range    `json:"ranges,omitempty"`
	Versions []string   `json:"versions,omitempty"`

	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`

	// Status is Vigil's: empty when the ranges say everything (a fixed
	// event means a fix exists), NotFixed when the vendor says every
	// version is affected and no fix exists yet, WillNotFix when the
	// vendor has decided not to fix it.
	Status Status `json:"vigil_status,omitempty"`
}

// Status is a vendor's statement about fixing a vulnerability.
type Status string

const (
	NotFixed   Status = "not-fixed"
	WillNotFix Status = "will-not-fix"
)

// Package names a package within an ecosystem.
type Package struct {
	// Ecosystem is OSV's ecosystem name: "Go", "npm", "PyPI", "Maven",
	// "crates.io", "RubyGems", "Packagist", "NuGet", and for
	// distributions "Debian:12", "Alpine:v3.20", "AlmaLinux:9",
	// "Ubuntu:22.04:LTS".
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is a set of affected versions given by events in version order.
type Range struct {
	// Type is "ECOSYSTEM", "SEMVER" or "GIT".
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`

	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// The range types of the OSV schema.
const (
	RangeEcosystem = "ECOSYSTEM"
	RangeSemver    = "SEMVER"
	RangeGit       = "GIT"
)

// Event is one boundary of a range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link about the vulnerability.
type Reference struct {
	// Type is OSV's: ADVISORY, ARTICLE, DETECTION, DISCUSSION, REPORT,
	// FIX, INTRODUCED, PACKAGE, EVIDENCE, WEB.
	Type string `json:"type"`
	URL  string `json:"url"`
}

// IDs returns every id this advisory is known by: its own, its aliases,
// and its upstream id when it derives from exactly one (a distribution's
// record of one CVE, such as ALPINE-CVE-2019-14697 or DEBIAN-CVE-2024-1).
// A record deriving from several upstream vulnerabilities is not the same
// as any one of them, so those stay out.
func (a *Advisory) IDs() []string {
	ids := append([]string{a.ID}, a.Aliases...)
	if len(a.Upstream) == 1 {
		ids = append(ids, a.Upstream[0])
	}
	return ids
}
