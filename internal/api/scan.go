package api

// Scanning on request: an inventory that `vigil scan --server` made on a
// pipeline's runner (POST /scan/inventory), or an SBOM in Amazon
// Inspector's ScanSbom shape (POST /scan/sbom), is matched, scored and
// judged for coverage with the server's vulnerability database, and the
// server's suppression rules are applied to it, as to a pushed image's
// findings. Nothing is stored. Both routes need a token that may push
// (pipeline or admin): a scan is the pipeline's work and costs the server
// work, while a read-only token reads what is stored.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/vigilsec/vigil/internal/lifecycle"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/sbom"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// Databases gives the current vulnerability database; release must be
// called when done with it.
type Databases interface {
	Acquire() (db *vulndb.DB, release func(), err error)
}

// MaxScanBody caps the body of the scan routes: an inventory or SBOM of a
// large image (25,000 packages, Go binaries' function lists) fits.
const MaxScanBody = 64 << 20

// CodeTooLarge is the code of a 413 answer.
const CodeTooLarge = "PAYLOAD_TOO_LARGE"

// bodyLimit is the body cap of a route.
func bodyLimit(path string) int64 {
	if strings.HasPrefix(path, "/scan/") {
		return MaxScanBody
	}
	return maxBody
}

// readScanBody reads a scan route's body: JSON, at most MaxScanBody bytes
// (413 beyond).
func readScanBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, badRequest("request body must be JSON (Content-Type: application/json), not %s", ct)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("request body is empty; a JSON object is expected")
	}
	return body, nil
}

func (h *handler) scanInventory(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	body, err := readScanBody(r)
	if err != nil {
		return err
	}
	var in scan.Inventory
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return badRequest("invalid inventory: %s", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("invalid inventory: data after the JSON object")
	}
	for i, p := range in.Packages {
		if p.Name == "" || p.Type == "" {
			return badRequest("invalid inventory: packages[%d] has no name or type", i)
		}
	}
	rep := &scan.Report{Subject: in.Subject, Distro: in.Distro, Packages: in.Packages, Warnings: in.Warnings, Time: h.now()}
	if err := h.evaluate(r.Context(), rep, in.Repository); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, scan.EncodeWire(rep))
}

// evaluate matches and scores the report with the server's database and
// applies the server's suppression rules: a suppressed finding is listed
// as ignored, naming the rule.
func (h *handler) evaluate(ctx context.Context, rep *scan.Report, repository string) error {
	if h.opts.DB == nil {
		return errorf(http.StatusNotFound, "this server does not scan on request")
	}
	db, release, err := h.opts.DB.Acquire()
	if errors.Is(err, vulndb.ErrNoDatabase) {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeNoDatabase,
			Message: "the server has no vulnerability database yet (vigil db update, or vigil db import DIR, on the server)"}
	}
	if err != nil {
		return err
	}
	defer release()
	if err := scan.Evaluate(ctx, db, rep); err != nil {
		return err
	}
	// Where the server keeps its database is its own business.
	rep.Database.Path = ""
	return h.suppress(ctx, rep, repository)
}

// CodeNoDatabase is the code of a 503: the server has no vulnerability
// database to scan with.
const CodeNoDatabase = "NO_DATABASE"

func (h *handler) suppress(ctx context.Context, rep *scan.Report, repository string) error {
	rules, err := h.opts.Store.Rules(ctx)
	if err != nil || len(rules) == 0 || len(rep.Findings) == 0 {
		return err
	}
	opts := report.Options{AccountID: h.opts.Account, Region: h.opts.Region, Now: rep.Time}
	observed, err := lifecycle.Observe(rep, repository, opts)
	if err != nil {
		return err
	}
	byID := make(map[string]*store.Finding, len(observed))
	for i := range observed {
		byID[observed[i].Finding.ID] = &observed[i].Finding
	}
	var tags []string
	for _, t := range rep.Subject.RepoTags {
		if i := strings.LastIndex(t, ":"); i >= 0 && !strings.Contains(t[i:], "/") {
			tags = append(tags, t[i+1:])
		}
	}
	rc := lifecycle.Reconciler{Region: h.opts.Region, Account: h.opts.Account}
	fctx := store.FindingContext{Tags: tags}
	kept := rep.Findings[:0:0]
	for _, f := range rep.Findings {
		sf := byID[lifecycle.ID(repository, rep.Subject.Digest, f.Pkg.PURL, f.Pkg.Path, f.ID)]
		if sf == nil {
			kept = append(kept, f)
			continue
		}
		rule, err := rc.Suppressing(sf, rules, fctx, rep.Time)
		if err != nil {
			return err
		}
		if rule == nil {
			kept = append(kept, f)
			continue
		}
		f.IgnoredBecause = fmt.Sprintf("suppressed by the server's rule %s: %s", rule.Name, rule.Reason)
		rep.Ignored = append(rep.Ignored, f)
	}
	rep.Findings = kept
	return nil
}

