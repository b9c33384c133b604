package match

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/vulndb/nvd"
)

// Holdings says what the vulnerability database holds: the ecosystems it
// has advisories for, and from which feeds.
type Holdings interface {
	Ecosystems(ctx context.Context) ([]string, error)
	EcosystemSources(ctx context.Context, ecosystem string) ([]string, error)
}

// Cover judges, for each distribution release and language ecosystem the
// packages of inv belong to, whether h holds advisories for it: the same
// lookups Match makes, asked of the database as it is, so that a release
// or ecosystem whose feed was never imported reads as not covered rather
// than as free of vulnerabilities. Packages Match skips for want of a
// version, and language packages matched through their OS package, belong
// to no scope.
func Cover(ctx context.Context, h Holdings, inv *inventory.Inventory) ([]coverage.Scope, error) {
	type key struct {
		name, ecosystem string
		os              bool
	}
	counts := map[key]int{}
	var order []key
	for i := range inv.Packages {
		name, eco, os, ok := scopeOf(&inv.Packages[i], inv.Distro)
		if !ok {
			continue
		}
		k := key{name, eco, os}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	missing := missingScope(inv)
	if len(order) == 0 && missing == nil {
		return []coverage.Scope{}, nil
	}
	held, err := h.Ecosystems(ctx)
	if err != nil {
		return nil, fmt.Errorf("match: coverage: %w", err)
	}
	has := map[string]bool{}
	for _, e := range held {
		has[e] = true
	}
	// OS scopes first, then by name: the order reports list them in.
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].os != order[j].os {
			return order[i].os
		}
		return order[i].name < order[j].name
	})
	out := make([]coverage.Scope, 0, len(order)+1)
	if missing != nil {
		out = append(out, *missing)
	}
	for _, k := range order {
		s := coverage.Scope{Name: k.name, Ecosystem: k.ecosystem, OS: k.os, Packages: counts[k]}
		if d := inv.Distro; k.os {
			if e, ok := streamHeld(d, has); ok {
				k.ecosystem = e
			}
		}
		switch {
		case k.ecosystem == "" && k.os:
			s.Note = "no advisory feed (Vigil knows none for this distribution)"
		case k.ecosystem == "":
			s.Note = "no advisory source in Vigil"
		case !has[k.ecosystem] && k.os:
			s.Note = "no advisory feed" + others(k.ecosystem, held)
		case !has[k.ecosystem]:
			s.Note = "no feed"
		default:
			s.Covered = true
			if s.Sources, err = h.EcosystemSources(ctx, k.ecosystem); err != nil {
				return nil, fmt.Errorf("match: coverage: %w", err)
			}
			s.Note = limits(k.ecosystem, s.Sources)
		}
		out = append(out, s)
	}
	return out, nil
}

// missingScope is the scope of a distribution whose package database the
// image lacks (see inventory.Distro.MissingDatabase), nil when it has one
// or some OS package was found: not covered, with no packages, whatever
// advisories the database holds.
func missingScope(inv *inventory.Inventory) *coverage.Scope {
	d := inv.Distro
	if d == nil || d.MissingDatabase == "" {
		return nil
	}
	for i := range inv.Packages {
		if inv.Packages[i].Type.IsOS() {
			return nil
		}
	}
	s := &coverage.Scope{Name: distroName(d), OS: true, MissingDatabase: d.MissingDatabase,
		Note: "package database missing (" + d.MissingDatabase + ")"}
	for _, t := range []inventory.Type{inventory.Deb, inventory.APK, inventory.RPM} {
		if eco, ok := distroEcosystem(t, d); ok {
			s.Ecosystem = eco
			break
		}
	}
	return s
}

// scopeOf names the scope of a package and its advisories' ecosystem
// (empty when Vigil knows none); ok is false for packages that belong to
// no scope.
func scopeOf(p *inventory.Package, d *inventory.Distro) (name, ecosystem string, os, ok bool) {
	if p.Type.IsOS() {
		eco, known := distroEcosystem(p.Type, d)
		if !known {
			eco = ""
		}
		return distroName(d), eco, true, true
	}
	if p.Metadata[inventory.MetaOwner] != "" {
		return "", "", false, false
	}
	if p.Type == inventory.Go {
		if p.Version == "" || p.Version == "(devel)" {
			return "", "", false, false
		}
		return "Go", "Go", false, true
	}
	if p.Type == inventory.Generic {
		if len(p.CPEs) == 0 || p.Version == "" {
			return "", "", false, false
		}
		return "programs (NVD CPE)", nvd.Ecosystem, false, true
	}
	eco, known := languageEcosystems[p.Type]
	if !known {
		return string(p.Type), "", false, true
	}
	if p.Version == "" {
		return "", "", false, false
	}
	return eco, eco, false, true
}

// distroName is how reports name a release: "alpine 3.20", "debian 12",
// "ubuntu 22.04".
func distroName(d *inventory.Distro) string {
	if d == nil || d.ID == "" {
		return "unknown distribution"
	}
	if d.VersionID == "" {
		return d.ID
	}
	major, rest, _ := strings.Cut(d.VersionID, ".")
	minor, _, _ := strings.Cut(rest, ".")
	switch d.ID {
	case "alpine":
		if minor != "" {
			return d.ID + " " + major + "." + minor
		}
	case "ubuntu":
		return d.ID + " " + d.VersionID
	}
	return d.ID + " " + major
}

// others says which releases of the same distribution the database does
// hold: " (have v3.3–v3.11)", " (none for Alpine)".
func others(ecosystem string, held []string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	var rel []string
	for _, e := range held {
		if r, ok := strings.CutPrefix(e, base+":"); ok {
			rel = append(rel, r)
		}
	}
	if len(rel) == 0 {
		return " (none for " + base + ")"
	}
	sort.Slice(rel, func(i, j int) bool { return releaseLess(rel[i], rel[j]) })
	if len(rel) > 2 && consecutive(rel) {
		return " (have " + rel[0] + "–" + rel[len(rel)-1] + ")"
	}
	if len(rel) > 6 {
		return " (have " + strings.Join(rel[:3], ", ") + " … " + rel[len(rel)-1] + ")"
	}
	return " (have " + strings.Join(rel, ", ") + ")"
}

// numbers are the numbers in a release name: "v3.11" → [3 11].
func numbers(s string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		n, err := strconv.Atoi(f)
		if err != nil {
			n = 0
		}
		out = append(out, n)
	}
	return out
}

func releaseLess(a, b string) bool {
	na, nb := numbers(a), numbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	return a < b
}

// consecutive reports releases that differ only in their last number,
// one apart: v3.3, v3.4, …, v3.11.
func consecutive(rel []string) bool {
	for i := 1; i < len(rel); i++ {
		a, b := numbers(rel[i-1]), numbers(rel[i])
		if len(a) == 0 || len(a) != len(b) {
			return false
		}
		for j := 0; j < len(a)-1; j++ {
			if a[j] != b[j] {
				return false
			}
		}
		if b[len(b)-1] != a[len(a)-1]+1 {
			return false
		}
	}
	return true
}

// limits says what a covered ecosystem's feeds leave out.
func limits(ecosystem string, sources []string) string {
	if !strings.HasPrefix(ecosystem, "Debian:") || len(sources) == 0 {
		return ""
	}
	for _, s := range sources {
		if s != "debian-dsa" && s != "debian-dla" {
			return ""
		}
	}
	return "DSA/DLA lists only (announced fixes; no tracker data on vulnerabilities without one)"
}
