package pattern_test

import (
	"errors"
	"fmt"

	"github.com/vigilsec/vigil/internal/events/pattern"
)

const finding = `{
  "version": "0",
  "detail-type": "Inspector2 Finding",
  "source": "aws.inspector2",
  "detail": {
    "severity": "HIGH",
    "inspectorScore": 7.5,
    "status": "ACTIVE",
    "resources": [{"details": {"awsEcrContainerImage": {"repositoryName": "team/app", "imageTags": ["v1", "latest"]}}}]
  }
}`

func ExampleCompile() {
	p, err := pattern.Compile([]byte(`{
	  "source": ["aws.inspector2"],
	  "detail": {
	    "severity": ["HIGH", "CRITICAL"],
	    "inspectorScore": [{"numeric": [">=", 7]}]
	  }
	}`))
	if err != nil {
		panic(err)
	}
	ok, err := p.Match([]byte(finding))
	fmt.Println(ok, err)
	// Output: true <nil>
}

func ExampleCompile_error() {
	_, err := pattern.Compile([]byte(`{"detail": {"inspectorScore": [{"numeric": ["<"]}]}}`))
	fmt.Println(err)
	var pe *pattern.Error
	if errors.As(err, &pe) {
		fmt.Printf("path %q, operator %q\n", pe.Path, pe.Operator)
	}
	// Output:
	// pattern: detail.inspectorScore: numeric: "<" must be followed by a number
	// path "detail.inspectorScore", operator "numeric"
}

func ExamplePattern_Match_arrays() {
	// A leaf matches if any element of an event array matches, and a
	// nested pattern under an array of objects must match one element.
	p, _ := pattern.Compile([]byte(`{"detail": {"resources": {"details": {"awsEcrContainerImage": {
	  "repositoryName": [{"prefix": "team/"}],
	  "imageTags": ["latest"]
	}}}}}`))
	ok, _ := p.Match([]byte(finding))
	fmt.Println(ok)
	// Output: true
}

func ExampleSet() {
	var rules pattern.Set
	add := func(name, src string) {
		p, err := pattern.Compile([]byte(src))
		if err != nil {
			panic(err)
		}
		rules.Add(name, p)
	}
	add("page-on-critical", `{"source": ["aws.inspector2"], "detail": {"severity": ["CRITICAL"]}}`)
	add("ticket-high", `{"source": ["aws.inspector2"], "detail": {"severity": ["HIGH"], "status": [{"anything-but": "SUPPRESSED"}]}}`)
	add("team-images", `{"detail": {"resources": {"details": {"awsEcrContainerImage": {"repositoryName": [{"wildcard": "team/*"}]}}}}}`)
	add("ecr-pushes", `{"source": ["aws.ecr"], "detail-type": ["ECR Image Action"]}`)

	names, err := rules.Matches([]byte(finding))
	fmt.Println(names, err)
	// Output: [team-images ticket-high] <nil>
}

func ExampleParseEvent() {
	// Decode once, match against many patterns.
	e, err := pattern.ParseEvent([]byte(finding))
	if err != nil {
		panic(err)
	}
	for _, src := range []string{
		`{"detail": {"inspectorScore": [300e-2, 7.5]}}`,
		`{"detail": {"epss": [{"exists": false}]}}`,
		`{"detail": {"status": [{"equals-ignore-case": "active"}]}}`,
	} {
		p, _ := pattern.Compile([]byte(src))
		fmt.Println(p.MatchEvent(e))
	}
	// Output:
	// true
	// true
	// true
}
