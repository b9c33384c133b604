package report

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/version"
)

// tableWidth is the width the table is laid out for: readable in a
// 100-column terminal.
const tableWidth = 100

// The ANSI colors of the severities.
var severityColor = map[string]string{
	score.Critical:      "\x1b[1;31m", // bold red
	score.High:          "\x1b[31m",   // red
	score.Medium:        "\x1b[33m",   // yellow
	score.Low:           "\x1b[34m",   // blue
	score.Informational: "\x1b[2m",    // dim
	score.Untriaged:     "\x1b[35m",   // magenta: nobody has rated it
}

const colorReset = "\x1b[0m"

// WriteTable writes the report for a person at a terminal: the image,
// then the findings grouped by package — packages ordered by their worst
// finding, findings by score — and a summary of counts per severity.
// Ignored findings are listed after the summary with the reason.
func WriteTable(w io.Writer, r *scan.Report, opts Options) error {
	if r == nil {
		return errNoReport("table")
	}
	opts = opts.resolve(r)
	t := &table{opts: opts, change: r.Baseline != nil}
	t.header(r)
	active, ignored := findings(r)
	var malicious []*scan.Finding
	vulns := active[:0:0]
	for _, f := range active {
		if f.Malicious {
			malicious = append(malicious, f)
		} else {
			vulns = append(vulns, f)
		}
	}
	t.malicious(malicious)
	active = vulns
	switch {
	case len(active) == 0 && r.Coverage != nil && !r.Coverage.Full:
		// Nothing found in part of an image is not a clean image.
		t.line("No vulnerabilities found in what could be assessed; the image is not fully covered (below).")
	case len(active) == 0:
		t.line("No vulnerabilities found.")
	default:
		t.findings(active)
	}
	t.line("")
	t.summary(r, active, ignored)
	if _, err := w.Write(t.buf.Bytes()); err != nil {
		return fmt.Errorf("report: table: %w", err)
	}
	return nil
}

// malicious lists the packages that are malware, apart from and before
// the vulnerabilities: they are not to be upgraded but removed.
func (t *table) malicious(fs []*scan.Finding) {
	if len(fs) == 0 {
		return
	}
	t.line(fmt.Sprintf("MALICIOUS PACKAGES: %d (remove them; treat any machine that installed one as compromised)", len(fs)))
	for _, f := range fs {
		p := pkgOf(f)
		t.line(truncate(fmt.Sprintf("  %s  %s %s  %s", clean(f.ID), clean(p.Name), clean(p.Version), clean(p.Path)), tableWidth))
	}
	t.line("")
}

type table struct {
	opts Options
	buf  bytes.Buffer
	// change adds a CHANGE column: the report has a baseline.
	change bool
}

func (t *table) line(parts ...string) {
	t.buf.WriteString(strings.Join(parts, ""))
	t.buf.WriteByte('\n')
}

func (t *table) header(r *scan.Report) {
	field := func(name, value string) {
		if value != "" {
			t.line(fmt.Sprintf("%-9s %s", name, truncate(clean(value), tableWidth-10)))
		}
	}
	s := r.Subject
	field("Image", s.Name)
	field("Digest", s.Digest)
	field("Platform", s.Platform)
	if d := r.Distro; d != nil && d.ID != "" {
		v := d.String()
		if d.PrettyName != "" {
			v += " (" + d.PrettyName + ")"
		}
		field("Distro", v)
	}
	if db := r.Database; db != nil && !db.Built.IsZero() {
		field("Database", "built "+db.Built.UTC().Format("2006-01-02 15:04 MST")+", "+age(t.opts.Now.Sub(db.Built))+" old")
		if oldest, unknown, ok := db.Oldest(); ok || len(unknown) > 0 {
			v := ""
			if ok {
				v = "oldest feed relied on: " + oldest.Name + ", data as of " + oldest.DataAsOf.UTC().Format("2006-01-02") +
					" (" + age(t.opts.Now.Sub(oldest.DataAsOf)) + " old)"
			}
			if len(unknown) > 0 {
				v = strings.TrimPrefix(v+"; data age unknown: "+strings.Join(unknown, ", "), "; ")
			}
			field("Data", v)
		}
	} else {
		field("Database", "unknown")
	}
	t.line("")
}

// age says how long d is, in the largest unit that reads well.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0 minutes"
	case d < 2*time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// group is one package and its findings.
type group struct {
	pkg      *inventory.Package
	findings []*scan.Finding
}