// Inspector's ScanSbom output formats.
const (
	outputCycloneDX15 = "CYCLONE_DX_1_5"
	outputInspector   = "INSPECTOR"
)

// sbomScan is ScanSbom's request.
type sbomScan struct {
	SBOM         json.RawMessage `json:"sbom"`
	OutputFormat string          `json:"outputFormat,omitempty"`
}

// scanSBOM is Amazon Inspector's ScanSbom (inspector-scan, POST
// /scan/sbom) at /api/v1/scan/sbom: {"sbom": DOCUMENT, "outputFormat":
// "CYCLONE_DX_1_5"|"INSPECTOR"} in, {"sbom": REPORT} out. It takes
// CycloneDX 1.4–1.6 and SPDX 2.3 JSON.
func (h *handler) scanSBOM(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	body, err := readScanBody(r)
	if err != nil {
		return err
	}
	var in sbomScan
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return badRequest("invalid ScanSbom request: %s", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("invalid ScanSbom request: data after the JSON object")
	}
	switch in.OutputFormat {
	case "":
		in.OutputFormat = outputCycloneDX15
	case outputCycloneDX15, outputInspector:
	default:
		return badRequest("outputFormat %q: use CYCLONE_DX_1_5 or INSPECTOR", in.OutputFormat)
	}
	doc := bytes.TrimSpace(in.SBOM)
	if len(doc) == 0 || bytes.Equal(doc, []byte("null")) {
		return badRequest("sbom is required: a CycloneDX 1.4–1.6 or SPDX 2.3 JSON document")
	}
	if err := sbomVersion(doc); err != nil {
		return err
	}
	subj, inv, err := sbom.Decode(bytes.NewReader(doc))
	if err != nil {
		return badRequest("sbom: %s", strings.TrimPrefix(err.Error(), "sbom: "))
	}
	rep := &scan.Report{Subject: scan.Subject{Name: subj.Name, Digest: subj.Digest, Platform: subj.Platform, RepoTags: subj.RepoTags, Layers: subj.Layers},
		Distro: inv.Distro, Packages: inv.Packages, Time: h.now()}
	if err := h.evaluate(r.Context(), rep, ""); err != nil {
		return err
	}
	var out any
	if in.OutputFormat == outputInspector {
		out = inspectorScanReport(rep)
	} else {
		raw, err := cycloneDX15Report(rep)
		if err != nil {
			return err
		}
		out = raw
	}
	return writeJSON(w, http.StatusOK, struct {
		SBOM any `json:"sbom"`
	}{out})
}

