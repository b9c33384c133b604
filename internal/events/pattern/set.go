package pattern

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// Set holds compiled patterns by name (a rule name) and finds every pattern
// an event matches.
//
// A Set is safe for concurrent use: any number of goroutines may call
// Matches and MatchesEvent while others call Add and Remove. Each call sees
// every Add and Remove either entirely or not at all; matching proceeds in
// parallel and waits only for a concurrent Add or Remove to finish. The
// zero Set is empty and ready to use; a Set must not be copied after first
// use.
//
// Matching does not evaluate every pattern. Each pattern is filed under one
// field it requires to hold one of a few exact values (source, detail-type,
// detail.severity...), chosen when it is added as the field whose lists are
// shortest so far, and an event evaluates only the patterns filed under the
// values it actually holds, plus the patterns that no such field narrows
// down (an anything-but or wildcard alone, say).
type Set struct {
	mu      sync.RWMutex
	rules   map[string]*entry
	indexes []*pathIndex
	// scan holds the patterns that no index narrows down.
	scan []*entry
}

type entry struct {
	name string
	p    *Pattern
	ix   *pathIndex // nil when the entry is in scan
	keys []indexKey
	// rest is what remains to be evaluated once the index has found the
	// entry: the pattern less its indexed field when that field is at the
	// top level, where finding the value is matching it. Deeper fields
	// must still be evaluated, since under an array the indexed value and
	// the other fields may sit in different elements.
	rest *node
}

// pathIndex files entries under the values of one field path.
type pathIndex struct {
	segs    []string
	buckets map[indexKey][]*entry
	entries int
}

// indexKey is one exact leaf value.
type indexKey struct {
	kind kind
	str  string
	num  numKey
}

func keyOf(v *value) indexKey {
	switch v.kind {
	case kindString:
		return indexKey{kind: kindString, str: v.str}
	case kindNumber:
		return indexKey{kind: kindNumber, num: v.number().key()}
	default:
		return indexKey{kind: v.kind}
	}
}

// Add adds p under name, replacing any pattern already under that name.
// A nil p removes name.
func (s *Set) Add(name string, p *Pattern) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(name)
	if p == nil {
		return
	}
	if s.rules == nil {
		s.rules = make(map[string]*entry)
	}
	e := &entry{name: name, p: p}
	s.rules[name] = e
	c, ok := s.choose(candidates(p.root, nil))
	if !ok {
		s.scan = append(s.scan, e)
		return
	}
	ix := s.index(c.segs)
	e.ix, e.keys, e.rest = ix, c.keys, p.root
	if len(c.segs) == 1 {
		e.rest = without(p.root, c.segs[0])
	}
	for _, k := range c.keys {
		ix.buckets[k] = append(ix.buckets[k], e)
	}
	ix.entries++
}

// Remove removes the pattern under name, if any.
func (s *Set) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(name)
}

// Len returns the number of patterns in the set.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.rules)
}

func (s *Set) remove(name string) {
	e, ok := s.rules[name]
	if !ok {
		return
	}
	delete(s.rules, name)
	if e.ix == nil {
		s.scan = deleteEntry(s.scan, e)
		return
	}
	ix := e.ix
	for _, k := range e.keys {
		if b := deleteEntry(ix.buckets[k], e); len(b) > 0 {
			ix.buckets[k] = b
		} else {
			delete(ix.buckets, k)
		}
	}
	ix.entries--
	if ix.entries == 0 {
		s.indexes = slices.DeleteFunc(s.indexes, func(x *pathIndex) bool { return x == ix })
	}
}

// deleteEntry removes e from list, not keeping order: evaluation order is
// irrelevant as results are sorted.
func deleteEntry(list []*entry, e *entry) []*entry {
	i := slices.Index(list, e)
	if i < 0 {
		return list
	}
	last := len(list) - 1
	list[i] = list[last]
	list[last] = nil
	return list[:last]
}

func (s *Set) index(segs []string) *pathIndex {
	for _, ix := range s.indexes {
		if slices.Equal(ix.segs, segs) {
			return ix
		}
	}
	ix := &pathIndex{segs: segs, buckets: make(map[indexKey][]*entry)}
	s.indexes = append(s.indexes, ix)
	return ix
}

// choose picks the candidate whose buckets hold the fewest entries now,
// which estimates how many other patterns an event reaching this pattern
// also has to evaluate. Ties go to a path already indexed, since each
// indexed path costs every event a lookup, then to fewer values and the
// source, detail-type, the shallower, then lexically first path, so that
// placement is deterministic.
func (s *Set) choose(cands []candidate) (candidate, bool) {
	type scored struct {
		c        candidate
		cost     int
		existing bool
	}
	var best scored
	found := false
	for _, c := range cands {
		sc := scored{c: c}
		for _, ix := range s.indexes {
			if slices.Equal(ix.segs, c.segs) {
				sc.existing = true
				for _, k := range c.keys {
					sc.cost += len(ix.buckets[k])
				}
				break
			}
		}
		if !found || better(sc.cost, sc.existing, sc.c, best.cost, best.existing, best.c) {
			best, found = sc, true
		}
	}
	return best.c, found
}

func better(cost int, existing bool, c candidate, bcost int, bexisting bool, b candidate) bool {
	if cost != bcost {
		return cost < bcost
	}
	if existing != bexisting {
		return existing
	}
	if len(c.keys) != len(b.keys) {
		return len(c.keys) < len(b.keys)
	}
	if pc, pb := envelopeRank(c.segs), envelopeRank(b.segs); pc != pb {
		return pc < pb
	}
	if len(c.segs) != len(b.segs) {
		return len(c.segs) < len(b.segs)
	}
	return slices.Compare(c.segs, b.segs) < 0
}

