package store

import (
	"fmt"
	"strings"
	"time"
)

// FindingContext is what a filter may ask of a finding beyond the finding
// itself: its image's tags and push time.
type FindingContext struct {
	Tags     []string
	PushedAt time.Time
}

// Match reports whether a finding passes the filter criteria, with the
// same meaning as the stores' SQL: filters of one field OR together
// (NOT_EQUALS filters AND together), fields AND together, an empty field
// matches everything. It is how suppression rules are applied to findings
// as they are made. Region and account are needed for findingArn filters.
func (fc *FilterCriteria) Match(f *Finding, c FindingContext, region, account string) (bool, error) {
	strs := []struct {
		field   string
		filters []StringFilter
		values  []string
	}{
		{"findingArn", fc.FindingArn, []string{"arn:aws:inspector2:" + region + ":" + account + ":finding/" + f.ID}},
		{"ecrImageRepositoryName", fc.EcrImageRepositoryName, []string{f.Repository}},
		{"ecrImageTags", fc.EcrImageTags, c.Tags},
		{"ecrImageHash", fc.EcrImageHash, []string{f.ImageDigest}},
		{"severity", fc.Severity, []string{f.Severity}},
		{"findingStatus", fc.FindingStatus, []string{f.Status}},
		{"fixAvailable", fc.FixAvailable, []string{f.FixAvailable}},
		{"exploitAvailable", fc.ExploitAvailable, []string{f.ExploitAvailable}},
		{"vulnerabilityId", fc.VulnerabilityID, []string{f.VulnerabilityID}},
		{"title", fc.Title, []string{f.Title}},
	}
	for _, s := range strs {
		ok, err := matchStrings(s.field, s.filters, s.values)
		if err != nil || !ok {
			return false, err
		}
	}
	if len(fc.VulnerablePackages) > 0 {
		any := false
		for i, pf := range fc.VulnerablePackages {
			ok := true
			for _, part := range []struct {
				name string
				f    *StringFilter
				v    string
			}{
				{"name", pf.Name, f.PackageName}, {"version", pf.Version, f.PackageVersion},
				{"filePath", pf.FilePath, f.FilePath}, {"sourceLayerHash", pf.SourceLayerHash, f.LayerDiffID},
			} {
				if part.f == nil {
					continue
				}
				m, err := matchStrings(fmt.Sprintf("vulnerablePackages[%d].%s", i, part.name), []StringFilter{*part.f}, []string{part.v})
				if err != nil {
					return false, err
				}
				ok = ok && m
			}
			any = any || ok
		}
		if !any {
			return false, nil
		}
	}
	nums := []struct {
		filters []NumberFilter
		value   *float64
	}{{fc.EpssScore, f.EPSS}, {fc.InspectorScore, f.Score}}
	for _, n := range nums {
		if len(n.filters) == 0 {
			continue
		}
		if n.value == nil {
			return false, nil
		}
		hit := false
		for _, r := range n.filters {
			if (r.LowerInclusive == nil || *n.value >= *r.LowerInclusive) && (r.UpperInclusive == nil || *n.value <= *r.UpperInclusive) {
				hit = true
			}
		}
		if !hit {
			return false, nil
		}
	}
	dates := []struct {
		filters []DateFilter
		value   time.Time
	}{
		{fc.FirstObservedAt, f.FirstObservedAt}, {fc.LastObservedAt, f.LastObservedAt},
		{fc.UpdatedAt, f.UpdatedAt}, {fc.EcrImagePushedAt, c.PushedAt},
	}
	for _, d := range dates {
		if len(d.filters) == 0 {
			continue
		}
		hit := false
		for _, r := range d.filters {
			if (r.StartInclusive == nil || !d.value.Before(*r.StartInclusive)) && (r.EndInclusive == nil || !d.value.After(*r.EndInclusive)) {
				hit = true
			}
		}
		if !hit {
			return false, nil
		}
	}
	return true, nil
}

// matchStrings applies one field's string filters to the field's values
// (several for tags: a filter matches when any value does).
func matchStrings(field string, filters []StringFilter, values []string) (bool, error) {
	if len(filters) == 0 {
		return true, nil
	}
	positive, matched := false, false
	for _, f := range filters {
		if f.Value == "" {
			return false, fmt.Errorf("%w: filter %s: empty value", ErrInvalid, field)
		}
		switch f.Comparison {
		case "EQUALS", "PREFIX":
			positive = true
			for _, v := range values {
				if (f.Comparison == "EQUALS" && v == f.Value) || (f.Comparison == "PREFIX" && strings.HasPrefix(v, f.Value)) {
					matched = true
				}
			}
		case "NOT_EQUALS":
			for _, v := range values {
				if v == f.Value {
					return false, nil
				}
			}
		default:
			return false, fmt.Errorf("%w: filter %s: unknown comparison %q (want EQUALS, PREFIX or NOT_EQUALS)", ErrInvalid, field, f.Comparison)
		}
	}
	return !positive || matched, nil
}
