package ruby

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/inventory"
)

// specStart matches the line that opens a generated specification and
// captures the block's variable, "s" in every RubyGems version.
var specStart = regexp.MustCompile(`^\s*Gem::Specification\.new\s+do\s*\|\s*([a-z_][A-Za-z0-9_]*)\s*\|\s*$`)

// ParseGemspec reads a gemspec as RubyGems writes it into
// specifications/ (Gem::Specification#to_ruby): one assignment per line
// inside a `Gem::Specification.new do |s|` block. It takes the literal
// values of name, version, platform and licenses (or license); other
// lines are not looked at. A value that is not a literal is an error,
// since evaluating Ruby is out of the question.
func ParseGemspec(data []byte) (inventory.Package, error) {
	var (
		varName                     string
		name, version, platform     string
		haveName, haveVer, havePlat bool
		licenses                    []string
		errs                        errList
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if varName == "" {
			if m := specStart.FindStringSubmatch(line); m != nil {
				varName = m[1]
			}
			continue
		}
		field, expr, ok := assignment(line, varName)
		if !ok {
			continue
		}
		var err error
		// As in Ruby, a later assignment replaces an earlier one.
		switch field {
		case "name":
			name, err = stringValue(expr)
			haveName = true
		case "version":
			version, err = stringValue(expr)
			haveVer = true
		case "platform":
			if strings.HasPrefix(strings.TrimSpace(expr), "Gem::Platform::RUBY") {
				platform, havePlat = "", true
				continue
			}
			platform, err = stringValue(expr)
			havePlat = true
		case "licenses":
			licenses, err = arrayValue(expr)
		case "license":
			var l string
			l, err = stringValue(expr)
			licenses = []string{l}
		}
		if err != nil {
			errs.add("line %d: %s: %v", n, field, err)
		}
	}
	if err := sc.Err(); err != nil {
		return inventory.Package{}, fmt.Errorf("gem: gemspec: %w", err)
	}
	if varName == "" {
		return inventory.Package{}, errors.New("gem: gemspec: no `Gem::Specification.new do |s|` line")
	}
	if err := errs.err("gem: gemspec"); err != nil {
		return inventory.Package{}, err
	}
	if !haveName || !haveVer || name == "" || version == "" {
		return inventory.Package{}, errors.New("gem: gemspec: missing name or version")
	}
	if strings.ContainsAny(name+version, " \t\r\n") {
		return inventory.Package{}, fmt.Errorf("gem: gemspec: malformed name %q or version %q", truncate(name), truncate(version))
	}
	p := newPackage(name, version, inventory.Installed)
	if havePlat && platform != "ruby" {
		p.Arch = platform
	}
	for _, l := range licenses {
		if l = strings.TrimSpace(l); l != "" {
			p.Licenses = append(p.Licenses, l)
		}
	}
	return p, nil
}

// assignment recognizes "<var>.<field> = <expr>" and returns the field
// and the expression.
func assignment(line, varName string) (field, expr string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimLeft(line, " \t"), varName+".")
	if !ok {
		return "", "", false
	}
	i := 0
	for i < len(rest) && (isWordByte(rest[i])) {
		i++
	}
	field, rest = rest[:i], strings.TrimLeft(rest[i:], " \t")
	if field == "" || !strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "==") {
		return "", "", false
	}
	return field, strings.TrimSpace(rest[1:]), true
}

// stringValue parses an expression that must be one string literal,
// optionally followed by .freeze and a trailing modifier ("if …").
func stringValue(expr string) (string, error) {
	s, rest, err := stringLiteral(expr)
	if err != nil {
		return "", err
	}
	if err := checkTail(rest); err != nil {
		return "", err
	}
	return s, nil
}

