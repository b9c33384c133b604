package pattern

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSetBasics(t *testing.T) {
	var s Set
	if got, err := s.Matches([]byte(`{"source":"aws.ec2"}`)); err != nil || got != nil {
		t.Fatalf("empty set: %q, %v", got, err)
	}
	s.Add("ec2", mustCompile(t, `{"source":["aws.ec2"]}`))
	s.Add("all", mustCompile(t, `{}`))
	s.Add("b-running", mustCompile(t, `{"detail":{"state":["running"]}}`))
	s.Add("a-not-pending", mustCompile(t, `{"detail":{"state":[{"anything-but":"pending"}]}}`))
	s.Add("s3", mustCompile(t, `{"source":["aws.s3"]}`))
	if s.Len() != 5 {
		t.Errorf("Len = %d, want 5", s.Len())
	}
	ev := []byte(`{"source":"aws.ec2","detail":{"state":"running"}}`)
	check := func(want ...string) {
		t.Helper()
		got, err := s.Matches(ev)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Matches = %q, want %q", got, want)
		}
	}
	check("a-not-pending", "all", "b-running", "ec2")

	// Replacing a name replaces its pattern.
	s.Add("ec2", mustCompile(t, `{"source":["aws.lambda"]}`))
	check("a-not-pending", "all", "b-running")
	s.Add("s3", mustCompile(t, `{"source":["aws.ec2","aws.s3"]}`))
	check("a-not-pending", "all", "b-running", "s3")

	s.Remove("all")
	s.Remove("all") // removing twice is harmless
	s.Remove("never added")
	check("a-not-pending", "b-running", "s3")
	s.Add("b-running", nil) // nil removes
	check("a-not-pending", "s3")
	if s.Len() != 3 {
		t.Errorf("Len = %d, want 3", s.Len())
	}
	s.Remove("a-not-pending")
	s.Remove("s3")
	s.Remove("ec2")
	check()
	if len(s.indexes) != 0 || len(s.scan) != 0 || len(s.rules) != 0 {
		t.Errorf("emptied set keeps %d indexes, %d scanned entries, %d rules", len(s.indexes), len(s.scan), len(s.rules))
	}
}

// TestSetIndexNarrows checks that rules on distinct sources are not all
// evaluated: each is filed under its own source value.
func TestSetIndexNarrows(t *testing.T) {
	var s Set
	for i := range 1000 {
		s.Add(fmt.Sprintf("r%d", i), mustCompile(t, fmt.Sprintf(`{"source":["aws.svc%d"],"detail-type":["Changed"]}`, i)))
	}
	if len(s.scan) != 0 {
		t.Errorf("%d rules are evaluated for every event", len(s.scan))
	}
	if len(s.indexes) != 1 {
		t.Fatalf("%d indexes, want 1", len(s.indexes))
	}
	ix := s.indexes[0]
	if !slices.Equal(ix.segs, []string{"source"}) {
		t.Errorf("indexed on %q, want source: it is the field with the shortest lists", ix.segs)
	}
	if n := len(ix.buckets[indexKey{kind: kindString, str: "aws.svc7"}]); n != 1 {
		t.Errorf("bucket aws.svc7 holds %d rules, want 1", n)
	}
	got, err := s.Matches([]byte(`{"source":"aws.svc7","detail-type":"Changed"}`))
	if err != nil || !slices.Equal(got, []string{"r7"}) {
		t.Errorf("Matches = %q, %v", got, err)
	}
}

// TestSetIndexAdapts checks that rules sharing a source spread over a field
// that tells them apart.
func TestSetIndexAdapts(t *testing.T) {
	var s Set
	for i := range 100 {
		s.Add(fmt.Sprintf("r%d", i), mustCompile(t, fmt.Sprintf(`{"source":["aws.inspector2"],"detail":{"packageVulnerabilityDetails":{"vulnerabilityId":["CVE-2024-%d"]}}}`, i)))
	}
	for _, ix := range s.indexes {
		for k, b := range ix.buckets {
			if len(b) > 1 {
				t.Errorf("bucket %v of %q holds %d rules", k, ix.segs, len(b))
			}
		}
	}
}

func TestSetIndexCandidates(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    []string // paths of candidates
	}{
		{`{"source":["a"],"detail":{"x":["b"],"y":[{"prefix":"c"}]}}`, []string{"source", "detail.x"}},
		{`{"a":[{"anything-but":"x"}]}`, nil},
		{`{"a":["x",{"exists":false}]}`, nil},
		{`{"$or":[{"a":["1"],"b":["2"]},{"a":["3"]}]}`, []string{"a"}},
		{`{"$or":[{"a":["1"]},{"b":["3"]}]}`, nil},
		{`{"d":{"$or":[{"a":["1"]},{"a":[2],"$or":[{"c":[true]},{"c":[null]}]}]}}`, []string{"d.a"}},
	} {
		var paths []string
		for _, c := range candidates(mustCompile(t, tc.pattern).root, nil) {
			paths = append(paths, strings.Join(c.segs, "."))
		}
		if !slices.Equal(paths, tc.want) {
			t.Errorf("candidates(%s) = %q, want %q", tc.pattern, paths, tc.want)
		}
	}
	c := candidates(mustCompile(t, `{"$or":[{"a":["1","2"]},{"a":["2",3]}]}`).root, nil)
	if len(c) != 1 || len(c[0].keys) != 3 {
		t.Errorf("$or candidate keys = %v, want the 3 distinct values", c)
	}
}

