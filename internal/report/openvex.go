package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/scan"
)

// OpenVEXContext is the @context of the OpenVEX version written.
const OpenVEXContext = "https://openvex.dev/ns/v0.2.0"

// WriteOpenVEX writes the report as an OpenVEX v0.2.0 document: what the
// scan found, stated per vulnerability for the image.
//
// The product of every statement is the image, identified by its OCI
// package URL (pkg:oci/NAME@sha256%3A…?repository_url=HOST/REPO) as @id
// and identifiers.purl; the affected packages are its subcomponents, by
// purl. Findings of one vulnerability with the same status make one
// statement:
//
//   - active findings are "affected", with an action_statement saying how
//     to fix each package, or "under_investigation" when the package's
//     version could not be compared with the advisory (status_notes says
//     why);
//   - ignored findings whose reason is a VEX statement or names an
//     OpenVEX justification are "not_affected" (with the justification,
//     or with the reason as impact_statement when it names none) or
//     "fixed"; the reason is kept in status_notes. Other ignored findings
//     (an ignore file's free-text reason) stay "affected", with the
//     reason in status_notes: an ignore entry is a decision about a
//     report, not a statement that the image is safe.
//
// The document's @id is a name-based UUID URN of its content, so the same
// report and time give the same document. A report without findings
// gives a document with no statements, which the OpenVEX JSON schema,
// wanting at least one, does not accept: there is nothing to state.
func WriteOpenVEX(w io.Writer, r *scan.Report, opts Options) error {
	if r == nil {
		return errNoReport("openvex")
	}
	opts = opts.resolve(r)
	doc := vexDoc{
		Context:    OpenVEXContext,
		Author:     opts.Tool,
		Timestamp:  opts.Now.Format(time.RFC3339),
		Version:    1,
		Tooling:    opts.toolName(),
		Statements: vexStatements(r),
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, "openvex", doc); err != nil {
		return err
	}
	doc.ID = "urn:uuid:" + nameUUID(buf.Bytes())
	return writeJSON(w, "openvex", doc)
}

type vexDoc struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Author     string         `json:"author"`
	Timestamp  string         `json:"timestamp"`
	Version    int            `json:"version"`
	Tooling    string         `json:"tooling,omitempty"`
	Statements []vexStatement `json:"statements"`
}

type vexStatement struct {
	Vulnerability   vexVuln      `json:"vulnerability"`
	Products        []vexProduct `json:"products"`
	Status          string       `json:"status"`
	StatusNotes     string       `json:"status_notes,omitempty"`
	Justification   string       `json:"justification,omitempty"`
	ImpactStatement string       `json:"impact_statement,omitempty"`
	ActionStatement string       `json:"action_statement,omitempty"`
}

type vexVuln struct {
	ID      string   `json:"@id,omitempty"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
}

type vexProduct struct {
	ID            string            `json:"@id"`
	Identifiers   map[string]string `json:"identifiers"`
	Subcomponents []vexComponent    `json:"subcomponents,omitempty"`
}

type vexComponent struct {
	ID          string            `json:"@id"`
	Identifiers map[string]string `json:"identifiers"`
}

// vexStatements makes the statements, in the order of the findings
// (active by severity, then ignored).
func vexStatements(r *scan.Report) []vexStatement {
	active, ignored := findings(r)
	scan.Sort(active)
	scan.Sort(ignored)
	image := ociPURL(r.Subject)
	out := []vexStatement{}
	index := map[string]int{}
	purls := map[int]map[string]bool{}
	actions := map[int][]string{}
	add := func(f *scan.Finding, st vexStatement) {
		key := strings.Join([]string{f.ID, st.Status, st.Justification, st.ImpactStatement, st.StatusNotes}, "\x00")
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			purls[i] = map[string]bool{}
			st.Vulnerability = vexVuln{ID: idURL(f.ID), Name: f.ID, Aliases: uniq(f.Aliases)}
			st.Products = []vexProduct{{ID: image, Identifiers: map[string]string{"purl": image}}}
			out = append(out, st)
		}
		if purl := purlOf(pkgOf(f), r.Distro); purl != "" && !purls[i][purl] {
			purls[i][purl] = true
			p := &out[i].Products[0]
			p.Subcomponents = append(p.Subcomponents, vexComponent{ID: purl, Identifiers: map[string]string{"purl": purl}})
		}
		if st.Status == "affected" {
			actions[i] = append(actions[i], advice(f))
		}
	}
	for _, f := range active {
		if f.Uncertain != "" {
			add(f, vexStatement{Status: "under_investigation", StatusNotes: f.Uncertain})
			continue
		}
		add(f, vexStatement{Status: "affected"})
	}
	for _, f := range ignored {
		reason := f.IgnoredBecause
		switch v := verdictOf(reason); v.status {
		case "not_affected":
			st := vexStatement{Status: v.status, Justification: v.justification, StatusNotes: reason}
			if v.justification == "" {
				st = vexStatement{Status: v.status, ImpactStatement: reason}
			}
			add(f, st)
		case "fixed":
			add(f, vexStatement{Status: "fixed", StatusNotes: reason})
		default:
			add(f, vexStatement{Status: "affected", StatusNotes: "ignored in this report: " + reason})
		}
	}
	for i, a := range actions {
		out[i].ActionStatement = strings.Join(uniq(a), " ")
	}
	return out
}

// ociPURL is the image's package URL (purl type "oci"): the repository's
// last path segment as name, the manifest digest as version, and the
// repository as repository_url, written as the purl specification's OCI
// examples write them (pkg:oci/debian@sha256%3A…?repository_url=
// docker.io/library/debian).
func ociPURL(s scan.Subject) string {
	n := nameOf(s)
	name := n.Repo
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	purl := "pkg:oci/" + purlEscape(name, "")
	if s.Digest != "" {
		purl += "@" + purlEscape(s.Digest, "")
	}
	repo := n.Repo
	if n.Host != "" {
		repo = n.Host + "/" + repo
	}
	return purl + "?repository_url=" + purlEscape(repo, "/:")
}

// purlEscape percent-encodes every byte of s but letters, digits, ".",
// "-", "_", "~" and those in keep.
func purlEscape(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			strings.IndexByte(".-_~", c) >= 0 || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
