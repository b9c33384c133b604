// Package events is Vigil's event model: every event is an Amazon
// EventBridge envelope carrying an ECR or Inspector detail, shaped exactly
// as AWS sends them, so that rules and handlers written for AWS carry over.
package events

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// Detail types and sources Vigil emits.
const (
	SourceECR       = "aws.ecr"
	SourceInspector = "aws.inspector2"

	ECRImageAction     = "ECR Image Action"
	InspectorScan      = "Inspector2 Scan"
	InspectorFinding   = "Inspector2 Finding"
	InspectorCoverage  = "Inspector2 Coverage"
	GateDecision       = "Vigil Gate Decision"
	SourceVigil        = "vigil"
	DefaultAccount     = "000000000000"
	DefaultRegion      = "local"
	ScanInitialDone    = "INITIAL_SCAN_COMPLETE"
	ScanRescanDone     = "RESCAN_COMPLETE"
	CoverageActive     = "ACTIVE"
	CoverageInactive   = "INACTIVE"
	ReasonPending      = "PENDING_INITIAL_SCAN"
	ReasonSuccessful   = "SUCCESSFUL"
	ReasonUnsupported  = "UNSUPPORTED_OS"
	ReasonInternal     = "INTERNAL_ERROR"
	ReasonExpired      = "SCAN_ELIGIBILITY_EXPIRED"
	ReasonNoInventory  = "NO_INVENTORY"
	ReasonStale        = "STALE_INVENTORY"
	ReasonSizeExceeded = "IMAGE_SIZE_EXCEEDED"
)

// Envelope is the EventBridge event envelope.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Emitter makes envelopes for one account and region.
type Emitter struct {
	Account, Region string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (e Emitter) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e Emitter) account() string {
	if e.Account == "" {
		return DefaultAccount
	}
	return e.Account
}

func (e Emitter) region() string {
	if e.Region == "" {
		return DefaultRegion
	}
	return e.Region
}

// RepositoryARN is the ECR repository ARN of a repository name.
func (e Emitter) RepositoryARN(repository string) string {
	return "arn:aws:ecr:" + e.region() + ":" + e.account() + ":repository/" + repository
}

// Event makes a store event of the given type with detail, at the
// current time.
func (e Emitter) Event(source, detailType string, resources []string, detail any) (store.Event, error) {
	d, err := json.Marshal(detail)
	if err != nil {
		return store.Event{}, fmt.Errorf("events: %s detail: %w", detailType, err)
	}
	if resources == nil {
		resources = []string{}
	}
	t := e.now()
	env := Envelope{
		Version: "0", ID: newUUID(), DetailType: detailType, Source: source,
		Account: e.account(), Time: t.Format(time.RFC3339), Region: e.region(),
		Resources: resources, Detail: d,
	}
	data, err := json.Marshal(env)
	if err != nil {
		return store.Event{}, err
	}
	return store.Event{ID: env.ID, Time: t, Source: source, DetailType: detailType, Envelope: data}, nil
}

// DetailTime formats a time the way AWS writes times inside EventBridge
// details: "Wed Sep 04 16:55:38.411 UTC 2024".
func DetailTime(t time.Time) string {
	return t.UTC().Format("Mon Jan 02 15:04:05.000 MST 2006")
}

// ImageAction is the detail of an "ECR Image Action" event.
type ImageAction struct {
	Result            string `json:"result"`
	RepositoryName    string `json:"repository-name"`
	ImageDigest       string `json:"image-digest"`
	ActionType        string `json:"action-type"`
	ImageTag          string `json:"image-tag,omitempty"`
	ManifestMediaType string `json:"manifest-media-type,omitempty"`
	ArtifactMediaType string `json:"artifact-media-type,omitempty"`
}

// PushEvent is an "ECR Image Action" for a push (or, with action
// "DELETE", a deletion): source aws.ecr, no resources, the plain
// repository name.
func (e Emitter) PushEvent(action string, a ImageAction) (store.Event, error) {
	a.Result = "SUCCESS"
	a.ActionType = action
	return e.Event(SourceECR, ECRImageAction, nil, a)
}

// ScanDetail is the detail of an "Inspector2 Scan" event.
type ScanDetail struct {
	ScanStatus            string         `json:"scan-status"`
	RepositoryName        string         `json:"repository-name"`
	FindingSeverityCounts map[string]int `json:"finding-severity-counts"`
	ImageDigest           string         `json:"image-digest"`
	ImageTags             []string       `json:"image-tags"`
	Version               string         `json:"version"`
}

