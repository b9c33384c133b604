package lifecyclepolicy

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

// The examples of "Examples of lifecycle policies in Amazon ECR"
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_examples.html),
// with the outcome the page gives for each.
const exampleRules = `{"rules": [
  {"rulePriority": 1, "description": "Rule 1", "selection": {"tagStatus": "tagged", "tagPrefixList": ["prod"],
   "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}},
  {"rulePriority": 2, "description": "Rule 2", "selection": {"tagStatus": "tagged", "tagPrefixList": ["beta"],
   "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}`

func TestLifecyclePolicyAWSExamples(t *testing.T) {
	for _, tc := range []struct {
		name, policy string
		images       []Image
		want         []string // digests expired, oldest first
		rules        []int
	}{
		{
			// Example A: Image A is expired (Rule 1); Rule 2 would expire
			// Image B too but Rule 1 keeps it.
			name: "multiple rules, example A", policy: exampleRules,
			images: []Image{
				{Digest: "A", Tags: []string{"beta-1", "prod-1"}, PushedAt: daysAgo(10)},
				{Digest: "B", Tags: []string{"beta-2", "prod-2"}, PushedAt: daysAgo(9)},
				{Digest: "C", Tags: []string{"beta-3"}, PushedAt: daysAgo(8)},
			},
			want: []string{"A"}, rules: []int{1},
		},
		{
			// Example B: Images A and B are expired.
			name: "multiple rules, example B", policy: exampleRules,
			images: []Image{
				{Digest: "A", Tags: []string{"beta-1", "prod-1"}, PushedAt: daysAgo(10)},
				{Digest: "B", Tags: []string{"beta-2", "prod-2"}, PushedAt: daysAgo(9)},
				{Digest: "C", Tags: []string{"beta-3", "prod-3"}, PushedAt: daysAgo(8)},
			},
			want: []string{"A", "B"}, rules: []int{1, 1},
		},
		{
			// "Filtering on image age": prod* older than 14 days.
			name: "image age",
			policy: `{"rules": [{"rulePriority": 1, "description": "Expire images older than 14 days", "selection": {
			  "tagStatus": "tagged", "tagPatternList": ["prod*"], "countType": "sinceImagePushed", "countUnit": "days",
			  "countNumber": 14}, "action": {"type": "expire"}}]}`,
			images: []Image{
				{Digest: "old-prod", Tags: []string{"prod-1"}, PushedAt: daysAgo(20)},
				{Digest: "old-beta", Tags: []string{"beta-1"}, PushedAt: daysAgo(20)},
				{Digest: "old-untagged", PushedAt: daysAgo(30)},
				{Digest: "new-prod", Tags: []string{"prod-2"}, PushedAt: daysAgo(3)},
			},
			want: []string{"old-prod"}, rules: []int{1},
		},
		{
			// "Filtering on image count": keep one untagged image.
			name: "image count",
			policy: `{"rules": [{"rulePriority": 1, "description": "Keep only one untagged image, expire all others",
			  "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
			  "action": {"type": "expire"}}]}`,
			images: []Image{
				{Digest: "u1", PushedAt: daysAgo(3)},
				{Digest: "u2", PushedAt: daysAgo(2)},
				{Digest: "t", Tags: []string{"v1"}, PushedAt: daysAgo(5)},
				{Digest: "u3", PushedAt: daysAgo(1)},
			},
			want: []string{"u1", "u2"}, rules: []int{1, 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			got := p.Preview(tc.images, now)
			var digests []string
			var rules []int
			for _, e := range got {
				digests = append(digests, e.Digest)
				rules = append(rules, e.RulePriority)
			}
			if strings.Join(digests, ",") != strings.Join(tc.want, ",") || len(rules) != len(tc.rules) {
				t.Fatalf("expired %v (rules %v), want %v", digests, rules, tc.want)
			}
			for i := range rules {
				if rules[i] != tc.rules[i] {
					t.Errorf("%s expired by rule %d, want %d", digests[i], rules[i], tc.rules[i])
				}
			}
		})
	}
}

func TestLifecyclePolicyInvalid(t *testing.T) {
	rule := func(sel string, extra ...string) string {
		prio := "1"
		if len(extra) > 0 {
			prio = extra[0]
		}
		return `{"rulePriority": ` + prio + `, "selection": ` + sel + `, "action": {"type": "expire"}}`
	}
	count := `"countType": "imageCountMoreThan", "countNumber": 1`
	for _, tc := range []struct{ policy, want string }{
		{`{"rules": []}`, "no rules"},
		{`{"rules": [` + rule(`{"tagStatus": "tagged", `+count+`}`) + `]}`, "exactly one of tagPrefixList"},
		{`{"rules": [` + rule(`{"tagStatus": "untagged", "tagPrefixList": ["a"], `+count+`}`) + `]}`, "takes no tagPrefixList"},
		{`{"rules": [` + rule(`{"tagStatus": "all", `+count+`}`) + `]}`, `tagStatus "all"`},
		{`{"rules": [` + rule(`{"tagStatus": "any", `+count+`}`, "1") + `,` + rule(`{"tagStatus": "untagged", `+count+`}`, "2") + `]}`, "highest rulePriority"},
		{`{"rules": [` + rule(`{"tagStatus": "untagged", `+count+`}`) + `,` + rule(`{"tagStatus": "untagged", `+count+`}`) + `]}`, "not unique"},
		{`{"rules": [` + rule(`{"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 3}`) + `]}`, "countUnit days"},
		{`{"rules": [` + rule(`{"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 0}`) + `]}`, "countNumber"},
		{`{"rules": [` + rule(`{"tagStatus": "tagged", "tagPatternList": ["a*b*c*d*e*"], `+count+`}`) + `]}`, "at most 4 wildcards"},
		{`{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", ` + count + `}, "action": {"type": "transition"}}]}`, "not expire"},
		{`{"rules": [` + rule(`{"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1, "storage": 1}`) + `]}`, "unknown field"},
	} {
		_, err := Parse([]byte(tc.policy))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", tc.policy, err, tc.want)
		}
	}
}
