// Package mutability decides whether a repository's tag may be moved to
// another manifest, with the shapes of ECR's PutImageTagMutability:
// MUTABLE (every tag may move), IMMUTABLE (none may), and the _WITH_EXCLUSION
// variants whose WILDCARD filters name the tags that take the opposite rule.
package mutability

import (
	"fmt"
	"regexp"
	"strings"
)

// The settings of imageTagMutability.
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// Settings lists the valid values of imageTagMutability.
var Settings = []string{Mutable, Immutable, ImmutableWithExclusion, MutableWithExclusion}

// FilterWildcard is the only filterType ECR defines.
const FilterWildcard = "WILDCARD"

// MaxFilters is ECR's limit on imageTagMutabilityExclusionFilters.
const MaxFilters = 5

// filterValue is ECR's pattern for a filter.
var filterValue = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)

// Filter is an ImageTagMutabilityExclusionFilter: filter is a tag in which
// '*' matches any run of characters (including none).
type Filter struct {
	Filter     string `json:"filter"`
	FilterType string `json:"filterType"`
}

// Setting is a repository's tag mutability. The zero Setting is MUTABLE.
type Setting struct {
	Mutability string   `json:"imageTagMutability"`
	Filters    []Filter `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

// Validate refuses what ECR refuses: an unknown setting, filters on a
// setting without exclusion, none on one with, more than MaxFilters, or a
// filter that is not a WILDCARD of ECR's pattern.
func (s Setting) Validate() error {
	switch s.Mutability {
	case Mutable, Immutable:
		if len(s.Filters) > 0 {
			return fmt.Errorf("imageTagMutabilityExclusionFilters are only allowed with %s or %s, not %s",
				ImmutableWithExclusion, MutableWithExclusion, s.Mutability)
		}
		return nil
	case ImmutableWithExclusion, MutableWithExclusion:
		if len(s.Filters) == 0 {
			return fmt.Errorf("%s needs at least one of imageTagMutabilityExclusionFilters", s.Mutability)
		}
	default:
		return fmt.Errorf("imageTagMutability %q is not one of %s", s.Mutability, strings.Join(Settings, ", "))
	}
	if len(s.Filters) > MaxFilters {
		return fmt.Errorf("imageTagMutabilityExclusionFilters has %d filters; at most %d are allowed", len(s.Filters), MaxFilters)
	}
	for i, f := range s.Filters {
		if f.FilterType != FilterWildcard {
			return fmt.Errorf("imageTagMutabilityExclusionFilters[%d].filterType %q is not %s", i, f.FilterType, FilterWildcard)
		}
		if !filterValue.MatchString(f.Filter) {
			return fmt.Errorf("imageTagMutabilityExclusionFilters[%d].filter %q does not match %s", i, f.Filter, filterValue)
		}
	}
	return nil
}

// Immutable reports whether tag, once it names a manifest, may not be
// moved to another.
func (s Setting) Immutable(tag string) bool {
	switch s.Mutability {
	case Immutable:
		return true
	case ImmutableWithExclusion:
		return !s.excluded(tag)
	case MutableWithExclusion:
		return s.excluded(tag)
	}
	return false
}

func (s Setting) excluded(tag string) bool {
	for _, f := range s.Filters {
		if f.FilterType == FilterWildcard && Match(f.Filter, tag) {
			return true
		}
	}
	return false
}

// Match reports whether tag matches the wildcard pattern, in which '*'
// matches any run of characters and everything else itself.
func Match(pattern, tag string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == tag
	}
	if !strings.HasPrefix(tag, parts[0]) {
		return false
	}
	tag = tag[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(tag, p)
		if i < 0 {
			return false
		}
		tag = tag[i+len(p):]
	}
	return len(tag) >= len(last) && strings.HasSuffix(tag, last)
}
