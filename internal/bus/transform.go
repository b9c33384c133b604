package bus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Transformer is a compiled EventBridge input transformer: variables read
// from the event by JSON path (InputPathsMap) put into InputTemplate in
// place of <name>.
//
// A template that starts with '{', '[' or '"' is JSON: a variable outside
// a string becomes the value's JSON (a string with its quotes), and inside
// a string the value's text, escaped so that the result stays valid JSON
// (EventBridge inserts it unescaped, which breaks on a quote). Any other
// template is text, and variables become their text. A path the event does
// not have gives null in JSON and nothing in text. The predefined
// variables are aws.events.rule-name, aws.events.rule-arn,
// aws.events.event (the event without its detail), aws.events.event.json
// (the whole event) and aws.events.event.ingestion-time.
type Transformer struct {
	paths    map[string][]step
	template []piece
	json     bool
}

// maxVariables is EventBridge's limit on InputPathsMap.
const maxVariables = 100

var (
	varName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// Predefined variable names.
const (
	varRuleName  = "aws.events.rule-name"
	varRuleARN   = "aws.events.rule-arn"
	varEvent     = "aws.events.event"
	varEventJSON = "aws.events.event.json"
	varIngestion = "aws.events.event.ingestion-time"
)

func predefined(name string) bool {
	switch name {
	case varRuleName, varRuleARN, varEvent, varEventJSON, varIngestion:
		return true
	}
	return false
}

// step is one part of a JSON path: a key, an index or a wildcard.
type step struct {
	key      string
	index    int // -1 when key is set
	wildcard bool
}

// piece is literal text or a variable, and whether it sits inside a JSON
// string.
type piece struct {
	text     string
	variable string
	quoted   bool
}

// NewTransformer compiles t, naming what is wrong with it.
func NewTransformer(t *store.InputTransformer) (*Transformer, error) {
	if t == nil {
		return nil, nil
	}
	if len(t.InputPathsMap) > maxVariables {
		return nil, fmt.Errorf("bus: InputPathsMap: %d variables (at most %d)", len(t.InputPathsMap), maxVariables)
	}
	if strings.TrimSpace(t.InputTemplate) == "" {
		return nil, fmt.Errorf("bus: InputTemplate is required")
	}
	tr := &Transformer{paths: map[string][]step{}}
	for name, path := range t.InputPathsMap {
		if !varName.MatchString(name) {
			return nil, fmt.Errorf("bus: InputPathsMap: variable name %q (letters, digits, '.', '_' and '-')", name)
		}
		if predefined(name) {
			return nil, fmt.Errorf("bus: InputPathsMap: %q is a predefined variable", name)
		}
		steps, err := parsePath(path)
		if err != nil {
			return nil, fmt.Errorf("bus: InputPathsMap %q: %w", name, err)
		}
		tr.paths[name] = steps
	}
	trimmed := strings.TrimSpace(t.InputTemplate)
	tr.json = trimmed[0] == '{' || trimmed[0] == '[' || trimmed[0] == '"'
	pieces, err := splitTemplate(t.InputTemplate, tr.json)
	if err != nil {
		return nil, err
	}
	for _, p := range pieces {
		if p.variable == "" {
			continue
		}
		if _, ok := tr.paths[p.variable]; !ok && !predefined(p.variable) {
			return nil, fmt.Errorf("bus: InputTemplate: <%s> is not in InputPathsMap", p.variable)
		}
	}
	tr.template = pieces
	if tr.json {
		// A JSON template must be JSON once its variables are values.
		var probe strings.Builder
		for _, p := range pieces {
			switch {
			case p.variable == "":
				probe.WriteString(p.text)
			case !p.quoted:
				probe.WriteString("null")
			}
		}
		if !json.Valid([]byte(probe.String())) {
			return nil, fmt.Errorf("bus: InputTemplate starts like JSON but is not JSON (with its variables as values)")
		}
	}
	return tr, nil
}

// parsePath reads "$.detail.a-b[0].*".
func parsePath(p string) ([]step, error) {
	rest, ok := strings.CutPrefix(p, "$")
	if !ok {
		return nil, fmt.Errorf("path %q must start with $", p)
	}
	var steps []step
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			key := rest[:end]
			if key == "" {
				return nil, fmt.Errorf("path %q: empty key", p)
			}
			if key == "*" {
				steps = append(steps, step{index: -1, wildcard: true})
			} else {
				steps = append(steps, step{key: key, index: -1})
			}
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", p)
			}
			inner := rest[1:end]
			rest = rest[end+1:]
			if inner == "*" {
				steps = append(steps, step{index: -1, wildcard: true})
				continue
			}
			if q, err := strconv.Unquote(inner); err == nil || (len(inner) > 1 && inner[0] == '\'' && inner[len(inner)-1] == '\'') {
				if err != nil {
					q = inner[1 : len(inner)-1]
				}
				steps = append(steps, step{key: q, index: -1})
				continue
			}
			i, err := strconv.Atoi(inner)
			if err != nil || i < 0 {
				return nil, fmt.Errorf("path %q: index %q", p, inner)
			}
			steps = append(steps, step{index: i})
		default:
			return nil, fmt.Errorf("path %q: unexpected %q", p, rest[:1])
		}
	}
	return steps, nil
}