// eventVariants derives events from inspectorFinding that different rules
// of benchRules match.
func eventVariants(r *rand.Rand, n int) []string {
	sources := []string{"aws.inspector2", "aws.ecr", "aws.svc10", "aws.svc21", "aws.guardduty19"}
	severities := []string{"HIGH", "CRITICAL", "LOW", "MEDIUM", "INFORMATIONAL"}
	var out []string
	for range n {
		ev := inspectorFinding
		ev = strings.Replace(ev, `"source":"aws.inspector2"`, `"source":"`+sources[r.IntN(len(sources))]+`"`, 1)
		ev = strings.Replace(ev, `"severity":"HIGH"`, `"severity":"`+severities[r.IntN(len(severities))]+`"`, 1)
		ev = strings.Replace(ev, `"inspectorScore":7.5`, fmt.Sprintf(`"inspectorScore":%d.%d`, r.IntN(10), r.IntN(10)), 1)
		ev = strings.Replace(ev, `"repositoryName":"team/app"`, fmt.Sprintf(`"repositoryName":"team%d/app"`, r.IntN(25)), 1)
		ev = strings.Replace(ev, `"CVE-2024-6119 - libssl3`, fmt.Sprintf(`"CVE-2024-%d - libssl3`, r.IntN(40)), 1)
		ev = strings.Replace(ev, `"vulnerabilityId":"CVE-2024-6119"`, fmt.Sprintf(`"vulnerabilityId":"CVE-2024-%d"`, 6100+r.IntN(80)), 1)
		if r.IntN(3) == 0 {
			ev = strings.Replace(ev, `"detail-type":"Inspector2 Finding"`, `"detail-type":"Thing 10 Changed"`, 1)
		}
		if r.IntN(3) == 0 {
			ev = strings.Replace(ev, `"fixAvailable":"YES"`, `"fixAvailable":"NO"`, 1)
		}
		if r.IntN(2) == 0 {
			ev = strings.Replace(ev, `"detail":{`, `"detail":{"state":"B11","repository-name":"team/app6",`, 1)
		}
		out = append(out, ev)
	}
	return out
}

// TestSetAgreesWithPatterns checks the index against evaluating every
// pattern, on the benchmark's rules and on events each matching some.
func TestSetAgreesWithPatterns(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	srcs := benchRules(2000)
	extra := []string{
		`{}`,
		`{"resources":[{"prefix":"arn:aws:ecr:"}]}`,
		`{"detail":{"resources":{"details":{"awsEcrContainerImage":{"imageTags":["latest"],"platform":["DEBIAN_12"]}}}}}`,
		`{"detail":{"vulnerablePackages":{"name":["openssl"]}}}`,
		`{"detail":{"packageVulnerabilityDetails":{"vulnerablePackages":{"name":["openssl"],"fixedInVersion":[{"exists":true}]}}}}`,
		`{"$or":[{"source":["aws.ecr"]},{"source":["aws.svc10"],"detail-type":["Thing 10 Changed"]}]}`,
		`{"detail":{"severity":["LOW"],"$or":[{"status":["ACTIVE"]},{"status":["CLOSED"]}]}}`,
	}
	srcs = append(srcs, extra...)
	var s Set
	names := make([]string, len(srcs))
	pats := make([]*Pattern, len(srcs))
	for i, src := range srcs {
		names[i] = fmt.Sprintf("r%04d", i)
		pats[i] = mustCompile(t, src)
		s.Add(names[i], pats[i])
	}
	removed := map[string]bool{}
	total := 0
	for round := range 2 {
		if round == 1 {
			for i := range names {
				if r.IntN(2) == 0 {
					s.Remove(names[i])
					removed[names[i]] = true
				}
			}
		}
		for _, ev := range eventVariants(r, 200) {
			e, err := ParseEvent([]byte(ev))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, p := range pats {
				if !removed[names[i]] && p.MatchEvent(e) {
					want = append(want, names[i])
				}
			}
			got := s.MatchesEvent(e)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: Set found %d rules, evaluating every pattern %d\nset:   %q\nwant:  %q\nevent: %s", round, len(got), len(want), got, want, ev)
			}
			total += len(got)
		}
	}
	if total < 1000 {
		t.Errorf("only %d matches in all: the events exercise too little", total)
	}
}

// TestSetConcurrent runs matching alongside adding and removing; with -race
// it checks the locking, and it checks that a rule never touched is always
// found.
func TestSetConcurrent(t *testing.T) {
	var s Set
	s.Add("stable", mustCompile(t, `{"source":["aws.inspector2"]}`))
	event := []byte(inspectorFinding)
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i%50)
				if i%3 == 0 {
					s.Remove(name)
				} else {
					s.Add(name, mustCompile(t, fmt.Sprintf(`{"detail":{"severity":["HIGH"],"inspectorScore":[{"numeric":[">",%d]}]}}`, i%10)))
				}
			}
		}()
	}
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for range 300 {
				got, err := s.Matches(event)
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.Contains(got, "stable") || !slices.IsSorted(got) {
					t.Errorf("Matches = %q", got)
					return
				}
			}
		}()
	}
	readers.Wait()
	close(stop)
	writers.Wait()
	if s.Len() < 1 {
		t.Errorf("Len = %d", s.Len())
	}
}
