package report

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/score"
)

// InspectorFinding is an Amazon Inspector v2 finding of type
// PACKAGE_VULNERABILITY on an AWS_ECR_CONTAINER_IMAGE resource, with the
// field names and values of the Inspector2 API (ListFindings), so that
// tooling written for Inspector reads it unchanged. What Vigil fills in
// where Inspector leaves a field empty or has nothing to say for an
// image scanned outside AWS:
//
//   - findingArn ends in 32 hex digits derived from the image digest (the
//     name when there is none), the package purl, the package's path and
//     the vulnerability id: the same finding keeps its ARN across scans,
//     and findings of different packages, files or images differ.
//   - firstObservedAt, lastObservedAt and updatedAt are the scan time: a
//     one-off scan has no history. Timestamps are epoch seconds (with
//     milliseconds), as JSON numbers, as in API responses.
//   - status is ACTIVE; findings the report ignored (ignore file, VEX)
//     are included with status SUPPRESSED, as findings matched by an
//     Inspector suppression rule are.
//   - description is the advisory's summary (cut to Inspector's 1,024
//     characters), else the title.
//   - remediation.recommendation.text says what to do in a sentence;
//     Url (spelt so, as Inspector's API spells it) points at the
//     advisory.
//   - inspectorScore and inspectorScoreDetails.adjustedCvss are Vigil's
//     score: adjustedCvss.score is the adjusted score, scoreSource where
//     its base came from (VENDOR, NVD, as in package score), cvssSource
//     who published the vector (NVD, or the vendor feed), adjustments
//     every signal considered. Both are absent for UNTRIAGED findings;
//     adjustedCvss is absent when no vector was used (a vendor severity
//     word or a KEV floor), as Inspector requires a vector there.
//   - exploitAvailable is YES when CISA's KEV catalog lists the
//     vulnerability (exploitation is known), else NO;
//     exploitabilityDetails.lastKnownExploitAt is the date CISA added it.
//   - fixAvailable is YES or NO: each finding has one package, so
//     Inspector's PARTIAL (some of several packages fixed) does not arise.
//   - packageVulnerabilityDetails.source is Vigil's feed name
//     ("debian/dsa", "osv/Go"); vendorSeverity the vendor's own word, or
//     the band of the vendor's CVSS vector.
//   - vulnerablePackages[]: version, epoch and release are split as
//     Inspector reports them for RPM, Debian and Alpine packages;
//     fixedInVersion is "NotAvailable" without a fix, as Inspector writes
//     it; remediation is the upgrade command; filePath is the file the
//     package was read from, for OS packages too; sourceLayerHash is the
//     layer's blob digest, else its diff-id.
//   - resources[0] is the image: id is its ECR image ARN
//     (arn:aws:ecr:REGION:ACCOUNT:repository/REPO/sha256:…); registry is
//     the account id; repositoryName comes from the image reference;
//     imageHash is the manifest digest, empty for a root filesystem,
//     which has none;
//     pushedAt is when the image was pushed to Vigil's registry, or for
//     an image scanned from elsewhere (which was never pushed to Vigil)
//     its creation time from its config; platform is derived from the
//     distribution (DEBIAN_12, ALPINE_LINUX_3_20). author, lastInUseAt
//     and inUseCount are left out: the report does not have them.
type InspectorFinding struct {
	AWSAccountID                string                      `json:"awsAccountId"`
	FindingARN                  string                      `json:"findingArn"`
	Type                        string                      `json:"type"`
	Title                       string                      `json:"title"`
	Description                 string                      `json:"description"`
	Severity                    string                      `json:"severity"`
	Status                      string                      `json:"status"`
	FirstObservedAt             Epoch                       `json:"firstObservedAt"`
	LastObservedAt              Epoch                       `json:"lastObservedAt"`
	UpdatedAt                   Epoch                       `json:"updatedAt"`
	Remediation                 InspectorRemediation        `json:"remediation"`
	InspectorScore              *float64                    `json:"inspectorScore,omitempty"`
	InspectorScoreDetails       *InspectorScoreDetails      `json:"inspectorScoreDetails,omitempty"`
	ExploitAvailable            string                      `json:"exploitAvailable"`
	FixAvailable                string                      `json:"fixAvailable"`
	EPSS                        *InspectorEPSS              `json:"epss,omitempty"`
	ExploitabilityDetails       *ExploitabilityDetails      `json:"exploitabilityDetails,omitempty"`
	PackageVulnerabilityDetails PackageVulnerabilityDetails `json:"packageVulnerabilityDetails"`
	Resources                   []InspectorResource         `json:"resources"`
	// NotReachable is Vigil's: why the vulnerable code is not reachable
	// in the image, when analysis showed it is not. It is the one place
	// an unscored finding carries that reason (it has no adjustments).
	NotReachable string `json:"notReachable,omitempty"`
}

