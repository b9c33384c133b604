package pattern

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
)

// Compile parses and validates an event pattern. Every error it returns is
// an *Error naming the offending key and operator.
func Compile(src []byte) (*Pattern, error) {
	s := string(src)
	v, err := parseJSON(s)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	if v.kind != kindObject {
		return nil, &Error{Msg: "a pattern must be a JSON object, not " + article(v.kind)}
	}
	root, perr := compileNode(&v, nil)
	if perr != nil {
		return nil, perr
	}
	return &Pattern{root: root, src: s}, nil
}

func article(k kind) string {
	switch k {
	case kindArray, kindObject:
		return "an " + k.String()
	case kindNull:
		return "null"
	default:
		return "a " + k.String()
	}
}

// compileNode compiles a pattern object at path p (nil for the root).
func compileNode(v *value, p *path) (*node, *Error) {
	if len(v.obj) == 0 && p != nil {
		// Only the whole pattern may be empty: a nested {} constrains
		// nothing, which is never what its author meant.
		return nil, errAt(p, "", "an empty object matches nothing; remove it or add fields")
	}
	n := &node{}
	seen := make(map[string]bool, len(v.obj))
	for i := range v.obj {
		m := &v.obj[i]
		cp := p.child(m.key)
		if seen[m.key] {
			return nil, errAt(cp, "", "duplicate key")
		}
		seen[m.key] = true
		if m.key == "$or" {
			group, err := compileOr(&m.val, p)
			if err != nil {
				return nil, err
			}
			n.ors = append(n.ors, group)
			continue
		}
		switch m.val.kind {
		case kindArray:
			l, err := compileLeaf(&m.val, cp)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, &field{key: m.key, leaf: l})
		case kindObject:
			sub, err := compileNode(&m.val, cp)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, &field{key: m.key, sub: sub})
		default:
			return nil, errAt(cp, "", "the value must be an array of values or a pattern object, not %s", article(m.val.kind))
		}
	}
	// Cheap, selective tests first: the result is the same in any order,
	// but an exact-value mismatch ends evaluation before any string scan.
	slices.SortStableFunc(n.fields, func(a, b *field) int { return fieldCost(a) - fieldCost(b) })
	n.empty = n.eval(nil)
	return n, nil
}

func fieldCost(f *field) int {
	switch {
	case f.sub != nil:
		return 2
	case f.leaf.exactOnly():
		return 0
	default:
		return 1
	}
}

// compileOr compiles the value of a "$or" key in the object at path p.
func compileOr(v *value, p *path) ([]*node, *Error) {
	if v.kind != kindArray || len(v.arr) < 2 {
		return nil, errAt(p.child("$or"), "$or", "must be an array of at least two pattern objects")
	}
	group := make([]*node, 0, len(v.arr))
	for i := range v.arr {
		e := &v.arr[i]
		ap := p.alternative(i)
		if e.kind != kindObject {
			return nil, errAt(ap, "$or", "each alternative must be a pattern object, not %s", article(e.kind))
		}
		if len(e.obj) == 0 {
			return nil, errAt(ap, "$or", "an empty alternative would match every event")
		}
		alt, err := compileNode(e, ap)
		if err != nil {
			return nil, err
		}
		group = append(group, alt)
	}
	return group, nil
}

func compileLeaf(v *value, p *path) (*leaf, *Error) {
	if len(v.arr) == 0 {
		return nil, errAt(p, "", "an empty array matches nothing")
	}
	l := &leaf{}
	for i := range v.arr {
		e := &v.arr[i]
		switch e.kind {
		case kindString:
			l.strs = append(l.strs, e.str)
		case kindNumber:
			l.nums = append(l.nums, e.number())
		case kindNull:
			l.null = true
		case kindTrue:
			l.isTrue = true
		case kindFalse:
			l.isFalse = true
		case kindArray:
			return nil, errAt(p, "", "arrays inside a value array are not allowed")
		case kindObject:
			if err := compileOperator(e, p, l); err != nil {
				return nil, err
			}
		}
	}
	if len(l.strs) >= strSetThreshold {
		l.strSet = make(map[string]struct{}, len(l.strs))
		for _, s := range l.strs {
			l.strSet[s] = struct{}{}
		}
	}
	return l, nil
}

