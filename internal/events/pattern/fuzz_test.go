package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// fuzzEvents are the fixed events FuzzCompile matches every pattern it
// compiles against.
var fuzzEvents = []string{
	inspectorFinding,
	ec2Event,
	autoscalingEvent,
	`{}`,
	`{"a":[1,"x",null,true,{"b":[[],{}]}],"b":{"c":[{"d":"10.0.0.1"},{"d":-5e9}]},"c":"","d":"::ffff:10.0.0.1"}`,
}

func FuzzCompile(f *testing.F) {
	for _, cases := range allMatchCases {
		for _, tc := range cases {
			f.Add([]byte(tc.pattern))
		}
	}
	f.Add([]byte(`{"a":[{"wildcard":"\\**\\\\"}],"$or":[{"b":[{"numeric":[">",-5e9,"<=",5e9]}]},{"c":{"$or":[{"d":[null]},{"e":[{"cidr":"::/0"}]}]}}]}`))
	f.Add([]byte(`{"a":[{"anything-but":{"wildcard":["*x*","y"]}},{"anything-but":{"equals-ignore-case":["Q"]}},{"suffix":{"equals-ignore-case":"é"}}]}`))
	events := make([]*Event, len(fuzzEvents))
	for i, src := range fuzzEvents {
		e, err := ParseEvent([]byte(src))
		if err != nil {
			f.Fatal(err)
		}
		events[i] = e
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Compile(src)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Compile error %v is a %T, not an *Error", err, err)
			}
			return
		}
		if !json.Valid(src) {
			t.Fatalf("Compile accepted invalid JSON %q", src)
		}
		var s Set
		s.Add("p", p)
		for _, e := range events {
			got := p.MatchEvent(e)
			if names := s.MatchesEvent(e); (len(names) == 1) != got {
				t.Fatalf("pattern %s: Set says %q, MatchEvent %v", src, names, got)
			}
		}
	})
}

// FuzzMatch decodes arbitrary events. Whatever encoding/json accepts as an
// object must be accepted and decoded to the same values, whatever it
// rejects must be rejected, and matching must agree across the decoded and
// Go-value forms.
func FuzzMatch(f *testing.F) {
	for _, cases := range allMatchCases {
		for _, tc := range cases {
			f.Add([]byte(tc.event))
		}
	}
	for _, src := range fuzzEvents {
		f.Add([]byte(src))
	}
	for _, s := range jsonCorpus {
		f.Add([]byte(s))
	}
	var pats []*Pattern
	var s Set
	for _, cases := range allMatchCases {
		for _, tc := range cases {
			p := mustCompile(f, tc.pattern)
			s.Add(tc.pattern, p)
			pats = append(pats, p)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstStdlib(t, data)
		e, err := ParseEvent(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		ge := NewEvent(m)
		var want []string
		for _, p := range pats {
			got := p.MatchEvent(e)
			if p.MatchEvent(ge) != got {
				t.Fatalf("pattern %s on %q: MatchEvent %v, on Go values %v", p, data, got, !got)
			}
			if got {
				want = append(want, p.String())
			}
		}
		names := s.MatchesEvent(e)
		if len(names) != len(compactSorted(want)) {
			t.Fatalf("event %q: Set found %d patterns, evaluating each %d", data, len(names), len(compactSorted(want)))
		}
	})
}

func compactSorted(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