// InspectorRemediation is Inspector's Remediation.
type InspectorRemediation struct {
	Recommendation Recommendation `json:"recommendation"`
}

// Recommendation is Inspector's Recommendation; its URL member is spelt
// "Url" in the API.
type Recommendation struct {
	Text string `json:"text,omitempty"`
	URL  string `json:"Url,omitempty"`
}

// InspectorScoreDetails is Inspector's InspectorScoreDetails.
type InspectorScoreDetails struct {
	AdjustedCVSS AdjustedCVSS `json:"adjustedCvss"`
}

// AdjustedCVSS is Inspector's CvssScoreDetails.
type AdjustedCVSS struct {
	Score         float64            `json:"score"`
	ScoreSource   string             `json:"scoreSource"`
	CVSSSource    string             `json:"cvssSource,omitempty"`
	ScoringVector string             `json:"scoringVector"`
	Version       string             `json:"version"`
	Adjustments   []score.Adjustment `json:"adjustments"`
}

// InspectorEPSS is Inspector's EpssDetails.
type InspectorEPSS struct {
	Score float64 `json:"score"`
}

// ExploitabilityDetails is Inspector's ExploitabilityDetails.
type ExploitabilityDetails struct {
	LastKnownExploitAt Epoch `json:"lastKnownExploitAt"`
}

// PackageVulnerabilityDetails is Inspector's PackageVulnerabilityDetails.
type PackageVulnerabilityDetails struct {
	VulnerabilityID        string              `json:"vulnerabilityId"`
	Source                 string              `json:"source"`
	SourceURL              string              `json:"sourceUrl,omitempty"`
	VendorSeverity         string              `json:"vendorSeverity,omitempty"`
	VendorCreatedAt        *Epoch              `json:"vendorCreatedAt,omitempty"`
	VendorUpdatedAt        *Epoch              `json:"vendorUpdatedAt,omitempty"`
	CVSS                   []InspectorCVSS     `json:"cvss"`
	ReferenceURLs          []string            `json:"referenceUrls"`
	RelatedVulnerabilities []string            `json:"relatedVulnerabilities"`
	VulnerablePackages     []VulnerablePackage `json:"vulnerablePackages"`
}

// InspectorCVSS is Inspector's CvssScore.
type InspectorCVSS struct {
	BaseScore     float64 `json:"baseScore"`
	ScoringVector string  `json:"scoringVector"`
	Source        string  `json:"source"`
	Version       string  `json:"version"`
}

// VulnerablePackage is Inspector's VulnerablePackage.
type VulnerablePackage struct {
	Name            string `json:"name"`
	Version         string `json:"version"`
	Epoch           int    `json:"epoch"`
	Release         string `json:"release,omitempty"`
	Arch            string `json:"arch,omitempty"`
	PackageManager  string `json:"packageManager"`
	FixedInVersion  string `json:"fixedInVersion"`
	Remediation     string `json:"remediation,omitempty"`
	FilePath        string `json:"filePath,omitempty"`
	SourceLayerHash string `json:"sourceLayerHash,omitempty"`
}

// InspectorResource is Inspector's Resource.
type InspectorResource struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Partition string          `json:"partition"`
	Region    string          `json:"region"`
	Details   ResourceDetails `json:"details"`
}

// ResourceDetails is Inspector's ResourceDetails.
type ResourceDetails struct {
	AWSECRContainerImage ECRContainerImage `json:"awsEcrContainerImage"`
}

// ECRContainerImage is Inspector's AwsEcrContainerImageDetails.
type ECRContainerImage struct {
	RepositoryName string   `json:"repositoryName"`
	Registry       string   `json:"registry"`
	ImageHash      string   `json:"imageHash"`
	ImageTags      []string `json:"imageTags"`
	PushedAt       *Epoch   `json:"pushedAt,omitempty"`
	Architecture   string   `json:"architecture,omitempty"`
	Platform       string   `json:"platform,omitempty"`
}

// Epoch is a time written as Inspector's API writes timestamps: seconds
// since the Unix epoch, as a JSON number with up to millisecond
// precision (1725468938.411).
type Epoch time.Time

// UnmarshalJSON reads epoch seconds (with a fraction), so that stored
// findings can be read back.
func (e *Epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("report: epoch time %s: %w", b, err)
	}
	*e = Epoch(time.UnixMilli(int64(math.Round(f * 1000))).UTC())
	return nil
}