// splitTemplate cuts the template at its placeholders, noting for a JSON
// template which ones are inside a string.
func splitTemplate(t string, isJSON bool) ([]piece, error) {
	var out []piece
	inString, escaped := false, false
	last := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		if isJSON {
			switch {
			case escaped:
				escaped = false
				continue
			case c == '\\' && inString:
				escaped = true
				continue
			case c == '"':
				inString = !inString
				continue
			}
		}
		if c != '<' {
			continue
		}
		j := i + 1
		for j < len(t) && isNameByte(t[j]) {
			j++
		}
		if j == i+1 || j == len(t) || t[j] != '>' {
			continue
		}
		out = append(out, piece{text: t[last:i]})
		out = append(out, piece{variable: t[i+1 : j], quoted: inString})
		i = j
		last = j + 1
	}
	out = append(out, piece{text: t[last:]})
	return out, nil
}

// Context is what the predefined variables are made of.
type Context struct {
	RuleName, RuleARN string
	Ingestion         time.Time
}

// Apply transforms an event (its JSON envelope). It reports whether the
// result is JSON.
func (t *Transformer) Apply(event []byte, c Context) ([]byte, bool, error) {
	var ev any
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber() // numbers pass through as written
	if err := dec.Decode(&ev); err != nil {
		return nil, false, fmt.Errorf("bus: event: %w", err)
	}
	var b strings.Builder
	for _, p := range t.template {
		if p.variable == "" {
			b.WriteString(p.text)
			continue
		}
		v, ok := t.value(p.variable, ev, event, c)
		switch {
		case !ok && (p.quoted || !t.json):
			// nothing
		case !ok:
			b.WriteString("null")
		case p.quoted:
			s := text(v)
			q, _ := json.Marshal(s)
			b.Write(q[1 : len(q)-1])
		case t.json:
			j, err := json.Marshal(v)
			if err != nil {
				return nil, false, err
			}
			b.Write(j)
		default:
			b.WriteString(text(v))
		}
	}
	out := []byte(b.String())
	return out, t.json, nil
}

// raw marks a value that is JSON text already.
type raw json.RawMessage

func (r raw) MarshalJSON() ([]byte, error) { return r, nil }

func (t *Transformer) value(name string, ev any, event []byte, c Context) (any, bool) {
	switch name {
	case varRuleName:
		return c.RuleName, true
	case varRuleARN:
		return c.RuleARN, true
	case varIngestion:
		return c.Ingestion.UTC().Format(time.RFC3339), true
	case varEventJSON:
		return raw(event), true
	case varEvent:
		m, ok := ev.(map[string]any)
		if !ok {
			return ev, true
		}
		cp := make(map[string]any, len(m))
		for k, v := range m {
			if k != "detail" {
				cp[k] = v
			}
		}
		return cp, true
	}
	return walk(ev, t.paths[name])
}

func walk(v any, steps []step) (any, bool) {
	for i, s := range steps {
		switch {
		case s.wildcard:
			var out []any
			each := func(x any) {
				if r, ok := walk(x, steps[i+1:]); ok {
					out = append(out, r)
				}
			}
			switch c := v.(type) {
			case []any:
				for _, x := range c {
					each(x)
				}
			case map[string]any:
				keys := make([]string, 0, len(c))
				for k := range c {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					each(c[k])
				}
			default:
				return nil, false
			}
			return out, out != nil
		case s.index >= 0:
			a, ok := v.([]any)
			if !ok || s.index >= len(a) {
				return nil, false
			}
			v = a[s.index]
		default:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[s.key]; !ok {
				return nil, false
			}
		}
	}
	return v, true
}

// text is a value as text: a string as itself, anything else as JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if r, ok := v.(raw); ok {
		return string(r)
	}
	j, _ := json.Marshal(v)
	return string(j)
}