// sbomVersion refuses what ScanSbom does not take, saying what it takes.
func sbomVersion(doc []byte) error {
	if doc[0] != '{' {
		return badRequest("sbom must be a JSON object: a CycloneDX 1.4–1.6 or SPDX 2.3 document")
	}
	var probe struct {
		BOMFormat   *string `json:"bomFormat"`
		SpecVersion *string `json:"specVersion"`
		SPDXVersion *string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(doc, &probe); err != nil {
		return badRequest("sbom: %s", jsonProblem(err))
	}
	switch {
	case probe.BOMFormat != nil:
		if *probe.BOMFormat != "CycloneDX" {
			return badRequest("sbom: bomFormat %q, want \"CycloneDX\"", *probe.BOMFormat)
		}
		v := ""
		if probe.SpecVersion != nil {
			v = *probe.SpecVersion
		}
		if v != "1.4" && v != "1.5" && v != "1.6" {
			return badRequest("sbom: CycloneDX specVersion %q is not supported: use 1.4, 1.5 or 1.6", v)
		}
	case probe.SPDXVersion != nil:
		if *probe.SPDXVersion != "SPDX-2.3" {
			return badRequest("sbom: spdxVersion %q is not supported: use SPDX-2.3", *probe.SPDXVersion)
		}
	default:
		return badRequest("sbom: the document is neither CycloneDX (no bomFormat) nor SPDX (no spdxVersion)")
	}
	return nil
}

// Inspector's property names in a ScanSbom CycloneDX answer.
const inspectorProp = "amazon:inspector:sbom_scanner:"

// cycloneDX15Report is the report as Vigil's CycloneDX report
// (`vigil scan --format cyclonedx`) written in CycloneDX 1.5, with the
// properties ScanSbom's answer has: counts of vulnerabilities by severity
// in metadata, and on each vulnerability its fixed version per affected
// component, exploit_available and cisa_kev_date_added.
func cycloneDX15Report(rep *scan.Report) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := report.WriteCycloneDX(&buf, rep, report.Options{Tool: "vigil", Now: rep.Time}); err != nil {
		return nil, err
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(&buf, cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		return nil, fmt.Errorf("api: scan sbom: %w", err)
	}
	byID := map[string][]*scan.Finding{}
	for _, f := range rep.Findings {
		byID[f.ID] = append(byID[f.ID], f)
	}
	counts := map[string]int{}
	if bom.Vulnerabilities != nil {
		for i := range *bom.Vulnerabilities {
			v := &(*bom.Vulnerabilities)[i]
			fs := byID[v.ID]
			if v.Analysis != nil || len(fs) == 0 {
				continue // an ignored finding's entry
			}
			counts[inspectorBand(fs[0].Score.Severity)]++
			var props []cdx.Property
			if v.Properties != nil {
				props = *v.Properties
			}
			if fs[0].KEV != nil {
				props = append(props, cdx.Property{Name: inspectorProp + "exploit_available", Value: "true"})
				if !fs[0].KEV.DateAdded.IsZero() {
					props = append(props, cdx.Property{Name: inspectorProp + "cisa_kev_date_added", Value: fs[0].KEV.DateAdded.UTC().Format("2006-01-02T15:04:05Z")})
				}
			}
			if v.Affects != nil {
				for _, a := range *v.Affects {
					if a.Range == nil {
						continue
					}
					for _, r := range *a.Range {
						if r.Status == cdx.VulnerabilityStatusNotAffected && r.Version != "" {
							props = append(props, cdx.Property{Name: inspectorProp + "fixed_version:" + a.Ref, Value: r.Version})
						}
					}
				}
			}
			if len(props) > 0 {
				v.Properties = &props
			}
		}
	}
	if bom.Metadata != nil {
		var props []cdx.Property
		for _, band := range []string{"critical", "high", "medium", "low", "other"} {
			props = append(props, cdx.Property{Name: inspectorProp + band + "_vulnerabilities", Value: strconv.Itoa(counts[band])})
		}
		if bom.Metadata.Properties != nil {
			props = append(props, *bom.Metadata.Properties...)
		}
		bom.Metadata.Properties = &props
	}
	buf.Reset()
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_5); err != nil {
		return nil, fmt.Errorf("api: scan sbom: %w", err)
	}
	return json.RawMessage(bytes.TrimSpace(buf.Bytes())), nil
}

// inspectorBand is the counter a severity goes to in ScanSbom's counts.
func inspectorBand(severity string) string {
	switch severity {
	case score.Critical, score.High, score.Medium, score.Low:
		return strings.ToLower(severity)
	}
	return "other"
}

// inspectorScan is ScanSbom's INSPECTOR output format.
type inspectorScan struct {
	Messages           []inspectorMessage     `json:"messages"`
	VulnerabilityCount map[string]int         `json:"vulnerability_count"`
	Vulnerabilities    []inspectorScanFinding `json:"vulnerabilities"`
}

type inspectorMessage struct {
	Name string `json:"name,omitempty"`
	PURL string `json:"purl,omitempty"`
	Info string `json:"info"`
}

type inspectorScanFinding struct {
	ID          string                 `json:"id"`
	Severity    string                 `json:"severity"`
	Source      string                 `json:"source,omitempty"`
	Related     []string               `json:"related,omitempty"`
	Description string                 `json:"description,omitempty"`
	References  []string               `json:"references,omitempty"`
	Created     string                 `json:"created,omitempty"`
	Updated     string                 `json:"updated,omitempty"`
	Properties  inspectorScanProps     `json:"properties"`
	Affects     []inspectorScanAffects `json:"affects"`
}

type inspectorScanProps struct {
	CISAKEVDateAdded string              `json:"cisa_kev_date_added,omitempty"`
	CVSS             []inspectorScanCVSS `json:"cvss,omitempty"`
	EPSS             *float64            `json:"epss,omitempty"`
	ExploitAvailable bool                `json:"exploit_available"`
	// InspectorScore is Vigil's score of the finding, after every
	// adjustment, as Inspector findings' inspectorScore; absent when
	// nothing scored it.
	InspectorScore *float64 `json:"inspector_score,omitempty"`
}

