package binary

import (
	"regexp"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// A Class is one program this cataloger recognises: the package it is
// reported as, the CPE NVD names it by, and the patterns its version
// string has in the program's constant data. Each pattern's first group
// is the version.
type Class struct {
	// Name is the package name, as Syft and Grype name the same
	// programs ("node", "python", "openssl").
	Name string
	// Vendor and Product are the CPE's ("nodejs", "node.js").
	Vendor, Product string
	Patterns        []*regexp.Regexp
}

// The classes. Version patterns are bounded (no unbounded repetition), so
// that a match never spans more than a few dozen bytes.
var (
	Node = &Class{Name: "node", Vendor: "nodejs", Product: "node.js", Patterns: []*regexp.Regexp{
		// process.release and the default user agent: "node.js/v18.19.0".
		regexp.MustCompile(`node\.js/v([0-9]{1,3}\.[0-9]{1,4}\.[0-9]{1,4})`),
	}}
	Python = &Class{Name: "python", Vendor: "python", Product: "python", Patterns: []*regexp.Regexp{
		// PY_VERSION, a string of its own: "\x003.11.2\x00".
		regexp.MustCompile(`\x00([23]\.[0-9]{1,2}\.[0-9]{1,3}(?:(?:a|b|rc)[0-9]{1,2})?)\+?\x00`),
	}}
	OpenSSL = &Class{Name: "openssl", Vendor: "openssl", Product: "openssl", Patterns: []*regexp.Regexp{
		// OPENSSL_VERSION_TEXT: "OpenSSL 3.0.13 30 Jan 2024",
		// "OpenSSL 1.1.1w  11 Sep 2023", "OpenSSL 3.0.12+quic 24 Oct 2023".
		regexp.MustCompile(`OpenSSL ([0-9]\.[0-9]{1,2}\.[0-9]{1,2}[a-z]{0,2})(?:[+-][0-9A-Za-z.]{1,16})? {1,2}[0-9]{1,2} [A-Z][a-z]{2} [0-9]{4}`),
	}}
	BusyBox = &Class{Name: "busybox", Vendor: "busybox", Product: "busybox", Patterns: []*regexp.Regexp{
		// The banner: "BusyBox v1.36.1 (2023-…)".
		regexp.MustCompile(`BusyBox v([0-9]{1,2}\.[0-9]{1,3}\.[0-9]{1,3})`),
	}}
	Curl = &Class{Name: "curl", Vendor: "haxx", Product: "curl", Patterns: []*regexp.Regexp{
		// The user agent, "curl/8.5.0" (libcurl's "libcurl/8.5.0").
		regexp.MustCompile(`curl/([0-9]{1,2}\.[0-9]{1,3}\.[0-9]{1,3})`),
	}}
	OpenJDK = &Class{Name: "openjdk", Vendor: "oracle", Product: "openjdk"}
)

// pythonClass is Python whose version must be of release minor
// ("3.11"), as the file's name says (python3.11, libpython3.11.so.1.0).
func pythonClass(minor string) *Class {
	return &Class{Name: Python.Name, Vendor: Python.Vendor, Product: Python.Product, Patterns: []*regexp.Regexp{
		regexp.MustCompile(`\x00(` + regexp.QuoteMeta(minor) + `\.[0-9]{1,3}(?:(?:a|b|rc)[0-9]{1,2})?)\+?\x00`),
	}}
}

// CPE is the class's CPE 2.3 formatted string at version v.
func (c *Class) CPE(v string) string {
	return "cpe:2.3:a:" + cpeEscape(c.Vendor) + ":" + cpeEscape(c.Product) + ":" + cpeEscape(v) + ":*:*:*:*:*:*:*"
}

// cpeEscape quotes the characters the CPE 2.3 formatted string binding
// reserves; letters, digits, "_", "-" and "." stand as they are.
func cpeEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Package is the package of the class at version v.
func (c *Class) Package(v string) inventory.Package {
	return inventory.Package{
		Name:      c.Name,
		Version:   v,
		Type:      inventory.Generic,
		CPEs:      []string{c.CPE(v)},
		Cataloger: Cataloger{}.Name(),
		Evidence:  inventory.Installed,
		Metadata:  map[string]string{"binary.class": c.Name},
	}
}
