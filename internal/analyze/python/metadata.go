package python

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/inventory"
)

// maxLicenseLen bounds what is taken from the License field as a license
// name. Longer values (and multi-line ones) are the license's full text,
// which some projects paste there.
const maxLicenseLen = 100

// ParseMetadata reads the core metadata of an installed distribution
// (METADATA, PKG-INFO or a bare .egg-info file): RFC 822 style headers
// followed by an optional body. It follows Python's email.parser, which
// importlib.metadata uses: headers end at the first empty line or at the
// first line that is neither a header nor a continuation, and of repeated
// headers the first counts.
func ParseMetadata(data []byte) (inventory.Package, error) {
	h := readHeaders(data)
	name, version := strings.TrimSpace(h.first("name")), strings.TrimSpace(h.first("version"))
	var missing []string
	if name == "" {
		missing = append(missing, "Name")
	}
	if version == "" {
		missing = append(missing, "Version")
	}
	if len(missing) > 0 {
		return inventory.Package{}, fmt.Errorf("python: metadata: missing %s", strings.Join(missing, " and "))
	}
	for _, v := range []string{name, version} {
		if strings.ContainsAny(v, "\r\n") || !utf8.ValidString(v) {
			return inventory.Package{}, fmt.Errorf("python: metadata: malformed Name or Version %q", truncate(v))
		}
	}
	p := newPackage(name, version, inventory.Installed)
	p.Licenses = licenses(h)
	return p, nil
}

// licenses picks the most precise license statement: the SPDX expression
// of Metadata 2.4, else a short License field, else the trove
// classifiers ("License :: OSI Approved :: MIT License" → "MIT License").
func licenses(h headers) []string {
	if e := strings.TrimSpace(h.first("license-expression")); e != "" && !strings.ContainsAny(e, "\r\n") {
		return []string{e}
	}
	if l := strings.TrimSpace(h.first("license")); l != "" && len(l) <= maxLicenseLen &&
		!strings.ContainsAny(l, "\r\n") && !strings.EqualFold(l, "UNKNOWN") {
		return []string{l}
	}
	var out []string
	for _, c := range h.all("classifier") {
		parts := strings.Split(c, "::")
		if len(parts) < 2 || strings.TrimSpace(parts[0]) != "License" {
			continue
		}
		last := strings.TrimSpace(parts[len(parts)-1])
		// "License :: OSI Approved" alone names no license.
		if (len(parts) == 2 && last == "OSI Approved") || last == "" {
			continue
		}
		out = append(out, last)
	}
	return out
}

type header struct{ name, value string }

type headers []header

func (h headers) first(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

func (h headers) all(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			out = append(out, strings.TrimSpace(f.value))
		}
	}
	return out
}

// readHeaders splits the header block the way email.feedparser does
// under the compat32 policy. Lines end at "\r\n", "\r" or "\n". A header
// line is a run of printable ASCII other than ':' and space followed by
// ':'; lines starting with a space or tab continue the previous header,
// their text kept after a newline.
func readHeaders(data []byte) headers {
	var (
		out  headers
		cur  = -1 // index of the header being continued
		rest = data
	)
	for len(rest) > 0 {
		var line []byte
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break // the separator before the body
		}
		switch {
		case line[0] == ' ' || line[0] == '\t':
			// A continuation before any header is dropped, as
			// email.parser drops it.
			if cur >= 0 {
				out[cur].value += "\n" + string(line)
			}
			continue
		case bytes.HasPrefix(line, []byte("From ")):
			// An mbox envelope line: not a header, and it ends the
			// header being continued.
			cur = -1
			continue
		}
		i := headerNameEnd(line)
		if i < 0 {
			break // the body starts without a separator
		}
		cur = -1
		if i == 0 {
			continue // ":value": a header without a name is skipped
		}
		out = append(out, header{
			name:  string(line[:i]),
			value: string(bytes.TrimLeft(line[i+1:], " \t")),
		})
		cur = len(out) - 1
	}
	return out
}

// headerNameEnd returns the index of the ':' that ends a header name, or
// -1 if line is not a header line.
func headerNameEnd(line []byte) int {
	for i, c := range line {
		switch {
		case c == ':':
			return i
		case c < 0x21 || c > 0x7e:
			return -1
		}
	}
	return -1
}

// nextLine returns the first line of data without its terminator, and
// what follows it.
func nextLine(data []byte) (line, rest []byte) {
	i := bytes.IndexAny(data, "\r\n")
	if i < 0 {
		return data, nil
	}
	if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
		return data[:i], data[i+2:]
	}
	return data[:i], data[i+1:]
}