type inspectorScanCVSS struct {
	Source          string  `json:"source"`
	Severity        string  `json:"severity"`
	CVSS3BaseScore  float64 `json:"cvss3_base_score,omitempty"`
	CVSS3BaseVector string  `json:"cvss3_base_vector,omitempty"`
	CVSS2BaseScore  float64 `json:"cvss2_base_score,omitempty"`
	CVSS2BaseVector string  `json:"cvss2_base_vector,omitempty"`
	CVSS4BaseScore  float64 `json:"cvss4_base_score,omitempty"`
	CVSS4BaseVector string  `json:"cvss4_base_vector,omitempty"`
}

type inspectorScanAffects struct {
	InstalledVersion string `json:"installed_version"`
	FixedVersion     string `json:"fixed_version,omitempty"`
	Path             string `json:"path,omitempty"`
}

// inspectorScanReport is the report in ScanSbom's INSPECTOR format: one
// entry per finding (a vulnerability in one package), so that each keeps
// its own score; messages say which packages could not be matched and
// what the scan could not assess.
func inspectorScanReport(rep *scan.Report) inspectorScan {
	out := inspectorScan{Messages: []inspectorMessage{}, VulnerabilityCount: map[string]int{"critical": 0, "high": 0, "medium": 0, "low": 0, "other": 0},
		Vulnerabilities: []inspectorScanFinding{}}
	for _, s := range rep.Skipped {
		m := inspectorMessage{PURL: s.PURL, Info: "Component skipped: " + s.Reason}
		if s.Package != nil {
			m.Name = s.Package.Name
		}
		out.Messages = append(out.Messages, m)
	}
	if c := rep.Coverage; c != nil {
		for _, g := range c.Gaps() {
			out.Messages = append(out.Messages, inspectorMessage{Info: "Not assessed: " + g})
		}
	}
	for _, f := range rep.Findings {
		out.VulnerabilityCount[inspectorBand(f.Score.Severity)]++
		e := inspectorScanFinding{
			ID: f.ID, Severity: strings.ToLower(f.Score.Severity), Source: f.SourceURL,
			Related: append(append([]string(nil), f.Aliases...), f.Related...), Description: f.Description,
			References: f.References,
		}
		if t := f.Published; t.Year() > 1 {
			e.Created = t.UTC().Format("2006-01-02T15:04:05Z")
		}
		if t := f.Modified; t.Year() > 1 {
			e.Updated = t.UTC().Format("2006-01-02T15:04:05Z")
		}
		if f.Score.Severity != score.Untriaged && f.Score.Severity != "" {
			s := f.Score.Score
			e.Properties.InspectorScore = &s
		}
		if f.EPSS != nil {
			s := f.EPSS.Score
			e.Properties.EPSS = &s
		}
		if f.KEV != nil {
			e.Properties.ExploitAvailable = true
			if !f.KEV.DateAdded.IsZero() {
				e.Properties.CISAKEVDateAdded = f.KEV.DateAdded.UTC().Format("2006-01-02T15:04:05Z")
			}
		}
		for _, s := range f.CVSS {
			c, err := score.FromSeverity(s)
			if err != nil {
				continue
			}
			src := c.Source
			if src == "" {
				src = s.Source
			}
			cv := inspectorScanCVSS{Source: src, Severity: strings.ToLower(score.SeverityOf(c.BaseScore))}
			switch {
			case strings.HasPrefix(c.Version, "2"):
				cv.CVSS2BaseScore, cv.CVSS2BaseVector = c.BaseScore, c.Vector
			case strings.HasPrefix(c.Version, "4"):
				cv.CVSS4BaseScore, cv.CVSS4BaseVector = c.BaseScore, c.Vector
			default:
				cv.CVSS3BaseScore, cv.CVSS3BaseVector = c.BaseScore, c.Vector
			}
			e.Properties.CVSS = append(e.Properties.CVSS, cv)
		}
		a := inspectorScanAffects{InstalledVersion: f.Pkg.PURL, Path: f.Pkg.Path}
		if f.FixedVersion != "" {
			a.FixedVersion = f.FixedVersion
		}
		e.Affects = []inspectorScanAffects{a}
		out.Vulnerabilities = append(out.Vulnerabilities, e)
	}
	return out
}
