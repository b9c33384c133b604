package version

import "strings"

// Maven orders Maven versions as Maven 3.9's ComparableVersion does (the
// "Version Order Specification" of the POM reference):
//
//   - "." and "-" separate items, and so does a change between digits and
//     letters; "-", and a change after letters, open a sub-list, which
//     orders below a number at the same place (1-1 < 1.1) and above a
//     qualifier (1-1 > 1-sp);
//   - qualifiers order alpha (a1) < beta (b1) < milestone (m1) < rc = cr <
//     snapshot < "" = ga = final = release < sp < any other, the others
//     in (case-insensitive) lexical order;
//   - trailing zeros and empty qualifiers are dropped, so 1 = 1.0 = 1-0 =
//     1.0.0-ga.
//
// Maven's order is not transitive in a corner this comparator reproduces:
// a sub-list starting with 0 sorts below the release (1-0.alpha < 1, since
// MNG-6964) but above every qualifier (1-0.alpha > 1-sp > 1).
//
// Maven accepts any string; here a version must be printable ASCII without
// spaces.
type Maven struct{}

var _ Comparer = Maven{}

// mavenItem is one item of a parsed version: a number (digits without
// leading zeros, "" for zero), a qualifier, or a sub-list.
type mavenItem struct {
	kind int
	text string
	list *mavenList
}

const (
	mavenNum = iota
	mavenQual
	mavenSub
)

type mavenList struct{ items []mavenItem }

// Compare orders a and b; see the Comparer interface.
func (Maven) Compare(a, b string) (int, error) {
	return compareWith(a, b, parseMaven, func(x, y mavenList) int { return x.cmp(&y) })
}

// Valid reports why v is not a Maven version, or nil.
func (Maven) Valid(v string) error {
	_, err := parseMaven(v)
	return err
}

// maxMavenItems bounds the items of one version, so that a long hostile
// string of separators cannot build a deep tree.
const maxMavenItems = 256

func parseMaven(s string) (mavenList, error) {
	const scheme = "maven"
	if err := checkLen(scheme, s); err != nil {
		return mavenList{}, err
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return mavenList{}, invalid(scheme, s, "invalid character "+quoteByte(s[i]))
		}
	}
	v := strings.ToLower(s)
	root := &mavenList{}
	cur := root
	stack := []*mavenList{root}
	n := 0
	add := func(it mavenItem) { cur.items = append(cur.items, it); n++ }
	sub := func() {
		l := &mavenList{}
		add(mavenItem{kind: mavenSub, list: l})
		cur = l
		stack = append(stack, l)
	}
	digit, start := false, 0
	for i := 0; i < len(v); i++ {
		if n > maxMavenItems {
			return mavenList{}, invalid(scheme, s, "too many items")
		}
		switch c := v[i]; {
		case c == '.' || c == '-':
			if i == start {
				add(mavenItem{kind: mavenNum})
			} else {
				add(mavenParseItem(digit, v[start:i]))
			}
			start = i + 1
			if c == '-' {
				sub()
			}
		case isDigit(c):
			if !digit && i > start {
				// 1.0.0.X1 < 1.0.0-X2: letters followed by digits
				// start a sub-list, as "-X" does.
				if len(cur.items) > 0 {
					sub()
				}
				add(mavenQualifier(v[start:i], true))
				start = i
				sub()
			}
			digit = true
		default:
			if digit && i > start {
				add(mavenParseItem(true, v[start:i]))
				start = i
				sub()
			}
			digit = false
		}
	}
	if len(v) > start {
		if !digit && len(cur.items) > 0 {
			sub()
		}
		add(mavenParseItem(digit, v[start:]))
	}
	for i := len(stack) - 1; i >= 0; i-- {
		stack[i].normalize()
	}
	return *root, nil
}

func mavenParseItem(digit bool, text string) mavenItem {
	if digit {
		return mavenItem{kind: mavenNum, text: strings.TrimLeft(text, "0")}
	}
	return mavenQualifier(text, false)
}

// mavenQualifier applies the one-letter shorthands (only before a digit)
// and the aliases.
func mavenQualifier(q string, followedByDigit bool) mavenItem {
	if followedByDigit && len(q) == 1 {
		switch q {
		case "a":
			q = "alpha"
		case "b":
			q = "beta"
		case "m":
			q = "milestone"
		}
	}
	switch q {
	case "ga", "final", "release":
		q = ""
	case "cr":
		q = "rc"
	}
	return mavenItem{kind: mavenQual, text: q}
}

// mavenQualifiers are the known qualifiers in order; "" is the release.
var mavenQualifiers = [...]string{"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"}

// qualifierCmp orders qualifiers as ComparableVersion's comparableQualifier
// strings do: known ones by their index, then unknown ones lexically.
func qualifierCmp(a, b string) int {
	ra, rb := qualifierRank(a), qualifierRank(b)
	if ra != rb {
		return sign(ra - rb)
	}
	if ra == len(mavenQualifiers) {
		return strings.Compare(a, b)
	}
	return 0
}

func qualifierRank(q string) int {
	for i, k := range mavenQualifiers {
		if q == k {
			return i
		}
	}
	return len(mavenQualifiers)
}

func (it *mavenItem) isNull() bool {
	switch it.kind {
	case mavenNum:
		return it.text == ""
	case mavenQual:
		return it.text == ""
	}
	return len(it.list.items) == 0
}

// normalize drops null items (0, "", empty lists) from the end, looking
// past non-null sub-lists: 1.0-alpha becomes 1-alpha.
func (l *mavenList) normalize() {
	for i := len(l.items) - 1; i >= 0; i-- {
		it := &l.items[i]
		if it.isNull() {
			l.items = append(l.items[:i], l.items[i+1:]...)
		} else if it.kind != mavenSub {
			break
		}
	}
}

// cmpItem compares an item with another, or with nothing when b is nil.
func cmpItem(a, b *mavenItem) int {
	if b == nil {
		switch a.kind {
		case mavenNum:
			if a.text == "" {
				return 0
			}
			return 1
		case mavenQual:
			return qualifierCmp(a.text, "")
		}
		// A list compares with nothing item by item (MNG-6964).
		for i := range a.list.items {
			if c := cmpItem(&a.list.items[i], nil); c != 0 {
				return c
			}
		}
		return 0
	}
	switch a.kind {
	case mavenNum:
		if b.kind == mavenNum {
			return cmpNum(a.text, b.text)
		}
		return 1 // 1.1 > 1-sp, 1.1 > 1-1
	case mavenQual:
		if b.kind == mavenQual {
			return qualifierCmp(a.text, b.text)
		}
		return -1 // 1.any < 1.1, 1.any < 1-1
	}
	switch b.kind {
	case mavenNum:
		return -1 // 1-1 < 1.0.x
	case mavenQual:
		return 1 // 1-1 > 1-sp
	}
	return a.list.cmp(b.list)
}

func (l *mavenList) cmp(o *mavenList) int {
	for i := 0; i < len(l.items) || i < len(o.items); i++ {
		var c int
		switch {
		case i >= len(l.items):
			c = -cmpItem(&o.items[i], nil)
		case i >= len(o.items):
			c = cmpItem(&l.items[i], nil)
		default:
			c = cmpItem(&l.items[i], &o.items[i])
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
