// Package lifecyclepolicy reads ECR lifecycle policy JSON and says which
// images of a repository a policy expires, with ECR's evaluation rules:
// rules apply in rulePriority order; each counts every image its selection
// matches, newest first, and marks those past its count (or older than its
// age); a marked image is expired by that rule unless a rule of higher
// priority selected it (which then keeps it), so an image is expired by
// exactly one rule or none.
package lifecyclepolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/mutability"
)

// Values of a rule's fields.
const (
	Tagged   = "tagged"
	Untagged = "untagged"
	Any      = "any"

	ImageCountMoreThan = "imageCountMoreThan"
	SinceImagePushed   = "sinceImagePushed"

	Days   = "days"
	Expire = "expire"
)

// maxWildcards is ECR's limit of wildcards in a tagPatternList entry.
const maxWildcards = 4

// Policy is a lifecycle policy's text.
type Policy struct {
	Rules []Rule `json:"rules"`
}

// Rule is one rule of a policy.
type Rule struct {
	RulePriority int       `json:"rulePriority"`
	Description  string    `json:"description,omitempty"`
	Selection    Selection `json:"selection"`
	Action       Action    `json:"action"`
}

// Selection chooses the images a rule counts.
type Selection struct {
	TagStatus      string   `json:"tagStatus"`
	TagPrefixList  []string `json:"tagPrefixList,omitempty"`
	TagPatternList []string `json:"tagPatternList,omitempty"`
	CountType      string   `json:"countType"`
	CountUnit      string   `json:"countUnit,omitempty"`
	CountNumber    int      `json:"countNumber"`
}

// Action is what a rule does to the images it marks.
type Action struct {
	Type string `json:"type"`
}

// Parse reads and validates a policy's text, refusing unknown fields and
// what ECR refuses, with the rule at fault named.
func Parse(text []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("lifecycle policy: %w", err)
	}
	if dec.More() {
		return nil, errors.New("lifecycle policy: text after the policy")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks a policy as ECR does before it is associated with a
// repository.
func (p *Policy) Validate() error {
	if len(p.Rules) == 0 {
		return errors.New("lifecycle policy: no rules")
	}
	seen := map[int]bool{}
	maxPriority, anyPriority := 0, 0
	for i, r := range p.Rules {
		at := fmt.Sprintf("lifecycle policy: rules[%d] (rulePriority %d)", i, r.RulePriority)
		if r.RulePriority < 1 {
			return fmt.Errorf("%s: rulePriority must be a positive integer", at)
		}
		if seen[r.RulePriority] {
			return fmt.Errorf("%s: rulePriority is not unique", at)
		}
		seen[r.RulePriority] = true
		maxPriority = max(maxPriority, r.RulePriority)
		s := r.Selection
		switch s.TagStatus {
		case Tagged:
			if (len(s.TagPrefixList) == 0) == (len(s.TagPatternList) == 0) {
				return fmt.Errorf("%s: tagStatus tagged needs exactly one of tagPrefixList and tagPatternList", at)
			}
		case Untagged, Any:
			if len(s.TagPrefixList) > 0 || len(s.TagPatternList) > 0 {
				return fmt.Errorf("%s: tagStatus %s takes no tagPrefixList or tagPatternList", at, s.TagStatus)
			}
			if s.TagStatus == Any {
				anyPriority = r.RulePriority
			}
		default:
			return fmt.Errorf("%s: tagStatus %q is not tagged, untagged or any", at, s.TagStatus)
		}
		for _, pre := range s.TagPrefixList {
			if pre == "" {
				return fmt.Errorf("%s: an empty tagPrefixList entry", at)
			}
		}
		for _, pat := range s.TagPatternList {
			if pat == "" || strings.Count(pat, "*") > maxWildcards {
				return fmt.Errorf("%s: tagPatternList entry %q must be a tag with at most %d wildcards", at, pat, maxWildcards)
			}
		}
		switch s.CountType {
		case ImageCountMoreThan:
			if s.CountUnit != "" {
				return fmt.Errorf("%s: countType imageCountMoreThan takes no countUnit", at)
			}
		case SinceImagePushed:
			if s.CountUnit != Days {
				return fmt.Errorf("%s: countType sinceImagePushed needs countUnit days, not %q", at, s.CountUnit)
			}
		default:
			return fmt.Errorf("%s: countType %q is not imageCountMoreThan or sinceImagePushed", at, s.CountType)
		}
		if s.CountNumber < 1 {
			return fmt.Errorf("%s: countNumber must be a positive integer", at)
		}
		if r.Action.Type != Expire {
			return fmt.Errorf("%s: action.type %q is not expire", at, r.Action.Type)
		}
	}
	if anyPriority != 0 && anyPriority != maxPriority {
		return fmt.Errorf("lifecycle policy: the rule with tagStatus any (rulePriority %d) must have the highest rulePriority (%d)", anyPriority, maxPriority)
	}
	return nil
}

// Image is what a policy looks at.
type Image struct {
	Digest   string
	Tags     []string
	PushedAt time.Time
}

// Expired is an image a policy expires, and the rule that does.
type Expired struct {
	Image
	RulePriority int
}

// selects reports whether the rule's selection takes im: every prefix, or
// every pattern, must match one of its tags.
func (s Selection) selects(im Image) bool {
	switch s.TagStatus {
	case Any:
		return true
	case Untagged:
		return len(im.Tags) == 0
	}
	if len(im.Tags) == 0 {
		return false
	}
	for _, pre := range s.TagPrefixList {
		if !anyTag(im.Tags, func(t string) bool { return strings.HasPrefix(t, pre) }) {
			return false
		}
	}
	for _, pat := range s.TagPatternList {
		if !anyTag(im.Tags, func(t string) bool { return mutability.Match(pat, t) }) {
			return false
		}
	}
	return true
}

func anyTag(tags []string, f func(string) bool) bool {
	for _, t := range tags {
		if f(t) {
			return true
		}
	}
	return false
}

// Preview returns the images the policy expires at now, oldest first.
func (p *Policy) Preview(images []Image, now time.Time) []Expired {
	rules := append([]Rule(nil), p.Rules...)
	sort.Slice(rules, func(i, j int) bool { return rules[i].RulePriority < rules[j].RulePriority })
	byAge := append([]Image(nil), images...)
	// Newest first; the digest breaks ties so that the answer is stable.
	sort.Slice(byAge, func(i, j int) bool {
		if !byAge[i].PushedAt.Equal(byAge[j].PushedAt) {
			return byAge[i].PushedAt.After(byAge[j].PushedAt)
		}
		return byAge[i].Digest > byAge[j].Digest
	})
	expiredBy := map[string]int{}
	selected := map[string]bool{} // by a rule already applied
	for _, r := range rules {
		var matched []Image
		for _, im := range byAge {
			if r.Selection.selects(im) {
				matched = append(matched, im)
			}
		}
		for i, im := range matched {
			marked := false
			switch r.Selection.CountType {
			case ImageCountMoreThan:
				marked = i >= r.Selection.CountNumber
			case SinceImagePushed:
				marked = now.Sub(im.PushedAt) > time.Duration(r.Selection.CountNumber)*24*time.Hour
			}
			if marked && !selected[im.Digest] {
				expiredBy[im.Digest] = r.RulePriority
			}
		}
		for _, im := range matched {
			selected[im.Digest] = true
		}
	}
	var out []Expired
	for i := len(byAge) - 1; i >= 0; i-- {
		if prio, ok := expiredBy[byAge[i].Digest]; ok {
			out = append(out, Expired{Image: byAge[i], RulePriority: prio})
		}
	}
	return out
}
