package pattern

import (
	"net/netip"
	"strings"
)

// Pattern is a compiled event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	root *node
	src  string
}

// String returns the pattern's source as it was compiled.
func (p *Pattern) String() string { return p.src }

// Match reports whether the JSON event matches the pattern. An event that is
// not a JSON object is an error wrapping ErrInvalidEvent.
func (p *Pattern) Match(event []byte) (bool, error) {
	e, err := ParseEvent(event)
	if err != nil {
		return false, err
	}
	return p.MatchEvent(e), nil
}

// MatchEvent reports whether a decoded event matches the pattern. Decoding
// an event once and matching it against many patterns is the fast path.
func (p *Pattern) MatchEvent(e *Event) bool { return p.root.eval(&e.root) }

// MatchValue reports whether an event already decoded into Go values
// matches the pattern; see NewEvent for the values understood. It converts
// the event on every call: to match one event against many patterns,
// convert it once with NewEvent and use MatchEvent.
func (p *Pattern) MatchValue(event map[string]any) bool {
	return p.MatchEvent(NewEvent(event))
}

// node is one pattern object: all of its fields and all of its $or groups
// must match.
type node struct {
	fields []*field
	// ors holds the $or of this object; at most one, as keys are unique,
	// but kept as a list of groups so that evaluation needs no special case.
	ors [][]*node
	// empty is whether the node matches an object with no keys; it is the
	// answer wherever the event has no object at the node's position.
	empty bool
}

// field is one key of a pattern object: either a leaf array or a nested
// pattern object.
type field struct {
	key  string
	leaf *leaf
	sub  *node
}

