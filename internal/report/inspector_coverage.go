package report

import (
	"fmt"
	"io"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/scan"
)

// InspectorCoverage is the answer of Amazon Inspector's ListCoverage for
// the scanned image: one covered resource whose scanStatus says whether
// Inspector-compatible tooling may take the findings for the whole image.
type InspectorCoverage struct {
	CoveredResources []CoveredResource `json:"coveredResources"`
}

// CoveredResource is Inspector's CoveredResource for an
// AWS_ECR_CONTAINER_IMAGE. scanStatus is ACTIVE with SUCCESSFUL when the
// image is fully covered; INACTIVE with UNSUPPORTED_OS when the database
// holds no advisories for its distribution release, as Inspector reports
// an operating system it does not support; ACTIVE with Vigil's own
// INCOMPLETE_INVENTORY (a wanted file was not read) or PARTIAL_COVERAGE
// (a language ecosystem has no advisories), for which Inspector has no
// reason. resourceId is the image's ARN, as in findings.
type CoveredResource struct {
	AccountID        string           `json:"accountId"`
	ResourceID       string           `json:"resourceId"`
	ResourceType     string           `json:"resourceType"`
	ScanType         string           `json:"scanType"`
	ScanStatus       ScanStatus       `json:"scanStatus"`
	ResourceMetadata ResourceMetadata `json:"resourceMetadata"`
	LastScannedAt    *Epoch           `json:"lastScannedAt,omitempty"`
}

// ScanStatus is Inspector's ScanStatus.
type ScanStatus struct {
	StatusCode string `json:"statusCode"`
	Reason     string `json:"reason"`
}

// ResourceMetadata is Inspector's ResourceScanMetadata for an image.
type ResourceMetadata struct {
	ECRImage      ECRImageMetadata      `json:"ecrImage"`
	ECRRepository ECRRepositoryMetadata `json:"ecrRepository"`
}

// ECRImageMetadata is Inspector's EcrContainerImageMetadata.
type ECRImageMetadata struct {
	Tags []string `json:"tags"`
}

// ECRRepositoryMetadata is Inspector's EcrRepositoryMetadata.
type ECRRepositoryMetadata struct {
	Name string `json:"name"`
}

// InspectorScanStatus is the scanStatus of an image with coverage c
// (SUCCESSFUL when c is nil: nothing was judged to be missing).
func InspectorScanStatus(c *coverage.Coverage) ScanStatus {
	switch {
	case c == nil || c.Full:
		return ScanStatus{StatusCode: "ACTIVE", Reason: coverage.ReasonSuccessful}
	case c.Reason == coverage.ReasonUnsupportedOS:
		return ScanStatus{StatusCode: "INACTIVE", Reason: c.Reason}
	}
	return ScanStatus{StatusCode: "ACTIVE", Reason: c.Reason}
}

// NewInspectorCoverage describes the scanned image as ListCoverage does.
func NewInspectorCoverage(r *scan.Report, opts Options) (*InspectorCoverage, error) {
	if r == nil {
		return nil, errNoReport("inspector-coverage")
	}
	opts = opts.resolve(r)
	if !accountRE.MatchString(opts.AccountID) {
		return nil, fmt.Errorf("report: inspector-coverage: account id %q is not 12 digits", opts.AccountID)
	}
	n := nameOf(r.Subject)
	cr := CoveredResource{
		AccountID: opts.AccountID, ResourceID: ImageARN(r, opts),
		ResourceType: "AWS_ECR_CONTAINER_IMAGE", ScanType: "PACKAGE",
		ScanStatus: InspectorScanStatus(r.Coverage),
		ResourceMetadata: ResourceMetadata{
			ECRImage:      ECRImageMetadata{Tags: append([]string{}, n.Tags...)},
			ECRRepository: ECRRepositoryMetadata{Name: n.Repo},
		},
		LastScannedAt: epochPtr(r.Time),
	}
	return &InspectorCoverage{CoveredResources: []CoveredResource{cr}}, nil
}

// WriteInspectorCoverage writes the image's coverage as Inspector's
// ListCoverage answer (see CoveredResource).
func WriteInspectorCoverage(w io.Writer, r *scan.Report, opts Options) error {
	c, err := NewInspectorCoverage(r, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, "inspector-coverage", c)
}
