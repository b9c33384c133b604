package store

import "time"

// Gate decisions.
const (
	Approved = "Approved"
	Rejected = "Rejected"
)

// Gate request states.
const (
	GatePending = "PENDING"
	GateDecided = "DECIDED"
)

// GatePolicy says when an image may be deployed. Repository selects the
// images it applies to: "" for the default policy, a name, or a prefix
// ending in "*"; the most specific policy wins.
type GatePolicy struct {
	Name       string `json:"name"`
	Repository string `json:"repository"`
	// Max* are the most findings of a severity an approved image may have
	// (nil: any number).
	MaxCritical  *int `json:"maxCritical,omitempty"`
	MaxHigh      *int `json:"maxHigh,omitempty"`
	MaxMedium    *int `json:"maxMedium,omitempty"`
	MaxLow       *int `json:"maxLow,omitempty"`
	MaxUntriaged *int `json:"maxUntriaged,omitempty"`
	// FixableOnly counts only findings with a fix available.
	FixableOnly bool `json:"fixableOnly"`
	// ReachableOnly leaves out findings whose vulnerable code analysis
	// showed is not reachable in the image (Finding.NotReachable).
	ReachableOnly bool `json:"reachableOnly"`
	// RejectKnownExploited rejects any finding known to be exploited
	// (CISA KEV), whatever the counts.
	RejectKnownExploited bool `json:"rejectKnownExploited"`
	// MaxScore rejects any finding scored above it (nil: no limit).
	MaxScore *float64 `json:"maxScore,omitempty"`
	// CountSuppressed counts SUPPRESSED findings too; by default
	// suppression rules are honoured.
	CountSuppressed bool `json:"countSuppressed"`
	// AllowPartialCoverage lets an image whose scan could not assess
	// all of it (its release or an ecosystem without advisories, a
	// wanted file not read) be approved on the findings of what it
	// could; by default such an image is rejected.
	AllowPartialCoverage bool `json:"allowPartialCoverage"`
	// NewFindingsOnly counts only findings that the last image of the
	// repository approved for the same stage did not have (package
	// baseline: the same vulnerability id in a package of the same
	// name); without such an image every finding counts.
	NewFindingsOnly bool `json:"newFindingsOnly"`
	// OnScanFailure, OnUnsupported and OnTimeout are REJECT (the default:
	// the gate fails closed) or APPROVE.
	OnScanFailure string `json:"onScanFailure"`
	OnUnsupported string `json:"onUnsupported"`
	OnTimeout     string `json:"onTimeout"`
	// TimeoutSeconds is how long a request waits for a scan before
	// OnTimeout applies (0: the server's default).
	TimeoutSeconds int       `json:"timeoutSeconds,omitempty"`
	CreatedAt      time.Time `json:"createdAt,omitzero"`
	UpdatedAt      time.Time `json:"updatedAt,omitzero"`
}

// GateRequest is a pipeline waiting for a decision on an image.
type GateRequest struct {
	ID string `json:"id"`
	// Token is handed to the pipeline and sent back with every decision
	// (in the callback and the event), as an approval token is.
	Token      string `json:"token,omitempty"`
	Repository string `json:"repository"`
	// Digest is the image judged; empty until a tag reference resolves
	// (the image is not pushed yet).
	Digest string `json:"digest,omitempty"`
	Tag    string `json:"tag,omitempty"`
	// NewPush, for a tag, waits for an image pushed after the request
	// rather than judging the one the tag names now.
	NewPush     bool   `json:"newPush,omitempty"`
	Pipeline    string `json:"pipeline"`
	Stage       string `json:"stage,omitempty"`
	Action      string `json:"action,omitempty"`
	CallbackURL string `json:"callbackUrl,omitempty"`
	State       string `json:"state"`              // PENDING or DECIDED
	Decision    string `json:"decision,omitempty"` // the latest: Approved or Rejected
	DecisionID  string `json:"decisionId,omitempty"`
	// Deadline is when a pending request is decided by the policy's
	// OnTimeout.
	Deadline  time.Time `json:"deadline"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
}

// GateDecision is one decision on a request. A request may be decided
// again when a rescan changes the image's findings; each decision is kept.
type GateDecision struct {
	ID         string `json:"id"`
	RequestID  string `json:"requestId"`
	Repository string `json:"repository"`
	Digest     string `json:"digest,omitempty"`
	Decision   string `json:"decision"`
	Policy     string `json:"policy"`
	// Reason says why, in a sentence ("2 CRITICAL findings (at most 0
	// allowed)", "the scan failed: …").
	Reason string `json:"reason"`
	// Trigger is what caused the decision: scan, rescan, request (the
	// image was scanned already), scan-failed, unsupported, timeout,
	// findings-changed.
	Trigger string `json:"trigger"`
	// Findings are those that caused a rejection.
	Findings []GateFinding `json:"findings"`
	Counts   Counts        `json:"counts"`
	// Supersedes is the previous decision on the request, if any.
	Supersedes string    `json:"supersedes,omitempty"`
	DecidedAt  time.Time `json:"decidedAt"`
	// DBVersion is the vulnerability database version the findings
	// judged were matched with; BaselineDigest, under newFindingsOnly,
	// the approved image whose findings did not count.
	DBVersion      string `json:"dbVersion,omitempty"`
	BaselineDigest string `json:"baselineDigest,omitempty"`
}

// GateFinding is a finding that caused a rejection, and the rule of the
// policy it broke.
type GateFinding struct {
	FindingArn      string   `json:"findingArn"`
	VulnerabilityID string   `json:"vulnerabilityId"`
	Severity        string   `json:"severity"`
	Score           *float64 `json:"score,omitempty"`
	PackageName     string   `json:"packageName"`
	PackageVersion  string   `json:"packageVersion"`
	FixedInVersion  string   `json:"fixedInVersion,omitempty"`
	KnownExploited  bool     `json:"knownExploited,omitempty"`
	Rule            string   `json:"rule"` // "maxCritical", "maxScore", "rejectKnownExploited", …
}

// GateRequestQuery selects gate requests, newest first.
type GateRequestQuery struct {
	State      string
	Repository string
	Digest     string
	// Tag with Unresolved selects requests waiting for a tag to be
	// pushed.
	Tag        string
	Unresolved bool
	// DeadlineBefore selects requests due to time out.
	DeadlineBefore time.Time
	Limit          int
	Next           string
}

// GateDecisionQuery selects decisions, newest first.
type GateDecisionQuery struct {
	RequestID  string
	Repository string
	Digest     string
	Limit      int
	Next       string
}

// GateUpdate is what an UpdateGateRequest callback writes with the
// request: a decision (nil: none), events and deliveries (a callback).
type GateUpdate struct {
	Decision   *GateDecision
	Events     []Event
	Deliveries []Delivery
}
