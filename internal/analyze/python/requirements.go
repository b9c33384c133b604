package python

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// ParseRequirements returns the exactly pinned requirements of a pip
// requirements file ("name==1.0", "name[extra] == 1.0 ; marker").
// Requirements that allow a range of versions name no version that is
// installed, so they are not packages; option lines (-r, -e, --index-url
// …), URL and path requirements are skipped too. Lines are read the way
// pip reads them: a trailing backslash joins the next line, and "#"
// starts a comment at the start of a line or after whitespace. A line
// that is not a valid requirement is reported in the error and the
// others are still returned.
func ParseRequirements(data []byte) ([]inventory.Package, error) {
	var (
		pkgs []inventory.Package
		errs errList
	)
	for _, l := range logicalLines(string(data)) {
		req := requirementPart(l.text)
		if req == "" {
			continue // an option line
		}
		name, version, err := parsePin(req)
		if err != nil {
			errs.add("line %d: %v", l.num, err)
			continue
		}
		if name == "" {
			continue
		}
		pkgs = append(pkgs, newPackage(name, version, inventory.Declared))
	}
	return pkgs, errs.err("python: requirements")
}

type logicalLine struct {
	text string
	num  int // of the first physical line
}

// commentRE is pip's: "#" at the start of a line or after whitespace. A
// "#" inside a word belongs to it (URL fragments such as "#egg=name").
// commentLineRE is the same pattern anchored at the start of the line, as
// pip's join_lines applies it (with re.match): only a line that is
// wholly a comment does not continue with a trailing backslash.
var (
	commentRE     = regexp.MustCompile(`(^|\s+)#.*$`)
	commentLineRE = regexp.MustCompile(`^\s*#`)
)

// logicalLines joins continued lines and strips comments and blank lines,
// as pip's req_file.preprocess does (without expanding ${VARS}).
func logicalLines(data string) []logicalLine {
	var (
		out     []logicalLine
		joined  []string
		primary int
		num     int
	)
	emit := func(n int, s string) {
		s = strings.TrimSpace(commentRE.ReplaceAllString(s, ""))
		if s != "" {
			out = append(out, logicalLine{s, n})
		}
	}
	for rest := data; rest != ""; {
		var line string
		line, rest = nextLineString(rest)
		num++
		comment := commentLineRE.MatchString(line)
		if !strings.HasSuffix(line, `\`) || comment {
			if comment {
				// Keeps a comment that follows a continuation a comment
				// once joined.
				line = " " + line
			}
			if joined != nil {
				emit(primary, strings.Join(append(joined, line), ""))
				joined = nil
			} else {
				emit(num, line)
			}
			continue
		}
		if joined == nil {
			primary = num
		}
		joined = append(joined, strings.Trim(line, `\`))
	}
	if joined != nil {
		emit(primary, strings.Join(joined, ""))
	}
	return out
}

func nextLineString(s string) (line, rest string) {
	i := strings.IndexAny(s, "\r\n")
	if i < 0 {
		return s, ""
	}
	if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
		return s[:i], s[i+2:]
	}
	return s[:i], s[i+1:]
}

// requirementPart returns the requirement of a logical line without the
// per-requirement options that may follow it ("--hash=…"): like pip, the
// space-separated words before the first one starting with "-". It is
// empty for option lines.
func requirementPart(line string) string {
	words := strings.Split(line, " ")
	for i, w := range words {
		if strings.HasPrefix(w, "-") {
			words = words[:i]
			break
		}
	}
	return strings.TrimSpace(strings.Join(words, " "))
}

// Version specifier operators, longest first so that "===" is not read
// as "==" followed by "=".
var operators = []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"}

// parsePin parses a PEP 508 requirement and returns its name and version
// if it pins exactly one version, or an empty name if it does not. URL
// and path requirements, which pip also accepts on a line, are not pins.
func parsePin(req string) (name, version string, err error) {
	name, version, err = parsePEP508(req)
	if err != nil && looksLikeLocation(req) {
		return "", "", nil
	}
	return name, version, err
}

func parsePEP508(req string) (string, string, error) {
	s := req
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i] // environment markers do not change the pin
	}
	s = strings.TrimSpace(s)
	n := 0
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	name := s[:n]
	if name == "" || !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return "", "", fmt.Errorf("not a requirement: %q", truncate(req))
	}
	s = strings.TrimSpace(s[n:])
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || strings.ContainsAny(s[1:end], "[") {
			return "", "", fmt.Errorf("unterminated extras in %q", truncate(req))
		}
		s = strings.TrimSpace(s[end+1:])
	}
	switch {
	case s == "", strings.HasPrefix(s, "@"):
		return "", "", nil // any version, or a direct URL reference
	case strings.HasPrefix(s, "("):
		if !strings.HasSuffix(s, ")") {
			return "", "", fmt.Errorf("unbalanced parenthesis in %q", truncate(req))
		}
		s = s[1 : len(s)-1]
	}
	clauses := strings.Split(s, ",")
	var op, version string
	for _, c := range clauses {
		c = strings.TrimSpace(c)
		o := ""
		for _, cand := range operators {
			if strings.HasPrefix(c, cand) {
				o = cand
				break
			}
		}
		v := strings.TrimSpace(strings.TrimPrefix(c, o))
		if o == "" || v == "" || strings.ContainsAny(v, " \t()") {
			return "", "", fmt.Errorf("bad version specifier %q in %q", truncate(c), truncate(req))
		}
		op, version = o, v
	}
	if len(clauses) != 1 {
		return "", "", nil // a range, even if one clause is "=="
	}
	switch {
	case strings.Contains(version, "${"):
		// pip substitutes environment variables; their values are
		// not in the image.
		return "", "", nil
	case op == "===":
		return name, version, nil
	case op == "==" && !strings.Contains(version, "*"):
		if !validVersion(version) {
			return "", "", fmt.Errorf("bad version %q in %q", truncate(version), truncate(req))
		}
		return name, version, nil
	}
	return "", "", nil
}

// validVersion accepts the characters of PEP 440 versions, including
// local labels ("1.0+ubuntu.1") and forms pip normalizes ("v1.0",
// "1.0-rc_1").
func validVersion(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && !strings.ContainsRune(".+!_-", rune(c)) {
			return false
		}
	}
	return true
}

// looksLikeLocation reports whether a requirement line names a file, a
// directory or a URL to install from, which pip accepts in place of a
// PEP 508 requirement.
func looksLikeLocation(req string) bool {
	if strings.Contains(req, "://") || strings.ContainsAny(req, `/\`) || strings.HasPrefix(req, ".") {
		return true
	}
	r := strings.ToLower(strings.TrimSpace(req))
	for _, ext := range []string{".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar"} {
		if strings.HasSuffix(r, ext) {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isNameByte(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' }
