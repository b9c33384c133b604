package pattern

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the JSON type of a value.
type kind uint8

const (
	kindNull kind = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindFalse, kindTrue:
		return "boolean"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindArray:
		return "array"
	default:
		return "object"
	}
}

// value is one decoded JSON value. Events are decoded into this form rather
// than map[string]any because it keeps numbers exact without re-parsing,
// keeps strings as substrings of one copy of the input, and keeps object
// members in order so that errors about patterns name the first offending
// key deterministically.
type value struct {
	kind kind
	// A number is kept as the fields of its decimal, which keeps value
	// small; events hold many values and matching walks them all.
	neg bool
	exp int64
	str string // a string, or a number's digits
	arr []value
	obj []member
	// index maps keys to positions in obj for large objects, where a linear
	// scan per lookup would dominate matching.
	index *map[string]int
}

func numberValue(d decimal) value {
	return value{kind: kindNumber, neg: d.neg, exp: d.exp, str: d.digits}
}

func (v *value) number() decimal { return decimal{neg: v.neg, digits: v.str, exp: v.exp} }

type member struct {
	key string
	val value
}

// indexThreshold is the object size from which lookups go through a map.
const indexThreshold = 48

// get returns the value of key in an object. With duplicate keys the last
// one wins, as with encoding/json.
func (v *value) get(key string) (*value, bool) {
	if v.index != nil {
		i, ok := (*v.index)[key]
		if !ok {
			return nil, false
		}
		return &v.obj[i].val, true
	}
	for i := len(v.obj) - 1; i >= 0; i-- {
		if v.obj[i].key == key {
			return &v.obj[i].val, true
		}
	}
	return nil, false
}

// maxDepth matches encoding/json's nesting limit, so that input that package
// accepts is accepted here and deeply nested input cannot exhaust the stack.
const maxDepth = 10000

// syntaxError is a malformed JSON document.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.offset, e.msg)
}

// parseJSON decodes one JSON document. It accepts exactly what
// encoding/json accepts, and like it replaces invalid UTF-8 and unpaired
// surrogates in strings with U+FFFD.
func parseJSON(src string) (value, error) {
	p := parserPool.Get().(*parser)
	defer func() {
		p.s, p.i = "", 0
		parserPool.Put(p)
	}()
	p.s = src
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return value{}, err
	}
	p.skipSpace()
	if p.i < len(p.s) {
		return value{}, p.errorf("unexpected %q after top-level value", p.s[p.i])
	}
	return v, nil
}

// parserPool keeps parsers' stacks between events, which would otherwise
// be regrown for every event.
var parserPool = sync.Pool{New: func() any { return new(parser) }}

type parser struct {
	s string
	i int
	// members and elems are stacks shared by all nesting levels; each
	// container copies its own items out when it closes, which leaves every
	// container with an exactly sized slice and no per-item allocation.
	members []member
	elems   []value
}

func (p *parser) errorf(format string, args ...any) error {
	return &syntaxError{offset: p.i, msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (value, error) {
	if p.i >= len(p.s) {
		return value{}, p.errorf("unexpected end of input")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		if depth >= maxDepth {
			return value{}, p.errorf("nesting deeper than %d", maxDepth)
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= maxDepth {
			return value{}, p.errorf("nesting deeper than %d", maxDepth)
		}
		return p.array(depth + 1)
	case c == '"':
		s, err := p.string()
		return value{kind: kindString, str: s}, err
	case c == '-' || isDigit(c):
		return p.number()
	case c == 't':
		return p.literal("true", value{kind: kindTrue})
	case c == 'f':
		return p.literal("false", value{kind: kindFalse})
	case c == 'n':
		return p.literal("null", value{kind: kindNull})
	default:
		return value{}, p.errorf("unexpected %q", c)
	}
}

func (p *parser) literal(word string, v value) (value, error) {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return value{}, p.errorf("invalid literal")
	}
	p.i += len(word)
	return v, nil
}

func (p *parser) number() (value, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case p.i < len(p.s) && isDigit(p.s[p.i]):
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	default:
		return value{}, p.errorf("invalid number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.i >= len(p.s) || !isDigit(p.s[p.i]) {
			return value{}, p.errorf("invalid number")
		}
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.s) || !isDigit(p.s[p.i]) {
			return value{}, p.errorf("invalid number")
		}
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
	}
	d, ok := parseDecimal(p.s[start:p.i])
	if !ok {
		return value{}, p.errorf("invalid number")
	}
	return numberValue(d), nil
}

