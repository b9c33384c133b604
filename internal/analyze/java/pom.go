package java

import (
	"archive/zip"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// isPomProperties reports whether name is
// META-INF/maven/<groupId>/<artifactId>/pom.properties.
func isPomProperties(name string) bool {
	rest, ok := strings.CutPrefix(name, "META-INF/maven/")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	return len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] == "pom.properties"
}

// pomPackage reads the package described by the pom.properties in zf.
func (w *walker) pomPackage(zf *zip.File) (inventory.Package, error) {
	data, err := w.readSmall(zf, w.lim.small)
	if err != nil {
		return inventory.Package{}, err
	}
	return parsePom(zf.Name, data)
}

// parsePom returns the package of a pom.properties file at name.
func parsePom(name string, data []byte) (inventory.Package, error) {
	props := parseProperties(data)
	dirs := strings.Split(name, "/") // META-INF maven <groupId> <artifactId> pom.properties
	group, artifact, version := props["groupId"], props["artifactId"], props["version"]
	if group == "" {
		group = dirs[2]
	}
	if artifact == "" {
		artifact = dirs[3]
	}
	switch {
	case version == "":
		return inventory.Package{}, errors.New("no version")
	case !validID(group):
		return inventory.Package{}, fmt.Errorf("invalid groupId %s", strconv.Quote(truncate(group)))
	case !validID(artifact):
		return inventory.Package{}, fmt.Errorf("invalid artifactId %s", strconv.Quote(truncate(artifact)))
	case !validVersion(version):
		return inventory.Package{}, fmt.Errorf("invalid version %s", strconv.Quote(truncate(version)))
	}
	return inventory.Package{
		Name:      group + ":" + artifact,
		Version:   version,
		Type:      inventory.Maven,
		Cataloger: "java",
		Evidence:  inventory.Installed,
	}, nil
}

// validID reports whether s can be a Maven groupId or artifactId: Maven
// allows letters, digits, '-', '_' and '.'.
func validID(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validVersion reports whether Maven would accept s as a version: no
// blanks or control characters, none of the characters it bans from
// versions because they are special in file names.
func validVersion(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`\/:"<>|?*`, r) {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// parseProperties reads a Java .properties file as java.util.Properties
// does: "key=value", "key: value" or "key value" per logical line, '#'
// and '!' comments, a trailing backslash continuing a line, and the escapes
// \t \n \r \f \uXXXX. Later keys replace earlier ones. Values are trimmed
// (Java keeps trailing blanks, which no build tool means).
func parseProperties(data []byte) map[string]string {
	props := make(map[string]string)
	s := string(data)
	for s != "" {
		var line string
		line, s = cutLine(s)
		line = strings.TrimLeft(line, " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for endsInEscape(line) {
			line = line[:len(line)-1]
			if s == "" {
				break
			}
			var next string
			next, s = cutLine(s)
			line += strings.TrimLeft(next, " \t\f")
		}
		key, value := splitProperty(line)
		props[unescape(key)] = strings.TrimSpace(unescape(value))
	}
	return props
}

// cutLine splits s after its first line, which ends at "\n", "\r" or
// "\r\n".
func cutLine(s string) (line, rest string) {
	i := strings.IndexAny(s, "\r\n")
	if i < 0 {
		return s, ""
	}
	if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
		return s[:i], s[i+2:]
	}
	return s[:i], s[i+1:]
}

// endsInEscape reports whether line ends in an odd number of backslashes,
// the last of which joins the next line to it.
func endsInEscape(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line at the first unescaped '=', ':' or
// blank, and the blanks and one '=' or ':' that follow.
func splitProperty(line string) (key, value string) {
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
	}
	if i >= len(line) {
		return line, ""
	}
	key, rest := line[:i], line[i:]
	sep := rest[0] == '=' || rest[0] == ':'
	if sep {
		rest = rest[1:]
	}
	rest = strings.TrimLeft(rest, " \t\f")
	if !sep && rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

// unescape resolves the backslash escapes of a properties key or value.
// A malformed \u escape is kept as written.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 <= len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 16); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteString(`\u`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
