package pattern

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error is an invalid pattern. Compile returns only errors of this type, so
// that an API can tell a rule author which key and which operator to fix.
type Error struct {
	// Path is the JSON path of the offending key, keys joined by "." and
	// $or alternatives indexed, e.g. "detail.$or[1].severity"; "" is the
	// pattern as a whole.
	Path string
	// Operator is the operator at fault ("numeric", "anything-but",
	// "wildcard", "prefix", "exists", "cidr", "$or", ...), or "" when the
	// fault is not about an operator.
	Operator string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pattern: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Operator != "" {
		b.WriteString(e.Operator)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrInvalidEvent is wrapped by every error about an event rather than a
// pattern: malformed JSON, or JSON that is not an object.
var ErrInvalidEvent = errors.New("pattern: invalid event")

func invalidEvent(err error) error {
	return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
}

// path is the location of a key while compiling; it is rendered only when
// an error is reported, so compiling a valid pattern builds no strings.
type path struct {
	parent *path
	key    string
	// orIndex >= 0 marks the alternative of a $or: key is "$or".
	orIndex int
}

func (p *path) child(key string) *path { return &path{parent: p, key: key, orIndex: -1} }

func (p *path) alternative(i int) *path { return &path{parent: p, key: "$or", orIndex: i} }

func (p *path) String() string {
	if p == nil {
		return ""
	}
	var parts []string
	for q := p; q != nil; q = q.parent {
		s := q.key
		if q.orIndex >= 0 {
			s += "[" + strconv.Itoa(q.orIndex) + "]"
		}
		parts = append(parts, s)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".")
}

func errAt(p *path, op, format string, args ...any) *Error {
	return &Error{Path: p.String(), Operator: op, Msg: fmt.Sprintf(format, args...)}
}
