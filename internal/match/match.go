// Package match finds the known vulnerabilities of an inventory: each
// package is looked up in its ecosystem's advisories — a distribution's
// packages in that distribution's advisories only, by source package where
// the distribution tracks source packages — and its version is compared
// with each advisory's ranges by the ecosystem's own rules. Advisories that
// are the same vulnerability under different ids (aliases) make one
// finding per package.
package match

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/version"
	"github.com/vigilsec/vigil/internal/vuln"
)

// Advisories is where the matcher looks advisories up: the vulnerability
// database.
type Advisories interface {
	Affecting(ctx context.Context, ecosystem, name string) ([]*vuln.Advisory, error)
}

// FixState says whether the vulnerability can be fixed by an upgrade.
type FixState string

const (
	Fixed      FixState = "fixed"
	NotFixed   FixState = "not-fixed"
	WillNotFix FixState = "will-not-fix"
)

// Finding is one vulnerability in one package.
type Finding struct {
	// ID is the id the finding is reported under: the CVE when the
	// vulnerability has exactly one, else the first matched advisory's.
	ID string `json:"id"`
	// Aliases are the vulnerability's other ids, sorted.
	Aliases []string `json:"aliases,omitempty"`
	// Related are advisories about this vulnerability that are not the
	// same record: a DSA that fixed it, an ALSA naming it.
	Related []string `json:"related,omitempty"`
	// Advisories are the records that matched.
	Advisories []*vuln.Advisory   `json:"-"`
	Package    *inventory.Package `json:"-"`
	// Ecosystem is the advisories' ecosystem ("Debian:12", "Go");
	// Version the version compared (a Debian package's source version).
	Ecosystem string   `json:"ecosystem"`
	Version   string   `json:"version"`
	Fix       FixState `json:"fix"`
	// FixedVersion is the version that fixes every matched advisory, when
	// there is one.
	FixedVersion string `json:"fixedVersion,omitempty"`
	// Uncertain is set, with the reason, when a version could not be
	// compared: the finding is reported rather than silently dropped.
	Uncertain string `json:"uncertain,omitempty"`
	// Malicious says the package itself is malware (an OpenSSF
	// malicious-packages record, id MAL-…), not a package with a
	// vulnerability: such a finding is never merged with vulnerability
	// findings, and its ID is the MAL- record's.
	Malicious bool `json:"malicious,omitempty"`
}

// IsMalicious reports whether an advisory is an OpenSSF malicious-package
// record (OSV id prefix MAL-).
func IsMalicious(a *vuln.Advisory) bool { return strings.HasPrefix(a.ID, "MAL-") }

// Skip is a package that could not be matched, and why.
type Skip struct {
	Package *inventory.Package `json:"-"`
	PURL    string             `json:"purl"`
	Reason  string             `json:"reason"`
}

// Result is the outcome of matching an inventory.
type Result struct {
	Findings []*Finding `json:"findings"`
	Skipped  []Skip     `json:"skipped,omitempty"`
}

// Match looks up every package of inv in db.
func Match(ctx context.Context, db Advisories, inv *inventory.Inventory) (*Result, error) {
	res := &Result{}
	comparers := map[string]comparer{}
	for i := range inv.Packages {
		p := &inv.Packages[i]
		qs, why := queries(p, inv.Distro)
		if qs == nil {
			res.Skipped = append(res.Skipped, Skip{Package: p, PURL: p.PURL, Reason: why})
			continue
		}
		var hits []hit
		seen := map[string]bool{}
		for _, q := range qs {
			cmp, ok := comparers[q.ecosystem]
			if !ok {
				c, err := version.For(q.ecosystem)
				if err != nil {
					return nil, fmt.Errorf("match: %w", err)
				}
				cmp, comparers[q.ecosystem] = c, c
			}
			advs, err := db.Affecting(ctx, q.ecosystem, q.name)
			if err != nil {
				return nil, err
			}
			for _, a := range advs {
				if seen[a.ID] {
					continue
				}
				h, ok := check(a, q, cmp)
				if ok {
					seen[a.ID] = true
					hits = append(hits, h)
				}
			}
		}
		res.Findings = append(res.Findings, group(p, hits)...)
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.Package.PURL != b.Package.PURL {
			return a.Package.PURL < b.Package.PURL
		}
		if a.Package.Path != b.Package.Path {
			return a.Package.Path < b.Package.Path
		}
		return a.ID < b.ID
	})
	return res, nil
}

// hit is one advisory that affects a package.
type hit struct {
	adv       *vuln.Advisory
	q         query
	cmp       comparer
	fixed     string
	status    vuln.Status
	uncertain string
}

