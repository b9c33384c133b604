package scan

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigilsec/vigil/internal/analyze"
	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/vuln"
)

// Wire is a whole Report as JSON, for a report made in one process and
// rendered in another (a server scanning what `vigil scan --server`
// inventoried). Report's own JSON leaves out what the output formats
// need but a reader of JSON does not: which package of the inventory
// each finding is about, and the advisories that matched. Wire keeps
// both — each finding names its package by index into packages, and
// carries of each advisory the id, feed and vendor severity the output
// formats read — so that DecodeWire gives back a report every format
// renders as it renders the original.
type Wire struct {
	Subject  Subject             `json:"subject"`
	Distro   *inventory.Distro   `json:"distro,omitempty"`
	Packages []inventory.Package `json:"packages"`
	Findings []WireFinding       `json:"findings"`
	Ignored  []WireFinding       `json:"ignored,omitempty"`
	Skipped  []WireSkip          `json:"skipped,omitempty"`
	Warnings []analyze.Warning   `json:"warnings,omitempty"`
	Coverage *coverage.Coverage  `json:"coverage,omitempty"`
	Database *Database           `json:"database,omitempty"`
	Time     time.Time           `json:"time"`
}

// WireFinding is a Finding with its package's index in Wire.Packages
// (or, for a package the inventory does not hold, the package itself)
// and its advisories in brief.
type WireFinding struct {
	*Finding
	// Pkg hides Finding's package: set only when PackageIndex is not.
	Pkg          *inventory.Package `json:"package,omitempty"`
	PackageIndex *int               `json:"packageIndex,omitempty"`
	Advisories   []WireAdvisory     `json:"advisories"`
}

// WireAdvisory is what the output formats read of a matched advisory.
type WireAdvisory struct {
	ID             string   `json:"id"`
	Aliases        []string `json:"aliases,omitempty"`
	Source         string   `json:"source,omitempty"`
	VendorSeverity string   `json:"vendorSeverity,omitempty"`
}

// WireSkip is a match.Skip with its package's index.
type WireSkip struct {
	match.Skip
	PackageIndex *int `json:"packageIndex,omitempty"`
}

// EncodeWire returns the report in its wire form.
func EncodeWire(r *Report) *Wire {
	index := make(map[*inventory.Package]int, len(r.Packages))
	for i := range r.Packages {
		index[&r.Packages[i]] = i
	}
	w := &Wire{Subject: r.Subject, Distro: r.Distro, Packages: r.Packages, Warnings: r.Warnings,
		Coverage: r.Coverage, Database: r.Database, Time: r.Time, Findings: []WireFinding{}}
	if w.Packages == nil {
		w.Packages = []inventory.Package{}
	}
	finding := func(f *Finding) WireFinding {
		wf := WireFinding{Finding: f, Advisories: []WireAdvisory{}}
		p := f.Pkg
		if p == nil && f.Finding != nil {
			p = f.Finding.Package
		}
		if i, ok := index[p]; ok {
			wf.PackageIndex = &i
		} else {
			wf.Pkg = p
		}
		if f.Finding != nil {
			for _, a := range f.Advisories {
				if a != nil {
					wf.Advisories = append(wf.Advisories, WireAdvisory{ID: a.ID, Aliases: a.Aliases, Source: a.Source, VendorSeverity: a.VendorSeverity})
				}
			}
		}
		return wf
	}
	for _, f := range r.Findings {
		w.Findings = append(w.Findings, finding(f))
	}
	for _, f := range r.Ignored {
		w.Ignored = append(w.Ignored, finding(f))
	}
	for _, s := range r.Skipped {
		ws := WireSkip{Skip: s}
		if i, ok := index[s.Package]; ok {
			ws.PackageIndex = &i
		}
		w.Skipped = append(w.Skipped, ws)
	}
	return w
}

// DecodeWire reads a report in its wire form, linking each finding to
// its package in the inventory.
func DecodeWire(data []byte) (*Report, error) {
	var w Wire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("scan: report: %w", err)
	}
	r := &Report{Subject: w.Subject, Distro: w.Distro, Packages: w.Packages, Warnings: w.Warnings,
		Coverage: w.Coverage, Database: w.Database, Time: w.Time}
	pkg := func(i *int, p *inventory.Package) (*inventory.Package, error) {
		switch {
		case i != nil && (*i < 0 || *i >= len(r.Packages)):
			return nil, fmt.Errorf("scan: report: package index %d out of range (%d packages)", *i, len(r.Packages))
		case i != nil:
			return &r.Packages[*i], nil
		case p != nil:
			return p, nil
		}
		return nil, fmt.Errorf("scan: report: a finding names no package")
	}
	finding := func(wf WireFinding) (*Finding, error) {
		f := wf.Finding
		if f == nil || f.Finding == nil {
			return nil, fmt.Errorf("scan: report: empty finding")
		}
		p, err := pkg(wf.PackageIndex, wf.Pkg)
		if err != nil {
			return nil, err
		}
		f.Pkg, f.Finding.Package = p, p
		f.Advisories = nil
		for _, a := range wf.Advisories {
			f.Advisories = append(f.Advisories, &vuln.Advisory{ID: a.ID, Aliases: a.Aliases, Source: a.Source, VendorSeverity: a.VendorSeverity})
		}
		if len(f.Advisories) == 0 {
			// Every finding comes from at least one advisory; the
			// formats take the first as the finding's source.
			f.Advisories = []*vuln.Advisory{{ID: f.ID, Source: f.Source}}
		}
		return f, nil
	}
	r.Findings = make([]*Finding, 0, len(w.Findings))
	for _, wf := range w.Findings {
		f, err := finding(wf)
		if err != nil {
			return nil, err
		}
		r.Findings = append(r.Findings, f)
	}
	for _, wf := range w.Ignored {
		f, err := finding(wf)
		if err != nil {
			return nil, err
		}
		r.Ignored = append(r.Ignored, f)
	}
	for _, ws := range w.Skipped {
		s := ws.Skip
		if ws.PackageIndex != nil {
			p, err := pkg(ws.PackageIndex, nil)
			if err != nil {
				return nil, err
			}
			s.Package = p
		}
		r.Skipped = append(r.Skipped, s)
	}
	return r, nil
}

// Inventory is what a scan starts from when the inventory was taken
// elsewhere: the image, its distribution, its packages and the analysis'
// warnings, as `vigil scan --format json` has them, and the repository
// whose suppression rules judge its findings, when it has one. It is the
// body of the server's POST /api/v1/scan/inventory.
type Inventory struct {
	Repository string              `json:"repository,omitempty"`
	Subject    Subject             `json:"subject"`
	Distro     *inventory.Distro   `json:"distro,omitempty"`
	Packages   []inventory.Package `json:"packages"`
	Warnings   []analyze.Warning   `json:"warnings,omitempty"`
}
