package report

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
)

const (
	sarifSchema       = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion      = "2.1.0"
	sarifFingerprint  = "vigilFinding/v1"
	maxSARIFDescLen   = 1024
	sarifLevelError   = "error"
	sarifLevelWarning = "warning"
	sarifLevelNote    = "note"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]string `json:"properties,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	ShortDescription     sarifText       `json:"shortDescription"`
	FullDescription      sarifText       `json:"fullDescription"`
	HelpURI              string          `json:"helpUri,omitempty"`
	Help                 sarifHelp       `json:"help"`
	DefaultConfiguration sarifConfig     `json:"defaultConfiguration"`
	Properties           sarifProperties `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifProperties struct {
	SecuritySeverity string   `json:"security-severity,omitempty"`
	Tags             []string `json:"tags"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	// BaselineState is "new" or "unchanged" against --baseline.
	BaselineState string `json:"baselineState,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

// sarifLevel maps a severity to a SARIF result level.
func sarifLevel(severity string) string {
	switch severity {
	case score.Critical, score.High:
		return sarifLevelError
	case score.Medium:
		return sarifLevelWarning
	}
	return sarifLevelNote
}

// WriteSARIF writes the report as a SARIF 2.1.0 log: one run whose
// driver has one rule per vulnerability id and one result per finding, in
// the subset of SARIF that GitHub code scanning reads.
//
//   - A rule has the vulnerability id; shortDescription, the first
//     sentence of the description; fullDescription; help, in text and as
//     a Markdown table of the affected packages; helpUri, the advisory;
//     properties.security-severity, the highest score among the rule's
//     findings as GitHub wants it (a number in a string; absent when
//     nothing scored the vulnerability); properties.tags ("security",
//     "vulnerability", the severity, "known-exploited" for KEV).
//   - A result has ruleId and ruleIndex; level, error for CRITICAL and
//     HIGH, warning for MEDIUM, note for LOW, INFORMATIONAL and
//     UNTRIAGED; a message naming the package, its version, the severity,
//     the fix and the layer; one location, the file in the image the
//     package was read from, relative to the image root (the repository
//     name when the package has no file); and
//     partialFingerprints["vigilFinding/v1"], a hash of the repository,
//     the package's type, name and file, and the vulnerability id, which
//     stays the same when the image is rebuilt or the package upgraded
//     but still vulnerable. primaryLocationLineHash is GitHub's own key,
//     computed from source lines, and is left to it.
//   - An ignored finding is a result with a suppression of kind
//     "external" whose justification is the reason; GitHub shows it as
//     dismissed.
//   - Coverage: run.properties.coverage is FULL or PARTIAL and
//     coverageReason its reason (SUCCESSFUL, UNSUPPORTED_OS, …); the
//     run's one invocation carries a toolExecutionNotification of level
//     warning for each gap ("npm: 55 packages, no feed") and of level
//     note for each limit of what was covered.
//   - run.properties.databaseVersion names the vulnerability database
//     the scan used.
//
// GitHub bounds shortDescription and fullDescription to 1,024
// characters; they are cut to fit.
func WriteSARIF(w io.Writer, r *scan.Report, opts Options) error {
	if r == nil {
		return errNoReport("sarif")
	}
	opts = opts.resolve(r)
	active, ignored := findings(r)
	scan.Sort(active)
	scan.Sort(ignored)
	all := append(append([]*scan.Finding{}, active...), ignored...)

	byID := map[string][]*scan.Finding{}
	var ids []string
	for _, f := range all {
		if _, ok := byID[f.ID]; !ok {
			ids = append(ids, f.ID)
		}
		byID[f.ID] = append(byID[f.ID], f)
	}
	ruleIndex := map[string]int{}
	rules := make([]sarifRule, 0, len(ids))
	for _, id := range ids {
		ruleIndex[id] = len(rules)
		rules = append(rules, sarifRuleOf(id, byID[id], r))
	}

	repo := nameOf(r.Subject).Repo
	results := make([]sarifResult, 0, len(all))
	for i, f := range all {
		res := sarifResultOf(f, r, repo)
		res.RuleIndex = ruleIndex[f.ID]
		res.BaselineState = f.Change
		if i >= len(active) {
			res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.IgnoredBecause}}
		}
		results = append(results, res)
	}

	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: opts.Tool, Version: opts.Version, InformationURI: infoURI, Rules: rules,
		}},
		Results:    results,
		Properties: map[string]string{},
	}
	if c := r.Coverage; c != nil {
		inv := sarifInvocation{ExecutionSuccessful: true}
		for _, g := range c.Gaps() {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: sarifLevelWarning, Message: sarifText{"not assessed: " + g}})
		}
		for _, l := range c.Limits() {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: sarifLevelNote, Message: sarifText{"coverage limited: " + l}})
		}
		run.Invocations = []sarifInvocation{inv}
		run.Properties["coverage"], run.Properties["coverageReason"] = "PARTIAL", c.Reason
		if c.Full {
			run.Properties["coverage"] = "FULL"
		}
	}
	for k, v := range map[string]string{
		"imageName": r.Subject.Name, "imageDigest": r.Subject.Digest,
		"platform": r.Subject.Platform, "distro": r.Distro.String(),
		"databaseVersion": dbVersion(r),
	} {
		if v != "" {
			run.Properties[k] = v
		}
	}
	return writeJSON(w, "sarif", sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}