// groupByPackage groups findings by package, packages ordered by their
// worst finding (as scan.Sort orders findings), then name and path.
func groupByPackage(fs []*scan.Finding) []*group {
	sorted := append([]*scan.Finding(nil), fs...)
	scan.Sort(sorted)
	var groups []*group
	index := map[*inventory.Package]*group{}
	byKey := map[string]*group{}
	for _, f := range sorted {
		p := pkgOf(f)
		g := index[p]
		key := p.PURL + "\x00" + p.Path + "\x00" + p.Name + "\x00" + p.Version
		if g == nil {
			// Equal packages behind different pointers (a report read
			// back from JSON) still form one group.
			g = byKey[key]
		}
		if g == nil {
			g = &group{pkg: p}
			groups = append(groups, g)
			byKey[key] = g
		}
		index[p] = g
		g.findings = append(g.findings, f)
	}
	// A group's first finding is its worst.
	sort.SliceStable(groups, func(i, j int) bool {
		a, b := groups[i].findings[0], groups[j].findings[0]
		if a.Score.Score != b.Score.Score {
			return a.Score.Score > b.Score.Score
		}
		if ra, rb := scan.Rank(a.Score.Severity), scan.Rank(b.Score.Severity); ra != rb {
			return ra < rb
		}
		pa, pb := groups[i].pkg, groups[j].pkg
		if pa.Name != pb.Name {
			return pa.Name < pb.Name
		}
		return pa.Path < pb.Path
	})
	return groups
}

func (t *table) findings(fs []*scan.Finding) {
	groups := groupByPackage(fs)
	// Column widths are shared by every group so that the table reads
	// as one.
	idW, sevW, fixW := len("ID"), len("SEVERITY"), len("FIX")
	for _, f := range fs {
		idW = max(idW, utf8.RuneCountInString(clean(f.ID)))
		sevW = max(sevW, len(f.Score.Severity))
		fixW = max(fixW, utf8.RuneCountInString(clean(fixLabel(f))))
	}
	idW, fixW = min(idW, 24), min(fixW, 22)
	const indent, scoreW, gap = 2, 5, 2
	titleW := max(tableWidth-indent-idW-sevW-scoreW-fixW-4*gap, 16)
	changeW := 0
	if t.change {
		changeW = len("unchanged")
		titleW = max(titleW-changeW-gap, 16)
	}
	row := func(change, id, sev, sc, fix, title, color string) {
		sevCell := pad(sev, sevW)
		if color != "" {
			sevCell = color + sevCell + colorReset
		}
		lead := "  "
		if t.change {
			lead += pad(change, changeW) + "  "
		}
		t.line(lead, pad(truncate(id, idW), idW), "  ", sevCell, "  ",
			fmt.Sprintf("%*s", scoreW, sc), "  ", pad(truncate(fix, fixW), fixW), "  ",
			strings.TrimRight(truncate(title, titleW), " "))
	}
	for i, g := range groups {
		if i > 0 {
			t.line("")
		}
		t.packageHeader(g)
		row("CHANGE", "ID", "SEVERITY", "SCORE", "FIX", "TITLE", "")
		for _, f := range g.findings {
			sc := "-"
			if scored(f) {
				sc = strconv.FormatFloat(f.Score.Score, 'f', 1, 64)
			}
			color := ""
			if t.opts.Color {
				color = severityColor[f.Score.Severity]
			}
			row(f.Change, clean(f.ID), f.Score.Severity, sc, clean(fixLabel(f)), titleOf(f), color)
		}
	}
}

// titleOf is the one-line summary the table shows: the description's
// first sentence, or the Inspector title; marked when the vulnerability
// is known to be exploited, its match is uncertain, or its code is not
// reachable in the image.
func titleOf(f *scan.Finding) string {
	title := clean(firstSentence(f.Description))
	if title == "" {
		title = clean(f.Title)
	}
	if f.NotReachable != "" {
		title = "[unreachable] " + title
	}
	if f.Uncertain != "" {
		title = "[uncertain] " + title
	}
	if f.KEV != nil {
		title = "[exploited] " + title
	}
	return title
}

func (t *table) packageHeader(g *group) {
	p := g.pkg
	name := clean(p.Name)
	if name == "" {
		name = "(unknown package)"
	}
	head := name + " " + clean(p.Version)
	if p.Type != "" {
		head += " (" + string(p.Type) + ")"
	}
	t.line(truncate(head+"  "+clean(packageFix(g.findings)), tableWidth))
	var where []string
	if l := p.Layer; l.DiffID != "" || l.Digest != "" {
		d := l.DiffID
		if d == "" {
			d = l.Digest
		}
		where = append(where, fmt.Sprintf("layer %d (%s)", l.Index, shortDigest(clean(d))))
	}
	if p.Path != "" {
		where = append(where, clean(p.Path))
	}
	if len(where) > 0 {
		t.line(truncate("  "+strings.Join(where, "  "), tableWidth))
	}
}

// packageFix says what fixes the package: the greatest fixed version
// among its findings, by the ecosystem's version order, and whether some
// findings have no fix.
func packageFix(fs []*scan.Finding) string {
	var fixed []string
	unfixed, wontfix := 0, 0
	for _, f := range fs {
		switch {
		case f.Fix == match.Fixed && f.FixedVersion != "":
			fixed = append(fixed, f.FixedVersion)
		case f.Fix == match.WillNotFix:
			wontfix++
		default:
			unfixed++
		}
	}
	if len(fixed) == 0 {
		if wontfix == len(fs) {
			return "(will not fix)"
		}
		return "(no fix)"
	}
	best := fixed[0]
	if cmp, err := version.For(fs[0].Ecosystem); err == nil {
		for _, v := range fixed[1:] {
			if c, err := cmp.Compare(v, best); err == nil && c > 0 {
				best = v
			}
		}
	}
	s := "fixed in " + best
	if n := unfixed + wontfix; n > 0 {
		s += fmt.Sprintf(" (%s without a fix)", plural(n, "finding"))
	}
	return s
}