// envelopeRank prefers source, then detail-type, for a first rule with no
// other to compare with: every EventBridge event has both, nearly every
// rule names its source, and sources are what rules differ in most.
func envelopeRank(segs []string) int {
	if len(segs) == 1 {
		switch segs[0] {
		case "source":
			return 0
		case "detail-type":
			return 1
		}
	}
	return 2
}

// Matches returns the sorted names of the patterns the JSON event matches,
// nil if none. An event that is not a JSON object is an error wrapping
// ErrInvalidEvent.
func (s *Set) Matches(event []byte) ([]string, error) {
	e, err := ParseEvent(event)
	if err != nil {
		return nil, err
	}
	return s.MatchesEvent(e), nil
}

// MatchesEvent returns the sorted names of the patterns a decoded event
// matches, nil if none.
func (s *Set) MatchesEvent(e *Event) []string {
	s.mu.RLock()
	var out []string
	for _, ix := range s.indexes {
		out = ix.probe(&e.root, ix.segs, e, out)
	}
	for _, en := range s.scan {
		if en.p.root.eval(&e.root) {
			out = append(out, en.name)
		}
	}
	s.mu.RUnlock()
	if len(out) > 1 {
		// An entry filed under several values is reached once per value
		// the event holds among them.
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out
}

// probe evaluates the entries filed under the values v holds at segs,
// flattening arrays on the way as matching does.
func (ix *pathIndex) probe(v *value, segs []string, e *Event, out []string) []string {
	switch v.kind {
	case kindObject:
		if len(segs) > 0 {
			if c, ok := v.get(segs[0]); ok {
				out = ix.probe(c, segs[1:], e, out)
			}
		}
	case kindArray:
		for i := range v.arr {
			out = ix.probe(&v.arr[i], segs, e, out)
		}
	default:
		if len(segs) == 0 {
			for _, en := range ix.buckets[keyOf(v)] {
				if en.rest.eval(&e.root) {
					out = append(out, en.name)
				}
			}
		}
	}
	return out
}

// without returns n less its top-level exact-only field key, if it has one;
// a candidate found on a $or leaves n as it is.
func without(n *node, key string) *node {
	for i, f := range n.fields {
		if f.key == key && f.leaf != nil && f.leaf.exactOnly() {
			rest := *n
			rest.fields = slices.Delete(slices.Clone(n.fields), i, i+1)
			return &rest
		}
	}
	return n
}

// candidate is a field path and a set of values such that every event the
// pattern matches holds one of the values at that path.
type candidate struct {
	segs []string
	keys []indexKey
}

// candidates lists the candidates of a node at prefix. Fields AND, so each
// exact-only field is one; a $or group yields the paths that every
// alternative constrains, with the union of their values.
func candidates(n *node, prefix []string) []candidate {
	var out []candidate
	for _, f := range n.fields {
		segs := append(slices.Clip(prefix), f.key)
		switch {
		case f.sub != nil:
			out = append(out, candidates(f.sub, segs)...)
		case f.leaf.exactOnly():
			out = append(out, candidate{segs: segs, keys: leafKeys(f.leaf)})
		}
	}
	for _, group := range n.ors {
		common := candidates(group[0], prefix)
		for _, alt := range group[1:] {
			if len(common) == 0 {
				break
			}
			common = intersect(common, candidates(alt, prefix))
		}
		out = append(out, common...)
	}
	return out
}

// intersect keeps the paths of a that b constrains too, widening each to
// the values either side allows.
func intersect(a, b []candidate) []candidate {
	var out []candidate
	for _, ca := range a {
		for _, cb := range b {
			if slices.Equal(ca.segs, cb.segs) {
				out = append(out, candidate{segs: ca.segs, keys: unionKeys(ca.keys, cb.keys)})
				break
			}
		}
	}
	return out
}

func leafKeys(l *leaf) []indexKey {
	var keys []indexKey
	for _, s := range l.strs {
		keys = append(keys, indexKey{kind: kindString, str: s})
	}
	for _, d := range l.nums {
		keys = append(keys, indexKey{kind: kindNumber, num: d.key()})
	}
	if l.null {
		keys = append(keys, indexKey{kind: kindNull})
	}
	if l.isTrue {
		keys = append(keys, indexKey{kind: kindTrue})
	}
	if l.isFalse {
		keys = append(keys, indexKey{kind: kindFalse})
	}
	return unionKeys(keys, nil)
}

// unionKeys merges two key lists without duplicates, so that an entry sits
// in each bucket at most once.
func unionKeys(a, b []indexKey) []indexKey {
	out := make([]indexKey, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.SortFunc(out, compareKeys)
	return slices.CompactFunc(out, func(x, y indexKey) bool { return compareKeys(x, y) == 0 })
}

func compareKeys(x, y indexKey) int {
	if c := cmp.Compare(x.kind, y.kind); c != 0 {
		return c
	}
	if c := strings.Compare(x.str, y.str); c != 0 {
		return c
	}
	if c := strings.Compare(x.num.digits, y.num.digits); c != 0 {
		return c
	}
	if c := cmp.Compare(x.num.exp, y.num.exp); c != 0 {
		return c
	}
	if x.num.neg != y.num.neg {
		if x.num.neg {
			return 1
		}
		return -1
	}
	return 0
}