// eval matches the node against an object value; obj nil stands for the
// absence of an object.
func (n *node) eval(obj *value) bool {
	for _, f := range n.fields {
		var v *value
		ok := false
		if obj != nil {
			v, ok = obj.get(f.key)
		}
		if !f.eval(v, ok) {
			return false
		}
	}
	for _, group := range n.ors {
		matched := false
		for _, alt := range group {
			if alt.eval(obj) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

func (f *field) eval(v *value, present bool) bool {
	if f.leaf != nil {
		return f.leaf.eval(v, present)
	}
	if !present {
		return f.sub.empty
	}
	return f.sub.evalValue(v)
}

// evalValue matches a nested pattern against whatever the event holds at
// its key. Under an array each element is tried on its own, which is what
// keeps fields from different array elements from combining into a match.
func (n *node) evalValue(v *value) bool {
	switch v.kind {
	case kindObject:
		return n.eval(v)
	case kindArray:
		if len(v.arr) == 0 {
			return n.empty
		}
		for i := range v.arr {
			if n.evalValue(&v.arr[i]) {
				return true
			}
		}
		return false
	default:
		return n.empty
	}
}

// leaf is one leaf array of a pattern: exact values and operators, any of
// which may match.
type leaf struct {
	strs    []string
	strSet  map[string]struct{} // indexes strs when there are many
	nums    []decimal
	null    bool
	isTrue  bool
	isFalse bool
	ops     []matcher
	// existsTrue and existsFalse record {"exists": true} and
	// {"exists": false} in the array.
	existsTrue  bool
	existsFalse bool
}

// strSetThreshold is the number of exact strings from which a map beats a
// linear scan.
const strSetThreshold = 8

// exactOnly is whether the leaf holds nothing but exact values, which makes
// it usable as an index key by a Set.
func (l *leaf) exactOnly() bool {
	return len(l.ops) == 0 && !l.existsTrue && !l.existsFalse
}

func (l *leaf) eval(v *value, present bool) bool {
	if !present {
		return l.existsFalse
	}
	switch v.kind {
	case kindObject:
		// Exists matching only sees leaves: an object is not a value.
		return l.existsFalse
	case kindArray:
		matched, sawLeaf := l.scan(v)
		if matched {
			return true
		}
		if sawLeaf {
			return false
		}
		return l.existsFalse
	default:
		return l.existsTrue || l.matchScalar(v)
	}
}

// scan looks through an array, and arrays within it, for a leaf value the
// leaf matches. Objects inside the array hold no leaf values of this key.
func (l *leaf) scan(v *value) (matched, sawLeaf bool) {
	for i := range v.arr {
		e := &v.arr[i]
		switch e.kind {
		case kindObject:
		case kindArray:
			m, s := l.scan(e)
			if m {
				return true, true
			}
			sawLeaf = sawLeaf || s
		default:
			sawLeaf = true
			if l.existsTrue || l.matchScalar(e) {
				return true, true
			}
		}
	}
	return false, sawLeaf
}

func (l *leaf) matchScalar(v *value) bool {
	switch v.kind {
	case kindString:
		if l.strSet != nil {
			if _, ok := l.strSet[v.str]; ok {
				return true
			}
		} else {
			for _, s := range l.strs {
				if s == v.str {
					return true
				}
			}
		}
	case kindNumber:
		for i := range l.nums {
			if l.nums[i].equal(v.number()) {
				return true
			}
		}
	case kindNull:
		if l.null {
			return true
		}
	case kindTrue:
		if l.isTrue {
			return true
		}
	case kindFalse:
		if l.isFalse {
			return true
		}
	}
	for i := range l.ops {
		if l.ops[i].match(v) {
			return true
		}
	}
	return false
}

// opKind is what a matcher tests.
type opKind uint8

const (
	opPrefix opKind = iota
	opPrefixFold
	opSuffix
	opSuffixFold
	opEqualFold
	opWildcard
	opStrings // exact strings; only under anything-but
	opNumbers // exact numbers; only under anything-but
	opNumeric
	opCIDR
)

// matcher is one operator of a leaf array.
type matcher struct {
	op opKind
	// not inverts the test, for anything-but. The inverted test still only
	// applies to values of the operand's kind: anything-but "x" says
	// nothing about numbers, and anything-but 5 nothing about strings.
	not  bool
	strs []string
	wild []wildcard
	nums []decimal
	rng  numRange
	cidr netip.Prefix
}

func (m *matcher) match(v *value) bool {
	switch m.op {
	case opNumeric, opNumbers:
		if v.kind != kindNumber {
			return false
		}
	default:
		if v.kind != kindString {
			return false
		}
	}
	return m.test(v) != m.not
}

func (m *matcher) test(v *value) bool {
	switch m.op {
	case opPrefix:
		return strings.HasPrefix(v.str, m.strs[0])
	case opSuffix:
		return strings.HasSuffix(v.str, m.strs[0])
	case opPrefixFold:
		return hasPrefixFold(v.str, m.strs[0])
	case opSuffixFold:
		return hasSuffixFold(v.str, m.strs[0])
	case opEqualFold:
		for _, s := range m.strs {
			if strings.EqualFold(v.str, s) {
				return true
			}
		}
		return false
	case opWildcard:
		for i := range m.wild {
			if m.wild[i].match(v.str) {
				return true
			}
		}
		return false
	case opStrings:
		for _, s := range m.strs {
			if s == v.str {
				return true
			}
		}
		return false
	case opNumbers:
		for i := range m.nums {
			if m.nums[i].equal(v.number()) {
				return true
			}
		}
		return false
	case opNumeric:
		return m.rng.contains(v.number())
	case opCIDR:
		return matchCIDR(m.cidr, v.str)
	}
	return false
}

// numRange is the interval of a numeric operator; "=" is the degenerate
// interval with both ends included.
type numRange struct {
	hasLo, loIncl bool
	hasHi, hiIncl bool
	lo, hi        decimal
}

func (r *numRange) contains(d decimal) bool {
	if r.hasLo {
		c := d.cmp(r.lo)
		if c < 0 || (c == 0 && !r.loIncl) {
			return false
		}
	}
	if r.hasHi {
		c := d.cmp(r.hi)
		if c > 0 || (c == 0 && !r.hiIncl) {
			return false
		}
	}
	return true
}

// matchCIDR reports whether s is an IP address inside prefix. An
// IPv4-mapped IPv6 address is the IPv4 address it maps, since that is the
// host it names; addresses with a zone are not matched, as no CIDR block
// names a zone.
func matchCIDR(prefix netip.Prefix, s string) bool {
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return false
	}
	return prefix.Contains(addr.Unmap())
}