func (t *table) summary(r *scan.Report, active, ignored []*scan.Finding) {
	counts := scan.Counts(active)
	var parts []string
	for _, sev := range scan.Severities {
		s := fmt.Sprintf("%s %d", sev, counts[sev])
		if c := severityColor[sev]; t.opts.Color && counts[sev] > 0 {
			s = c + s + colorReset
		}
		parts = append(parts, s)
	}
	t.line(fmt.Sprintf("Total: %d (%s)", len(active), strings.Join(parts, ", ")))
	if n := counts[score.Untriaged]; n > 0 {
		t.line(fmt.Sprintf("Untriaged: %s, for want of a score source (no CVSS or severity in any feed)", plural(n, "finding")))
	}
	if len(ignored) > 0 {
		t.line(fmt.Sprintf("Ignored: %d", len(ignored)))
		for _, f := range ignored {
			t.line(truncate(fmt.Sprintf("  %s  %s  %s", clean(f.ID), clean(pkgOf(f).Name), clean(f.IgnoredBecause)), tableWidth))
		}
	}
	if n := len(r.Skipped); n > 0 {
		t.line(fmt.Sprintf("Not matched: %s (see --format json for why)", plural(n, "package")))
	}
	if n := len(r.Warnings); n > 0 {
		t.line(fmt.Sprintf("Warnings: %d (see --format json)", n))
	}
	t.baseline(r)
	t.coverage(r)
	if v := dbVersion(r); v != "" {
		t.line("Vulnerability database: " + v)
	}
}

// dbVersion is the version of the database the report was made with, or
// "" when it is not known.
func dbVersion(r *scan.Report) string {
	if r.Database == nil {
		return ""
	}
	return r.Database.Version
}

// maxTableGaps bounds the coverage gaps the table lists.
const maxTableGaps = 20

// coverage lists what the scan could not assess, and what limits what it
// could.
func (t *table) coverage(r *scan.Report) {
	c := r.Coverage
	if c == nil {
		return
	}
	if gaps := c.Gaps(); len(gaps) > 0 {
		t.line(fmt.Sprintf("Coverage: PARTIAL (%s), not assessed:", c.Reason))
		for i, g := range gaps {
			if i == maxTableGaps {
				t.line(fmt.Sprintf("  … and %d more (see --format json)", len(gaps)-i))
				break
			}
			t.line("  " + clean(g))
		}
	}
	if limits := c.Limits(); len(limits) > 0 {
		t.line("Coverage limited:")
		for _, l := range limits {
			t.line(truncate("  "+clean(l), tableWidth))
		}
	}
}

// pad pads s with spaces to n runes.
func pad(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

// clean makes text from feeds and images safe to print on a terminal: it
// turns line breaks and tabs into spaces and drops other control
// characters (an escape sequence in a package description must not
// reach the terminal) and the bidirectional overrides that can make text
// read differently from what it is.
func clean(s string) string {
	ok := true
	for _, c := range s {
		if isUnsafe(c) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(' ')
		case isUnsafe(c):
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func isUnsafe(c rune) bool {
	return c < 0x20 || c == 0x7f || (0x80 <= c && c < 0xa0) ||
		(0x202a <= c && c <= 0x202e) || (0x2066 <= c && c <= 0x2069) ||
		c == utf8.RuneError
}

// maxTableFixed bounds the fixed findings the table lists.
const maxTableFixed = 50

// baseline says what changed since the baseline, and lists what was
// fixed.
func (t *table) baseline(r *scan.Report) {
	b := r.Baseline
	if b == nil {
		return
	}
	added, unchanged, fixed := r.Changes()
	line := fmt.Sprintf("Since baseline: %d new, %d unchanged, %d fixed", added, unchanged, fixed)
	if b.DatabaseVersion != "" {
		line += " (its database " + clean(b.DatabaseVersion) + ")"
	}
	t.line(truncate(line, tableWidth))
	from := "  baseline " + clean(b.Path)
	if !b.ScannedAt.IsZero() {
		from += ", scanned " + b.ScannedAt.UTC().Format("2006-01-02 15:04 MST")
	}
	t.line(truncate(from, tableWidth))
	for i, p := range b.Fixed {
		if i == maxTableFixed {
			t.line(fmt.Sprintf("  … and %d more fixed (see --format json)", len(b.Fixed)-maxTableFixed))
			break
		}
		t.line(truncate(fmt.Sprintf("  fixed  %s  %s %s  %s", clean(p.ID), clean(p.Package), clean(p.Version), clean(p.Severity)), tableWidth))
	}
}