// sarifRuleOf describes one vulnerability from all its findings.
func sarifRuleOf(id string, fs []*scan.Finding, r *scan.Report) sarifRule {
	worst := fs[0]
	desc := ""
	for _, f := range fs {
		if scored(f) && (!scored(worst) || f.Score.Score > worst.Score.Score) {
			worst = f
		}
		if desc == "" {
			desc = strings.TrimSpace(f.Description)
		}
	}
	short := firstSentence(desc)
	if short == "" {
		short = worst.Title
	}
	if desc == "" {
		desc = short
	}
	rule := sarifRule{
		ID:                   id,
		ShortDescription:     sarifText{truncate(short, maxSARIFDescLen)},
		FullDescription:      sarifText{truncate(desc, maxSARIFDescLen)},
		HelpURI:              absURL(worst.SourceURL),
		DefaultConfiguration: sarifConfig{Level: sarifLevel(worst.Score.Severity)},
		Properties:           sarifProperties{Tags: []string{"security", "vulnerability", worst.Score.Severity}},
	}
	if scored(worst) {
		rule.Properties.SecuritySeverity = strconv.FormatFloat(worst.Score.Score, 'f', 1, 64)
	}
	for _, f := range fs {
		if f.KEV != nil {
			rule.Properties.Tags = append(rule.Properties.Tags, "known-exploited")
			break
		}
	}
	rule.Help = sarifHelpOf(id, desc, fs, worst)
	return rule
}

func sarifHelpOf(id, desc string, fs []*scan.Finding, worst *scan.Finding) sarifHelp {
	var text, md strings.Builder
	sev := worst.Score.Severity
	if scored(worst) {
		sev += " " + strconv.FormatFloat(worst.Score.Score, 'f', 1, 64)
	}
	fmt.Fprintf(&text, "%s (%s)\n\n%s\n\n", id, sev, desc)
	fmt.Fprintf(&md, "**%s** (%s)\n\n%s\n\n| Package | Installed | Fix | File |\n| --- | --- | --- | --- |\n", mdCell(id), sev, mdText(desc))
	for _, f := range fs {
		p := pkgOf(f)
		fmt.Fprintf(&text, "%s %s: %s (%s)\n", p.Name, p.Version, fixLabel(f), p.Path)
		fmt.Fprintf(&md, "| %s | %s | %s | %s |\n", mdCell(p.Name), mdCell(p.Version), mdCell(fixLabel(f)), mdCell(p.Path))
	}
	var refs []string
	for _, u := range uniq([]string{worst.SourceURL}, worst.References) {
		if u = absURL(u); u != "" {
			refs = append(refs, u)
		}
	}
	if len(refs) > 0 {
		text.WriteString("\nReferences:\n")
		md.WriteString("\nReferences:\n")
		for _, u := range refs {
			fmt.Fprintf(&text, "%s\n", u)
			fmt.Fprintf(&md, "- <%s>\n", u)
		}
	}
	return sarifHelp{Text: text.String(), Markdown: md.String()}
}

func sarifResultOf(f *scan.Finding, r *scan.Report, repo string) sarifResult {
	p := pkgOf(f)
	msg := fmt.Sprintf("%s %s is affected by %s", p.Name, p.Version, f.ID)
	if scored(f) {
		msg += fmt.Sprintf(" (%s, score %.1f)", f.Score.Severity, f.Score.Score)
	} else {
		msg += " (" + score.Untriaged + ")"
	}
	msg += ". " + advice(f)
	if l := p.Layer; l.DiffID != "" || l.Digest != "" {
		d := l.DiffID
		if d == "" {
			d = l.Digest
		}
		msg += fmt.Sprintf(" Installed by layer %d (%s) of %s.", l.Index, d, r.Subject.Name)
	}
	uri := artifactURI(p.Path)
	if uri == "" {
		uri = artifactURI(repo)
	}
	return sarifResult{
		RuleID:  f.ID,
		Level:   sarifLevel(f.Score.Severity),
		Message: sarifText{msg},
		Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
			ArtifactLocation: sarifArtifact{URI: uri},
			Region:           sarifRegion{StartLine: 1},
		}}},
		PartialFingerprints: map[string]string{
			sarifFingerprint: fingerprint(repo, string(p.Type), p.Name, p.Path, f.ID),
		},
	}
}

// artifactURI makes an image path a relative URI reference, as code
// scanning wants paths relative to the root ("var/lib/dpkg/status").
func artifactURI(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return ""
	}
	u := url.URL{Path: p}
	return u.String()
}

// absURL returns u when it is an absolute http(s) URL, else "": SARIF
// requires URIs where it asks for them, and feed data is not checked.
func absURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return p.String()
}

// mdText keeps feed text from adding HTML to the Markdown help.
func mdText(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;").Replace(s)
}

// mdCell keeps text in one table cell: no line breaks, no column
// separators.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(mdText(s))
}