// check evaluates every affected entry of a for the queried package.
func check(a *vuln.Advisory, q query, cmp comparer) (hit, bool) {
	h := hit{adv: a, q: q, cmp: cmp}
	affected := false
	for i := range a.Affected {
		af := &a.Affected[i]
		if af.Package.Ecosystem != q.ecosystem || !sameName(q.ecosystem, af.Package.Name, q.name) {
			continue
		}
		v, err := evaluate(af, q.version, cmp)
		if err != nil {
			// Never let "cannot compare" read as "not affected".
			affected = true
			h.uncertain = fmt.Sprintf("version %s could not be compared with %s's ranges: %v", q.version, a.ID, err)
			continue
		}
		if !v.affected {
			continue
		}
		affected = true
		if v.fixed != "" && (h.fixed == "" || less(cmp, h.fixed, v.fixed)) {
			h.fixed = v.fixed
		}
		if v.status == vuln.WillNotFix || h.status == "" {
			h.status = v.status
		}
	}
	return h, affected
}

func sameName(ecosystem, a, b string) bool {
	if a == b {
		return true
	}
	switch strings.SplitN(ecosystem, ":", 2)[0] {
	case "PyPI":
		return inventory.NormalizePyPI(a) == inventory.NormalizePyPI(b)
	case "NuGet", "Packagist":
		return strings.EqualFold(a, b)
	}
	return false
}

// group merges the hits of one package into findings: advisories that
// share an id (their own or an alias) are one vulnerability, and a Debian
// security advisory (DSA, DLA) joins the finding of a CVE it fixed.
func group(p *inventory.Package, hits []hit) []*Finding {
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	// Malicious-package records and vulnerability records index their
	// ids apart, so that an alias they share never merges a malware
	// report into a vulnerability.
	mowner := map[string]int{}
	for i, h := range hits {
		own := owner
		if IsMalicious(h.adv) {
			own = mowner
		}
		for _, id := range h.adv.IDs() {
			if j, ok := own[id]; ok {
				parent[find(i)] = find(j)
			} else {
				own[id] = i
			}
		}
	}
	for i, h := range hits {
		if !isDistroNotice(h.adv) {
			continue
		}
		for _, id := range h.adv.Related {
			if j, ok := owner[id]; ok && !isDistroNotice(hits[j].adv) {
				parent[find(i)] = find(j)
				break
			}
		}
	}
	groups := map[int][]hit{}
	var order []int
	for i := range hits {
		r := find(i)
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], hits[i])
	}
	var out []*Finding
	for _, r := range order {
		out = append(out, finding(p, groups[r]))
	}
	return out
}

// isDistroNotice reports advisories that announce a distribution's fixes
// for CVEs rather than describe a vulnerability of their own.
func isDistroNotice(a *vuln.Advisory) bool {
	return strings.HasPrefix(a.ID, "DSA-") || strings.HasPrefix(a.ID, "DLA-") || strings.HasPrefix(a.ID, "DTSA-")
}

func finding(p *inventory.Package, hs []hit) *Finding {
	f := &Finding{Package: p, Ecosystem: hs[0].q.ecosystem, Version: hs[0].q.version}
	ids := map[string]bool{}
	related := map[string]bool{}
	var cves []string
	for _, h := range hs {
		f.Advisories = append(f.Advisories, h.adv)
		notice := isDistroNotice(h.adv) && len(hs) > 1
		for _, id := range h.adv.IDs() {
			if notice {
				related[id] = true
				continue
			}
			if !ids[id] && strings.HasPrefix(id, "CVE-") {
				cves = append(cves, id)
			}
			ids[id] = true
		}
		for _, id := range h.adv.Related {
			related[id] = true
		}
		if h.uncertain != "" && f.Uncertain == "" {
			f.Uncertain = h.uncertain
		}
	}
	f.ID = hs[0].adv.ID
	for _, h := range hs {
		if IsMalicious(h.adv) {
			f.Malicious, f.ID = true, h.adv.ID
			break
		}
	}
	if len(cves) == 1 && !f.Malicious {
		f.ID = cves[0]
	}
	for id := range ids {
		if id != f.ID {
			f.Aliases = append(f.Aliases, id)
		}
	}
	for id := range related {
		if !ids[id] && id != f.ID {
			f.Related = append(f.Related, id)
		}
	}
	sort.Strings(f.Aliases)
	sort.Strings(f.Related)
	f.Fix, f.FixedVersion = fixOf(hs)
	return f
}

// fixOf decides the finding's fix: the version that fixes every merged
// advisory (the greatest of their fixes), or, when none has a fix, whether
// the vendor will not fix it.
func fixOf(hs []hit) (FixState, string) {
	fixed := ""
	for _, h := range hs {
		if h.fixed != "" && (fixed == "" || less(h.cmp, fixed, h.fixed)) {
			fixed = h.fixed
		}
	}
	if fixed != "" {
		return Fixed, fixed
	}
	if slices.ContainsFunc(hs, func(h hit) bool { return h.status == vuln.WillNotFix }) {
		return WillNotFix, ""
	}
	return NotFixed, ""
}
