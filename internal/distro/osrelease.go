package distro

import (
	"fmt"
	"strings"
)

// maxOSReleaseErrors bounds how many bad lines an error names.
const maxOSReleaseErrors = 5

// ParseOSRelease reads an os-release file (os-release(5)), which is also
// the syntax of lsb-release: KEY=value assignments, one per line, with
// comments and blank lines. Values follow shell quoting, as the files are
// meant to be sourced by sh: "double quotes" with \" \\ \$ \` escapes,
// 'single quotes' taken literally, and unquoted text where a backslash
// escapes the next character. Lines that are not assignments are named in
// the error; the assignments that could be read are returned with it.
func ParseOSRelease(data []byte) (map[string]string, error) {
	p := parser{s: string(data), line: 1}
	vars := map[string]string{}
	var errs []string
	bad := 0
	for {
		p.skipSpace(true)
		if p.eof() {
			break
		}
		line := p.line
		if p.peek() == '#' {
			p.skipLine()
			continue
		}
		key := p.key()
		if key == "" || p.eof() || p.peek() != '=' {
			bad++
			if len(errs) < maxOSReleaseErrors {
				errs = append(errs, fmt.Sprintf("line %d: not an assignment", line))
			}
			p.skipLine()
			continue
		}
		p.i++ // '='
		value, err := p.value()
		if err != nil {
			bad++
			if len(errs) < maxOSReleaseErrors {
				errs = append(errs, fmt.Sprintf("line %d: %v", line, err))
			}
			continue
		}
		vars[key] = value
		// What follows an unquoted blank on the line is a comment or
		// junk; neither changes the value.
		p.skipLine()
	}
	if bad > 0 {
		return vars, fmt.Errorf("os-release: %d bad lines: %s", bad, strings.Join(errs, "; "))
	}
	return vars, nil
}

type parser struct {
	s    string
	i    int
	line int
}

func (p *parser) eof() bool  { return p.i >= len(p.s) }
func (p *parser) peek() byte { return p.s[p.i] }

func (p *parser) next() byte {
	c := p.s[p.i]
	p.i++
	if c == '\n' {
		p.line++
	}
	return c
}

func (p *parser) skipSpace(newlines bool) {
	for !p.eof() {
		switch p.peek() {
		case ' ', '\t', '\r':
		case '\n':
			if !newlines {
				return
			}
		default:
			return
		}
		p.next()
	}
}

func (p *parser) skipLine() {
	for !p.eof() && p.peek() != '\n' {
		p.next()
	}
}

// key reads a shell variable name.
func (p *parser) key() string {
	start := p.i
	for !p.eof() {
		c := p.peek()
		if c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || p.i > start && '0' <= c && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// value reads one shell word: quoted and unquoted pieces run together
// until an unquoted blank or the end of the line.
func (p *parser) value() (string, error) {
	var b strings.Builder
	for !p.eof() {
		c := p.peek()
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			return b.String(), nil
		case c == '"':
			p.next()
			if err := p.doubleQuoted(&b); err != nil {
				return "", err
			}
		case c == '\'':
			p.next()
			end := strings.IndexByte(p.s[p.i:], '\'')
			if end < 0 {
				p.i = len(p.s)
				return "", fmt.Errorf("unterminated single quote")
			}
			for range end {
				b.WriteByte(p.next())
			}
			p.next()
		case c == '\\':
			p.next()
			if p.eof() {
				return b.String(), nil
			}
			if c := p.next(); c != '\n' { // backslash-newline joins lines
				b.WriteByte(c)
			}
		default:
			b.WriteByte(p.next())
		}
	}
	return b.String(), nil
}

// doubleQuoted reads up to the closing quote. As in sh, a backslash
// escapes only $ ` " \ and newline, and is kept before anything else.
func (p *parser) doubleQuoted(b *strings.Builder) error {
	for !p.eof() {
		c := p.next()
		switch c {
		case '"':
			return nil
		case '\\':
			if p.eof() {
				b.WriteByte(c)
				continue
			}
			switch n := p.peek(); n {
			case '$', '`', '"', '\\':
				b.WriteByte(p.next())
			case '\n':
				p.next()
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return fmt.Errorf("unterminated double quote")
}