// compileOperator adds the operator object v to l.
func compileOperator(v *value, p *path, l *leaf) *Error {
	if len(v.obj) != 1 {
		return errAt(p, "", "an operator object must have exactly one key, not %d", len(v.obj))
	}
	name, arg := v.obj[0].key, &v.obj[0].val
	switch name {
	case "prefix", "suffix":
		m, err := compileAffix(name, arg)
		if err != nil {
			return errAt(p, name, "%s", err)
		}
		l.ops = append(l.ops, m)
	case "equals-ignore-case":
		if arg.kind != kindString {
			return errAt(p, name, "must be a string, not %s", article(arg.kind))
		}
		l.ops = append(l.ops, matcher{op: opEqualFold, strs: []string{arg.str}})
	case "wildcard":
		if arg.kind != kindString {
			return errAt(p, name, "must be a string, not %s", article(arg.kind))
		}
		w, err := compileWildcard(arg.str)
		if err != nil {
			return errAt(p, name, "%s", err)
		}
		l.ops = append(l.ops, matcher{op: opWildcard, wild: []wildcard{w}})
	case "anything-but":
		m, err := compileAnythingBut(arg)
		if err != nil {
			return errAt(p, name, "%s", err)
		}
		l.ops = append(l.ops, m)
	case "numeric":
		r, err := compileNumeric(arg)
		if err != nil {
			return errAt(p, name, "%s", err)
		}
		l.ops = append(l.ops, matcher{op: opNumeric, rng: r})
	case "cidr":
		if arg.kind != kindString {
			return errAt(p, name, "must be a string such as \"10.0.0.0/24\", not %s", article(arg.kind))
		}
		prefix, err := netip.ParsePrefix(arg.str)
		if err != nil {
			return errAt(p, name, "%q is not an IPv4 or IPv6 CIDR block", arg.str)
		}
		l.ops = append(l.ops, matcher{op: opCIDR, cidr: prefix.Masked()})
	case "exists":
		switch arg.kind {
		case kindTrue:
			l.existsTrue = true
		case kindFalse:
			l.existsFalse = true
		default:
			return errAt(p, name, "must be true or false, not %s", article(arg.kind))
		}
	default:
		return errAt(p, name, "unknown operator")
	}
	return nil
}

// compileAffix compiles the operand of prefix or suffix: a string, or
// {"equals-ignore-case": string}.
func compileAffix(name string, arg *value) (matcher, error) {
	plain, fold := opPrefix, opPrefixFold
	if name == "suffix" {
		plain, fold = opSuffix, opSuffixFold
	}
	switch {
	case arg.kind == kindString:
		return matcher{op: plain, strs: []string{arg.str}}, nil
	case arg.kind == kindObject && len(arg.obj) == 1 && arg.obj[0].key == "equals-ignore-case":
		if s := &arg.obj[0].val; s.kind == kindString {
			return matcher{op: fold, strs: []string{s.str}}, nil
		}
		return matcher{}, errors.New(`"equals-ignore-case" must be a string`)
	}
	return matcher{}, errors.New(`must be a string or {"equals-ignore-case": string}`)
}

