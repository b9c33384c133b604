// Package kev reads CISA's Known Exploited Vulnerabilities catalog, the
// JSON feed published at
// https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json
// (mirrored in github.com/cisagov/kev-data). A CVE in the catalog is being
// exploited in the wild; the scorer raises such findings and the gate can
// reject on them.
//
// It is a domain leaf: it parses bytes and knows nothing of fetching.
package kev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Catalog is one release of the catalog.
type Catalog struct {
	Title          string
	CatalogVersion string
	DateReleased   time.Time
	// Count is the number of entries the catalog says it holds.
	Count           int
	Vulnerabilities []Entry
}

// Entry is one known exploited vulnerability.
type Entry struct {
	CVEID             string
	VendorProject     string
	Product           string
	VulnerabilityName string
	// DateAdded is the day CISA added the CVE to the catalog (UTC).
	DateAdded        time.Time
	ShortDescription string
	RequiredAction   string
	// DueDate is the remediation deadline for US federal agencies.
	DueDate time.Time
	// KnownRansomwareCampaignUse says CISA knows the vulnerability is used
	// in ransomware campaigns (the feed's "Known"; "Unknown" is false).
	KnownRansomwareCampaignUse bool
	Notes                      string
	CWEs                       []string
}

// Index maps each CVE id to its entry.
func (c *Catalog) Index() map[string]Entry {
	m := make(map[string]Entry, len(c.Vulnerabilities))
	for _, e := range c.Vulnerabilities {
		m[e.CVEID] = e
	}
	return m
}

const (
	// maxSize bounds the catalog read into memory; the 2025 catalog is
	// 1.4 MB for 1404 entries.
	maxSize = 64 << 20
	// maxErrors bounds the per-entry errors kept, so that a hostile feed
	// cannot grow the error list without limit.
	maxErrors = 100
)

var cveID = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// rawEntry has the feed's field names; every field is a string in the
// feed except cwes.
type rawEntry struct {
	CVEID                      string   `json:"cveID"`
	VendorProject              string   `json:"vendorProject"`
	Product                    string   `json:"product"`
	VulnerabilityName          string   `json:"vulnerabilityName"`
	DateAdded                  string   `json:"dateAdded"`
	ShortDescription           string   `json:"shortDescription"`
	RequiredAction             string   `json:"requiredAction"`
	DueDate                    string   `json:"dueDate"`
	KnownRansomwareCampaignUse string   `json:"knownRansomwareCampaignUse"`
	Notes                      string   `json:"notes"`
	CWEs                       []string `json:"cwes"`
}

// Parse reads a catalog. Entries without a valid CVE id, or that are not
// objects of the expected shape, are reported and skipped; an entry whose
// dates do not parse is reported but kept (with the date left zero),
// because losing a CVE's "exploited" flag is worse than losing a date.
// The error is non-nil only when the input is not a catalog at all.
func Parse(r io.Reader) (Catalog, []error, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return Catalog{}, nil, fmt.Errorf("kev: read: %w", err)
	}
	if len(data) > maxSize {
		return Catalog{}, nil, fmt.Errorf("kev: catalog larger than %d MiB", maxSize>>20)
	}
	var doc struct {
		Title           string            `json:"title"`
		CatalogVersion  string            `json:"catalogVersion"`
		DateReleased    string            `json:"dateReleased"`
		Count           *int              `json:"count"`
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return Catalog{}, nil, fmt.Errorf("kev: %w", err)
	}
	if doc.Vulnerabilities == nil {
		return Catalog{}, nil, errors.New("kev: no \"vulnerabilities\" array: not a KEV catalog")
	}

	var errs errList
	c := Catalog{Title: doc.Title, CatalogVersion: doc.CatalogVersion}
	if doc.DateReleased != "" {
		if c.DateReleased, err = time.Parse(time.RFC3339Nano, doc.DateReleased); err != nil {
			errs.add(fmt.Errorf("kev: dateReleased %q: %w", doc.DateReleased, err))
		}
	}
	seen := make(map[string]bool, len(doc.Vulnerabilities))
	for i, raw := range doc.Vulnerabilities {
		e, err := parseEntry(raw, &errs)
		if err != nil {
			errs.add(fmt.Errorf("kev: entry %d: %w", i+1, err))
			continue
		}
		if seen[e.CVEID] {
			errs.add(fmt.Errorf("kev: entry %d (%s): duplicate, the first one is kept", i+1, e.CVEID))
			continue
		}
		seen[e.CVEID] = true
		c.Vulnerabilities = append(c.Vulnerabilities, e)
	}
	if doc.Count == nil {
		errs.add(errors.New("kev: no \"count\" field"))
		c.Count = len(doc.Vulnerabilities)
	} else {
		c.Count = *doc.Count
		if c.Count != len(doc.Vulnerabilities) {
			errs.add(fmt.Errorf("kev: count says %d entries, the catalog has %d", c.Count, len(doc.Vulnerabilities)))
		}
	}
	return c, errs.list(), nil
}

func parseEntry(raw json.RawMessage, errs *errList) (Entry, error) {
	var re rawEntry
	if err := json.Unmarshal(raw, &re); err != nil {
		// Name the CVE when the entry is an object with a usable id.
		var id struct {
			CVEID string `json:"cveID"`
		}
		if json.Unmarshal(raw, &id) == nil && id.CVEID != "" {
			return Entry{}, fmt.Errorf("%s: %w", truncate(id.CVEID), err)
		}
		return Entry{}, err
	}
	if !cveID.MatchString(re.CVEID) {
		return Entry{}, fmt.Errorf("cveID %q is not a CVE id", truncate(re.CVEID))
	}
	e := Entry{
		CVEID:                      re.CVEID,
		VendorProject:              re.VendorProject,
		Product:                    re.Product,
		VulnerabilityName:          re.VulnerabilityName,
		ShortDescription:           re.ShortDescription,
		RequiredAction:             re.RequiredAction,
		KnownRansomwareCampaignUse: re.KnownRansomwareCampaignUse == "Known",
		Notes:                      re.Notes,
		CWEs:                       re.CWEs,
	}
	var err error
	if e.DateAdded, err = time.Parse(time.DateOnly, re.DateAdded); err != nil {
		errs.add(fmt.Errorf("kev: %s: dateAdded %q is not a date; entry kept", e.CVEID, truncate(re.DateAdded)))
	}
	if re.DueDate != "" {
		if e.DueDate, err = time.Parse(time.DateOnly, re.DueDate); err != nil {
			errs.add(fmt.Errorf("kev: %s: dueDate %q is not a date; entry kept", e.CVEID, truncate(re.DueDate)))
		}
	}
	switch re.KnownRansomwareCampaignUse {
	case "Known", "Unknown":
	default:
		errs.add(fmt.Errorf("kev: %s: knownRansomwareCampaignUse %q is neither Known nor Unknown, taken as Unknown", e.CVEID, truncate(re.KnownRansomwareCampaignUse)))
	}
	return e, nil
}

// errList keeps the first maxErrors errors and counts the rest.
type errList struct {
	errs    []error
	dropped int
}

func (l *errList) add(err error) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, err)
	} else {
		l.dropped++
	}
}

func (l *errList) list() []error {
	if l.dropped > 0 {
		return append(l.errs, fmt.Errorf("kev: %d more errors not shown", l.dropped))
	}
	return l.errs
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