// arrayValue parses an array of string literals: ["MIT".freeze, "Ruby"].
func arrayValue(expr string) ([]string, error) {
	rest, ok := strings.CutPrefix(expr, "[")
	if !ok {
		return nil, fmt.Errorf("not an array: %q", truncate(expr))
	}
	var out []string
	for {
		rest = strings.TrimLeft(rest, " \t")
		if r, ok := strings.CutPrefix(rest, "]"); ok {
			return out, checkTail(r)
		}
		if len(out) > 0 {
			r, ok := strings.CutPrefix(rest, ",")
			if !ok {
				return nil, fmt.Errorf("expected ',' or ']' in %q", truncate(expr))
			}
			rest = strings.TrimLeft(r, " \t")
			if r, ok := strings.CutPrefix(rest, "]"); ok { // trailing comma
				return out, checkTail(r)
			}
		}
		s, r, err := stringLiteral(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		rest = r
	}
}

// checkTail accepts what may follow a literal on a generated line.
func checkTail(rest string) error {
	rest = strings.TrimSpace(rest)
	if rest == "" || rest[0] == '#' || strings.HasPrefix(rest, "if ") || strings.HasPrefix(rest, "unless ") {
		return nil
	}
	return fmt.Errorf("unexpected %q after value", truncate(rest))
}

// stringLiteral parses a Ruby string literal at the start of s (after
// blanks): "double-quoted", 'single-quoted', or %q / %Q / % with any
// bracket or delimiter, followed by an optional .freeze. It returns the
// string and the rest of s.
func stringLiteral(s string) (val, rest string, err error) {
	s = strings.TrimLeft(s, " \t")
	switch {
	case strings.HasPrefix(s, `"`):
		val, rest, err = doubleQuoted(s[1:], '"', 0)
	case strings.HasPrefix(s, `'`):
		val, rest, err = singleQuoted(s[1:], '\'', 0)
	case strings.HasPrefix(s, "%q"), strings.HasPrefix(s, "%Q"), len(s) > 1 && s[0] == '%' && strings.ContainsRune("{[(<", rune(s[1])):
		interp := s[1] != 'q'
		if s[1] == 'q' || s[1] == 'Q' {
			s = s[1:]
		}
		if len(s) < 2 {
			return "", "", errors.New("unterminated %-literal")
		}
		open := s[1]
		if isWordByte(open) || open == ' ' {
			return "", "", fmt.Errorf("bad %%-literal delimiter %q", open)
		}
		close, nest := open, byte(0)
		if c, ok := map[byte]byte{'{': '}', '[': ']', '(': ')', '<': '>'}[open]; ok {
			close, nest = c, open
		}
		if interp {
			val, rest, err = doubleQuoted(s[2:], close, nest)
		} else {
			val, rest, err = singleQuoted(s[2:], close, nest)
		}
	default:
		return "", "", fmt.Errorf("not a string literal: %q", truncate(s))
	}
	if err != nil {
		return "", "", err
	}
	if !utf8.ValidString(val) {
		return "", "", errors.New("string is not valid UTF-8")
	}
	rest = strings.TrimPrefix(rest, ".freeze")
	return val, rest, nil
}

// singleQuoted reads up to the closing delimiter; only \\ and an escaped
// delimiter are escapes. nest, if not 0, is an opening bracket that nests.
func singleQuoted(s string, close, nest byte) (string, string, error) {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == close || nest != 0 && s[i+1] == nest):
			i++
			b.WriteByte(s[i])
		case nest != 0 && c == nest:
			depth++
			b.WriteByte(c)
		case c == close && depth > 0:
			depth--
			b.WriteByte(c)
		case c == close:
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated string")
}

// doubleQuoted reads up to the closing delimiter, decoding the escapes
// String#dump writes. Interpolation ("#{…}", "#@x", "#$x") cannot be
// evaluated and is an error.
func doubleQuoted(s string, close, nest byte) (string, string, error) {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", "", errors.New("unterminated string")
			}
			n, err := escape(&b, s[i+1:])
			if err != nil {
				return "", "", err
			}
			i += n
		case c == '#' && i+1 < len(s) && strings.ContainsRune("{@$", rune(s[i+1])):
			return "", "", errors.New("string interpolation")
		case nest != 0 && c == nest:
			depth++
			b.WriteByte(c)
		case c == close && depth > 0:
			depth--
			b.WriteByte(c)
		case c == close:
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated string")
}

var simpleEscapes = map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'e': 0x1b, 'a': 7, 'b': 8, 'f': '\f', 'v': '\v', 's': ' ', '0': 0}

// escape decodes the escape sequence at the start of s (after the
// backslash) into b and returns how many bytes of s it used.
func escape(b *strings.Builder, s string) (int, error) {
	c := s[0]
	if r, ok := simpleEscapes[c]; ok {
		b.WriteByte(r)
		return 1, nil
	}
	switch c {
	case 'x':
		n := 0
		for n < 2 && 1+n < len(s) && isHex(s[1+n]) {
			n++
		}
		if n == 0 {
			return 0, errors.New(`bad \x escape`)
		}
		v, _ := strconv.ParseUint(s[1:1+n], 16, 8)
		b.WriteByte(byte(v))
		return 1 + n, nil
	case 'u':
		if strings.HasPrefix(s, "u{") {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return 0, errors.New(`bad \u{} escape`)
			}
			for _, h := range strings.Fields(s[2:end]) {
				if err := writeRune(b, h); err != nil {
					return 0, err
				}
			}
			return end + 1, nil
		}
		if len(s) < 5 {
			return 0, errors.New(`bad \u escape`)
		}
		return 5, writeRune(b, s[1:5])
	}
	// Any other escaped character stands for itself (\" \\ \# …).
	b.WriteByte(c)
	return 1, nil
}

func writeRune(b *strings.Builder, hex string) error {
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || v > utf8.MaxRune || len(hex) > 6 {
		return fmt.Errorf(`bad \u escape %q`, truncate(hex))
	}
	b.WriteRune(rune(v))
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