// compileAnythingBut compiles the operand of anything-but: a string, a
// number, a list of only strings or only numbers, or one of the string
// operators prefix, suffix, equals-ignore-case and wildcard.
func compileAnythingBut(arg *value) (matcher, error) {
	switch arg.kind {
	case kindString:
		return matcher{op: opStrings, not: true, strs: []string{arg.str}}, nil
	case kindNumber:
		return matcher{op: opNumbers, not: true, nums: []decimal{arg.number()}}, nil
	case kindArray:
		if len(arg.arr) == 0 {
			return matcher{}, errors.New("an empty list excludes nothing")
		}
		m := matcher{not: true}
		switch arg.arr[0].kind {
		case kindString:
			m.op = opStrings
		case kindNumber:
			m.op = opNumbers
		default:
			return matcher{}, errors.New("a list must hold only strings or only numbers")
		}
		for i := range arg.arr {
			e := &arg.arr[i]
			switch {
			case e.kind == kindString && m.op == opStrings:
				m.strs = append(m.strs, e.str)
			case e.kind == kindNumber && m.op == opNumbers:
				m.nums = append(m.nums, e.number())
			default:
				return matcher{}, errors.New("a list must hold only strings or only numbers")
			}
		}
		return m, nil
	case kindObject:
		if len(arg.obj) != 1 {
			return matcher{}, errors.New("an operator object must have exactly one key")
		}
		name, op := arg.obj[0].key, &arg.obj[0].val
		switch name {
		case "prefix", "suffix":
			// AWS takes a single non-empty string here; an empty one
			// would exclude every string and so match nothing.
			if op.kind != kindString || op.str == "" {
				return matcher{}, errors.New(`"` + name + `" must be a non-empty string`)
			}
			kind := opPrefix
			if name == "suffix" {
				kind = opSuffix
			}
			return matcher{op: kind, not: true, strs: []string{op.str}}, nil
		case "equals-ignore-case":
			strs, err := stringOrList(name, op)
			if err != nil {
				return matcher{}, err
			}
			return matcher{op: opEqualFold, not: true, strs: strs}, nil
		case "wildcard":
			strs, err := stringOrList(name, op)
			if err != nil {
				return matcher{}, err
			}
			m := matcher{op: opWildcard, not: true}
			for _, s := range strs {
				w, err := compileWildcard(s)
				if err != nil {
					return matcher{}, err
				}
				m.wild = append(m.wild, w)
			}
			return m, nil
		default:
			return matcher{}, errors.New(`"` + name + `" cannot be used inside anything-but`)
		}
	}
	return matcher{}, errors.New("must be a string, a number, a list of strings or of numbers, or a prefix, suffix, equals-ignore-case or wildcard object")
}

func stringOrList(name string, v *value) ([]string, error) {
	switch v.kind {
	case kindString:
		return []string{v.str}, nil
	case kindArray:
		if len(v.arr) == 0 {
			return nil, errors.New(`"` + name + `" must not be an empty list`)
		}
		strs := make([]string, 0, len(v.arr))
		for i := range v.arr {
			if v.arr[i].kind != kindString {
				return nil, errors.New(`"` + name + `" must be a string or a list of strings`)
			}
			strs = append(strs, v.arr[i].str)
		}
		return strs, nil
	}
	return nil, errors.New(`"` + name + `" must be a string or a list of strings`)
}

// compileNumeric compiles the operand of numeric: one comparison, or a
// lower and an upper bound, e.g. [">", 0, "<=", 5].
func compileNumeric(arg *value) (numRange, error) {
	var r numRange
	if arg.kind != kindArray || len(arg.arr) == 0 {
		return r, errors.New(`must be a list of comparisons such as [">", 0, "<=", 5]`)
	}
	for i := 0; i < len(arg.arr); i += 2 {
		opv := &arg.arr[i]
		if opv.kind != kindString {
			return r, errors.New("expected a comparison operator (<, <=, =, >=, >), found " + article(opv.kind))
		}
		op := opv.str
		switch op {
		case "<", "<=", "=", ">=", ">":
		default:
			return r, errors.New(quote(op) + " is not a comparison operator (<, <=, =, >=, >)")
		}
		if i+1 >= len(arg.arr) || arg.arr[i+1].kind != kindNumber {
			return r, errors.New(quote(op) + " must be followed by a number")
		}
		n := arg.arr[i+1].number()
		if n.cmp(numericMin) < 0 || n.cmp(numericMax) > 0 {
			return r, errors.New("the operand of " + quote(op) + " is outside the range -5e9 to 5e9")
		}
		switch op {
		case "=":
			if len(arg.arr) != 2 {
				return r, errors.New(`"=" cannot be combined with other comparisons`)
			}
			r = numRange{hasLo: true, loIncl: true, lo: n, hasHi: true, hiIncl: true, hi: n}
		case ">", ">=":
			if r.hasLo {
				return r, errors.New("more than one lower bound")
			}
			r.hasLo, r.loIncl, r.lo = true, op == ">=", n
		case "<", "<=":
			if r.hasHi {
				return r, errors.New("more than one upper bound")
			}
			r.hasHi, r.hiIncl, r.hi = true, op == "<=", n
		}
	}
	if r.hasLo && r.hasHi {
		// A range that no number satisfies is a mistake, not a rule.
		if c := r.lo.cmp(r.hi); c > 0 || (c == 0 && !(r.loIncl && r.hiIncl)) {
			return r, errors.New("the lower bound must be below the upper bound")
		}
	}
	return r, nil
}

func quote(s string) string { return strconv.Quote(s) }
