package sbom

import (
	"strconv"
	"strings"
	"sync"

	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
)

// Licenses as packages declare them are free text ("GPL2+", "MIT AND
// BSD-3-Clause", "Artistic-1.0-Perl OR GPL-1.0-or-later"). Both formats
// want SPDX license expressions where possible; these helpers decide
// which strings are, and keep the rest as names so nothing is lost.

// maxLicenseLen bounds the strings checked as expressions.
const maxLicenseLen = 1024

// spdxIDs holds the SPDX license list (licenses and deprecated
// licenses) and its exceptions, lower-cased: identifiers match
// case-insensitively.
var spdxIDs = sync.OnceValue(func() (ids struct{ licenses, exceptions map[string]bool }) {
	ids.licenses, ids.exceptions = map[string]bool{}, map[string]bool{}
	for _, l := range append(spdxlicenses.GetLicenses(), spdxlicenses.GetDeprecated()...) {
		ids.licenses[strings.ToLower(l)] = true
	}
	for _, e := range spdxlicenses.GetExceptions() {
		ids.exceptions[strings.ToLower(e)] = true
	}
	return ids
})

// validExpression reports whether l is an SPDX license expression
// (SPDX 2.3 Annex D) made of listed identifiers: "MIT", "GPL-2.0+",
// "(MIT OR Apache-2.0) AND GPL-2.0-only WITH Classpath-exception-2.0".
// LicenseRef- identifiers are refused: an SPDX document must define them,
// and we cannot. The check is our own because the expression parsers at
// hand accept identifiers that are not on the list ("MIT-or-later") and
// panic on some malformed input.
func validExpression(l string) bool {
	if l == "" || len(l) > maxLicenseLen {
		return false
	}
	var toks []string
	for _, f := range strings.Fields(l) {
		for f != "" {
			i := strings.IndexAny(f, "()")
			switch {
			case i < 0:
				toks, f = append(toks, f), ""
			case i > 0:
				toks, f = append(toks, f[:i]), f[i:]
			default:
				toks, f = append(toks, f[:1]), f[1:]
			}
		}
	}
	p := exprParser{toks: toks, ids: spdxIDs()}
	return l == strings.TrimSpace(l) && p.expr() && p.i == len(p.toks)
}

type exprParser struct {
	toks []string
	i    int
	ids  struct{ licenses, exceptions map[string]bool }
}

func (p *exprParser) next() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

// expr: term (("AND" | "OR") term)*
func (p *exprParser) expr() bool {
	if !p.term() {
		return false
	}
	for t := p.next(); t == "AND" || t == "OR"; t = p.next() {
		p.i++
		if !p.term() {
			return false
		}
	}
	return true
}

// term: "(" expr ")" | id["+"] ["WITH" exception]
func (p *exprParser) term() bool {
	if p.next() == "(" {
		p.i++
		if !p.expr() || p.next() != ")" {
			return false
		}
		p.i++
		return true
	}
	id := strings.ToLower(strings.TrimSuffix(p.next(), "+"))
	if !p.ids.licenses[id] {
		return false
	}
	p.i++
	if p.next() == "WITH" {
		p.i++
		if !p.ids.exceptions[strings.ToLower(p.next())] {
			return false
		}
		p.i++
	}
	return true
}

// joinExpressions ANDs expressions together. Each that is more than a
// bare identifier is put in parentheses, even when alone, so that
// splitExpression gives back the same list.
func joinExpressions(ls []string) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		if strings.ContainsAny(l, " \t\r\n()") {
			l = "(" + l + ")"
		}
		parts[i] = l
	}
	return strings.Join(parts, " AND ")
}

// splitExpression undoes joinExpressions: it splits at top-level AND and
// removes one pair of parentheses enclosing a whole part. Empty parts are
// dropped.
func splitExpression(e string) []string {
	var out []string
	add := func(part string) {
		if part = unwrap(part); part != "" {
			out = append(out, part)
		}
	}
	depth, start := 0, 0
	for i := 0; i < len(e); i++ {
		switch e[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ' ':
			if depth == 0 && strings.HasPrefix(e[i:], " AND ") {
				add(e[start:i])
				start = i + len(" AND ")
				i = start - 1
			}
		}
	}
	add(e[start:])
	return out
}

// unwrap removes parentheses that enclose all of s.
func unwrap(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return s
	}
	depth := 0
	for i := 0; i < len(s)-1; i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth == 0 {
			return s // the first "(" closes before the end
		}
	}
	return strings.TrimSpace(s[1 : len(s)-1])
}

// licenseRefs names the licenses of an SPDX document that are not SPDX
// expressions, as LicenseRef-<sanitised text>, one name per distinct text.
type licenseRefs struct {
	byText map[string]string
	used   map[string]bool
	order  []string // texts, in the order first seen
}

func (r *licenseRefs) ref(text string) string {
	if id, ok := r.byText[text]; ok {
		return id
	}
	if r.byText == nil {
		r.byText, r.used = map[string]string{}, map[string]bool{}
	}
	base := "LicenseRef-" + sanitizeID(text, 64)
	id := base
	for n := 2; r.used[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	r.byText[text], r.used[id] = id, true
	r.order = append(r.order, text)
	return id
}

// sanitizeID keeps the characters SPDX allows in identifiers (letters,
// digits, "." and "-"), replacing others with "-", and caps the length.
func sanitizeID(s string, max int) string {
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-':
			b = append(b, c)
		default:
			b = append(b, '-')
		}
	}
	if len(b) == 0 {
		return "unknown"
	}
	return string(b)
}

// nonEmpty drops empty strings, which no format can carry as a license.
func nonEmpty(ls []string) []string {
	out := ls[:0:0]
	for _, l := range ls {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