// MarshalJSON writes the epoch seconds.
func (e Epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func epochPtr(t time.Time) *Epoch {
	if t.IsZero() || t.Year() <= 1 {
		return nil
	}
	e := Epoch(t)
	return &e
}

// The ARN parts Inspector constrains: a 12-digit account and a region
// name.
var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

// maxDescription is Inspector's bound on a finding's description.
const maxDescription = 1024

// NewInspectorFindings converts the report's findings, active and then
// ignored (SUPPRESSED), to Inspector findings. It fails only when the
// account id or region cannot make a valid ARN.
func NewInspectorFindings(r *scan.Report, opts Options) ([]InspectorFinding, error) {
	if r == nil {
		return nil, errNoReport("inspector")
	}
	opts = opts.resolve(r)
	if !accountRE.MatchString(opts.AccountID) {
		return nil, fmt.Errorf("report: inspector: account id %q is not 12 digits", opts.AccountID)
	}
	if !regionRE.MatchString(opts.Region) {
		return nil, fmt.Errorf("report: inspector: region %q is not a region name", opts.Region)
	}
	active, ignored := findings(r)
	scan.Sort(active)
	scan.Sort(ignored)
	res := inspectorResource(r, opts)
	out := make([]InspectorFinding, 0, len(active)+len(ignored))
	for _, f := range active {
		out = append(out, inspectorFinding(f, r, opts, res, "ACTIVE"))
	}
	for _, f := range ignored {
		out = append(out, inspectorFinding(f, r, opts, res, "SUPPRESSED"))
	}
	return out, nil
}

// WriteInspector writes the report's findings as a JSON array of
// Inspector findings (see InspectorFinding).
func WriteInspector(w io.Writer, r *scan.Report, opts Options) error {
	fs, err := NewInspectorFindings(r, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, "inspector", fs)
}

// FindingARN is the Inspector ARN of a finding: stable for the same
// vulnerability in the same package file of the same image.
func FindingARN(r *scan.Report, f *scan.Finding, opts Options) string {
	opts = opts.resolve(r)
	image := r.Subject.Digest
	if image == "" {
		image = r.Subject.Name
	}
	p := pkgOf(f)
	id := fingerprint(image, purlOf(p, r.Distro), p.Path, f.ID)
	return "arn:aws:inspector2:" + opts.Region + ":" + opts.AccountID + ":finding/" + id
}

func inspectorFinding(f *scan.Finding, r *scan.Report, opts Options, res InspectorResource, status string) InspectorFinding {
	now := Epoch(opts.Now)
	title := f.Title
	if title == "" {
		title = f.ID
	}
	desc := strings.TrimSpace(f.Description)
	if desc == "" {
		desc = title
	}
	sev := f.Score.Severity
	if sev == "" {
		sev = score.Untriaged
	}
	out := InspectorFinding{
		AWSAccountID:     opts.AccountID,
		FindingARN:       FindingARN(r, f, opts),
		Type:             FindingType(f),
		Title:            title,
		Description:      truncate(desc, maxDescription),
		Severity:         sev,
		Status:           status,
		FirstObservedAt:  now,
		LastObservedAt:   now,
		UpdatedAt:        now,
		Remediation:      InspectorRemediation{Recommendation{Text: advice(f), URL: f.SourceURL}},
		ExploitAvailable: "NO",
		FixAvailable:     "NO",
		Resources:        []InspectorResource{res},
		NotReachable:     f.NotReachable,
	}
	if f.Fix == match.Fixed {
		out.FixAvailable = "YES"
	}
	if scored(f) && finite(f.Score.Score) {
		s := f.Score.Score
		out.InspectorScore = &s
		if b := f.Score.Base; b.Vector != "" {
			adj := append([]score.Adjustment{}, f.Score.Adjustments...)
			out.InspectorScoreDetails = &InspectorScoreDetails{AdjustedCVSS{
				Score: s, ScoreSource: f.Score.ScoreSource, CVSSSource: cvssSource(b.Source, f),
				ScoringVector: b.Vector, Version: b.Version, Adjustments: adj,
			}}
		}
	}
	if k := f.KEV; k != nil {
		out.ExploitAvailable = "YES"
		if !k.DateAdded.IsZero() {
			out.ExploitabilityDetails = &ExploitabilityDetails{LastKnownExploitAt: Epoch(k.DateAdded)}
		}
	}
	if e := f.EPSS; e != nil && finite(e.Score) {
		out.EPSS = &InspectorEPSS{Score: e.Score}
	}
	source := f.Source
	if source == "" {
		source = "vigil"
	}
	d := PackageVulnerabilityDetails{
		VulnerabilityID:        f.ID,
		Source:                 source,
		SourceURL:              f.SourceURL,
		VendorSeverity:         vendorSeverity(f),
		VendorCreatedAt:        epochPtr(f.Published),
		VendorUpdatedAt:        epochPtr(f.Modified),
		CVSS:                   []InspectorCVSS{},
		ReferenceURLs:          uniq(f.References),
		RelatedVulnerabilities: uniq(f.Aliases, f.Related),
		VulnerablePackages:     []VulnerablePackage{vulnerablePackage(f, r.Distro)},
	}
	if d.VendorSeverity == "" && f.Score.ScoreSource == score.SourceVendor {
		d.VendorSeverity = score.SeverityOf(f.Score.Base.BaseScore)
	}
	if d.ReferenceURLs == nil {
		d.ReferenceURLs = []string{}
	}
	if d.RelatedVulnerabilities == nil {
		d.RelatedVulnerabilities = []string{}
	}
	for _, c := range cvssOf(f) {
		d.CVSS = append(d.CVSS, InspectorCVSS{BaseScore: c.BaseScore, ScoringVector: c.Vector, Source: cvssSource(c.Source, f), Version: c.Version})
	}
	out.PackageVulnerabilityDetails = d
	return out
}

// cvssSource names who published a vector the way Inspector does: NVD
// for NVD's own analysis, else the source as recorded, else the feed.
func cvssSource(src string, f *scan.Finding) string {
	switch {
	case src == "nvd@nist.gov":
		return "NVD"
	case src != "":
		return src
	case f.Source != "":
		return f.Source
	}
	return "vigil"
}

func vulnerablePackage(f *scan.Finding, d *inventory.Distro) VulnerablePackage {
	p := pkgOf(f)
	vp := VulnerablePackage{
		Name:           p.Name,
		Arch:           p.Arch,
		PackageManager: packageManager(p),
		FixedInVersion: "NotAvailable",
		Remediation:    upgradeCommand(p, f),
		FilePath:       p.Path,
	}
	vp.Epoch, vp.Version, vp.Release = splitVersion(p)
	if f.Fix == match.Fixed && f.FixedVersion != "" {
		vp.FixedInVersion = f.FixedVersion
	}
	if vp.Name == "" {
		vp.Name = "unknown"
	}
	if vp.Version == "" {
		vp.Version = "unknown"
	}
	vp.SourceLayerHash = p.Layer.Digest
	if vp.SourceLayerHash == "" {
		vp.SourceLayerHash = p.Layer.DiffID
	}
	return vp
}

// splitVersion splits an OS package's version into epoch, version and
// release, as Inspector reports them: RPM's epoch:version-release,
// Debian's epoch:upstream-revision, Alpine's version-rREL. Other
// versions are returned whole.
func splitVersion(p *inventory.Package) (epoch int, version, release string) {
	v := p.Version
	switch p.Type {
	case inventory.RPM:
		v = strings.TrimPrefix(v, strconv.Itoa(p.Epoch)+":")
		if p.Release != "" {
			v = strings.TrimSuffix(v, "-"+p.Release)
		}
		return p.Epoch, v, p.Release
	case inventory.Deb:
		if e, rest, ok := strings.Cut(v, ":"); ok {
			if n, err := strconv.Atoi(e); err == nil && n >= 0 {
				epoch, v = n, rest
			}
		}
		if i := strings.LastIndex(v, "-"); i > 0 {
			return epoch, v[:i], v[i+1:]
		}
		return epoch, v, ""
	case inventory.APK:
		if i := strings.LastIndex(v, "-r"); i > 0 {
			if _, err := strconv.Atoi(v[i+2:]); err == nil {
				return 0, v[:i], v[i+1:]
			}
		}
	}
	return 0, v, ""
}

// inspectorResource describes the image as Inspector's
// AWS_ECR_CONTAINER_IMAGE resource.
func inspectorResource(r *scan.Report, opts Options) InspectorResource {
	n := nameOf(r.Subject)
	img := ECRContainerImage{
		RepositoryName: n.Repo,
		Registry:       opts.AccountID,
		ImageHash:      r.Subject.Digest,
		ImageTags:      append([]string{}, n.Tags...),
		PushedAt:       epochPtr(pushedAt(r, opts)),
		Architecture:   architecture(r.Subject.Platform),
		Platform:       platformOf(r.Distro),
	}
	return InspectorResource{
		Type:      "AWS_ECR_CONTAINER_IMAGE",
		ID:        ImageARN(r, opts),
		Partition: "aws",
		Region:    opts.Region,
		Details:   ResourceDetails{img},
	}
}

// ImageARN is the ECR ARN of the scanned image:
// arn:aws:ecr:REGION:ACCOUNT:repository/REPO/sha256:…, or the
// repository's ARN when the image has no digest (a root filesystem).
func ImageARN(r *scan.Report, opts Options) string {
	opts = opts.resolve(r)
	arn := "arn:aws:ecr:" + opts.Region + ":" + opts.AccountID + ":repository/" + nameOf(r.Subject).Repo
	if d := r.Subject.Digest; d != "" {
		arn += "/" + d
	}
	return arn
}

// pushedAt is the push time when the caller knows it, else the image's
// creation time.
func pushedAt(r *scan.Report, opts Options) time.Time {
	if !opts.PushedAt.IsZero() {
		return opts.PushedAt
	}
	return r.Subject.Created
}