// ScanEvent is the "Inspector2 Scan" summary after a scan: resources and
// repository-name are the repository ARN. AWS sends CRITICAL, HIGH, MEDIUM
// and TOTAL; Vigil adds LOW, INFORMATIONAL and UNTRIAGED (extra keys
// break no pattern). scanStatus is INITIAL_SCAN_COMPLETE after the first
// scan of an image and RESCAN_COMPLETE after a re-evaluation.
func (e Emitter) ScanEvent(scanStatus, repository, digest string, tags []string, c store.Counts) (store.Event, error) {
	arn := e.RepositoryARN(repository)
	if tags == nil {
		tags = []string{}
	}
	d := ScanDetail{
		ScanStatus:     scanStatus,
		RepositoryName: arn,
		FindingSeverityCounts: map[string]int{
			"CRITICAL": c.Critical, "HIGH": c.High, "MEDIUM": c.Medium, "TOTAL": c.Total,
			"LOW": c.Low, "INFORMATIONAL": c.Informational, "UNTRIAGED": c.Untriaged,
		},
		ImageDigest: digest,
		ImageTags:   tags,
		Version:     "1.0",
	}
	return e.Event(SourceInspector, InspectorScan, []string{arn}, d)
}

// CoverageDetail is the detail of an "Inspector2 Coverage" event.
type CoverageDetail struct {
	ScanStatus     CoverageStatus `json:"scanStatus"`
	ScanType       string         `json:"scanType"`
	EventTimestamp string         `json:"eventTimestamp"`
	Version        string         `json:"version"`
	// CoverageGaps and Warnings are Vigil's: what the scan could not
	// assess ("npm: 55 packages, no feed"), and the analysis' per-file
	// warnings (at most MaxEventWarnings of each, Truncated set when
	// there were more). AWS sends neither; extra keys break no event
	// pattern.
	CoverageGaps []string `json:"coverage-gaps,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	Truncated    bool     `json:"truncated,omitempty"`
}

// MaxEventWarnings bounds the warnings a coverage event carries (an
// EventBridge event is at most 256 KB); the API serves them all.
const MaxEventWarnings = 100

// CoverageStatus is a coverage event's scanStatus.
type CoverageStatus struct {
	StatusCodeValue string `json:"statusCodeValue"`
	Reason          string `json:"reason"`
}

// CoverageEvent reports an image's scan status: ACTIVE with a reason such
// as PENDING_INITIAL_SCAN or SUCCESSFUL, or INACTIVE with UNSUPPORTED_OS,
// INTERNAL_ERROR, SCAN_ELIGIBILITY_EXPIRED…; resources name the image.
func (e Emitter) CoverageEvent(repository, digest, status, reason string) (store.Event, error) {
	return e.ScanCoverageEvent(repository, digest, status, reason, nil, nil)
}

// ScanCoverageEvent is CoverageEvent naming what the scan could not
// assess and the analysis' warnings.
func (e Emitter) ScanCoverageEvent(repository, digest, status, reason string, gaps, warnings []string) (store.Event, error) {
	d := CoverageDetail{
		ScanStatus:     CoverageStatus{StatusCodeValue: status, Reason: reason},
		ScanType:       "PACKAGE",
		EventTimestamp: e.now().Format(time.RFC3339Nano),
		Version:        "1.0",
		CoverageGaps:   gaps,
		Warnings:       warnings,
	}
	if len(d.CoverageGaps) > MaxEventWarnings {
		d.CoverageGaps, d.Truncated = d.CoverageGaps[:MaxEventWarnings], true
	}
	if len(d.Warnings) > MaxEventWarnings {
		d.Warnings, d.Truncated = d.Warnings[:MaxEventWarnings], true
	}
	return e.Event(SourceInspector, InspectorCoverage, []string{e.RepositoryARN(repository) + "/" + digest}, d)
}

// FindingEvent carries one Inspector finding as its detail; resources
// name the image. The finding's timestamps, nested ones included
// (pushedAt, vendorCreatedAt, lastKnownExploitAt…), are rewritten in AWS's
// EventBridge form ("Wed Sep 04 16:55:38.411 UTC 2024") as AWS does
// inside event details.
func (e Emitter) FindingEvent(repository, digest string, finding json.RawMessage) (store.Event, error) {
	var m map[string]any
	if err := json.Unmarshal(finding, &m); err != nil {
		return store.Event{}, fmt.Errorf("events: finding: %w", err)
	}
	detailTimes(m)
	return e.Event(SourceInspector, InspectorFinding, []string{e.RepositoryARN(repository) + "/" + digest}, m)
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := fmt.Sprintf("%x", b)
	return strings.Join([]string{s[:8], s[8:12], s[12:16], s[16:20], s[20:]}, "-")
}