// string decodes a string starting at the opening quote. Strings without
// escapes or invalid UTF-8, nearly all of them, are returned as substrings
// of the input.
func (p *parser) string() (string, error) {
	s, i := p.s, p.i+1 // after the opening quote
	start := i
	for {
		for i < len(s) && plainByte[s[i]] {
			i++
		}
		if i >= len(s) {
			p.i = i
			return "", p.errorf("unterminated string")
		}
		switch c := s[i]; {
		case c == '"':
			p.i = i + 1
			return s[start:i], nil
		case c == '\\':
			p.i = i
			return p.slowString(start)
		case c < 0x20:
			p.i = i
			return "", p.errorf("control character in string")
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				p.i = i
				return p.slowString(start)
			}
			i += n
		}
	}
}

// plainByte marks the bytes a string can hold as they are: everything but
// the quote, the backslash, control characters and the bytes of multi-byte
// UTF-8, which need validating.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (p *parser) slowString(start int) (string, error) {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c == '\\':
			p.i++
			if p.i >= len(p.s) {
				return "", p.errorf("unterminated string")
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate combines with a following \u low
					// surrogate; anything else leaves it unpaired.
					if strings.HasPrefix(p.s[p.i:], "\\u") {
						save := p.i
						p.i += 2
						r2, ok := p.hex4()
						if !ok {
							return "", p.errorf("invalid \\u escape")
						}
						if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
							b.WriteRune(c)
							continue
						}
						p.i = save
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
			default:
				p.i--
				return "", p.errorf("invalid escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.i++
		default:
			r, n := utf8.DecodeRuneInString(p.s[p.i:])
			b.WriteRune(r) // RuneError for invalid bytes
			p.i += n
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}

func (p *parser) object(depth int) (value, error) {
	p.i++ // {
	base := len(p.members)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return value{kind: kindObject}, nil
	}
	for {
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			p.members = p.members[:base]
			return value{}, p.errorf("expected object key")
		}
		key, err := p.string()
		if err != nil {
			p.members = p.members[:base]
			return value{}, err
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			p.members = p.members[:base]
			return value{}, p.errorf("expected ':' after object key")
		}
		p.i++
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			p.members = p.members[:base]
			return value{}, err
		}
		p.members = append(p.members, member{key: key, val: v})
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			p.skipSpace()
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			break
		}
		p.members = p.members[:base]
		return value{}, p.errorf("expected ',' or '}' in object")
	}
	obj := make([]member, len(p.members)-base)
	copy(obj, p.members[base:])
	clear(p.members[base:]) // drop references for the garbage collector
	p.members = p.members[:base]
	v := value{kind: kindObject, obj: obj}
	if len(obj) >= indexThreshold {
		index := make(map[string]int, len(obj))
		for i := range obj {
			index[obj[i].key] = i // later duplicates overwrite earlier
		}
		v.index = &index
	}
	return v, nil
}

func (p *parser) array(depth int) (value, error) {
	p.i++ // [
	base := len(p.elems)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return value{kind: kindArray}, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			p.elems = p.elems[:base]
			return value{}, err
		}
		p.elems = append(p.elems, v)
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			p.skipSpace()
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			break
		}
		p.elems = p.elems[:base]
		return value{}, p.errorf("expected ',' or ']' in array")
	}
	arr := make([]value, len(p.elems)-base)
	copy(arr, p.elems[base:])
	clear(p.elems[base:])
	p.elems = p.elems[:base]
	return value{kind: kindArray, arr: arr}, nil
}
