// Package store keeps everything `vigil serve` must not lose: repositories,
// images and tags, scan jobs, the layer cache, inventories, findings,
// suppression rules, the event outbox and API tokens. Two implementations
// share one schema and one conformance suite: SQLite (embedded, the
// default) and PostgreSQL (for several processes sharing the work).
//
// Every method that changes more than one thing does it in one
// transaction, so a crash never leaves a push without its event and job,
// or findings without the events that announce them.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/vigilsec/vigil/internal/mutability"
)

// ErrNotFound is returned when the thing asked for does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write would break a uniqueness rule (a
// token or rule name already taken).
var ErrConflict = errors.New("store: conflict")

// ErrInvalid is wrapped by errors about bad input: a filter with an
// unknown comparison or an empty value, a malformed page token or one
// used with another query, an unknown sort field, a push without a
// digest, an event without an id.
var ErrInvalid = errors.New("store: invalid")

// Scan statuses of an image, in the words of Inspector's coverage.
const (
	ScanPending     = "PENDING"
	ScanInProgress  = "SCANNING"
	ScanComplete    = "COMPLETE"
	ScanFailed      = "FAILED"
	ScanUnsupported = "UNSUPPORTED"
	ScanInactive    = "INACTIVE" // past its repository's rescan duration
)

// Finding statuses, as Inspector's.
const (
	Active     = "ACTIVE"
	Suppressed = "SUPPRESSED"
	Closed     = "CLOSED"
)

// Roles of API tokens.
const (
	RoleAdmin    = "admin"
	RolePipeline = "pipeline" // push images, read everything, request gate decisions
	RoleReadOnly = "read-only"
)

// Store is the persistence of `vigil serve`. Implementations are safe for
// concurrent use by many goroutines and, for PostgreSQL, many processes.
type Store interface {
	Close() error

	// RecordPush records a manifest pushed to the registry: the
	// repository (created on first push), the image, the tag (moved to
	// this digest if it named another), the events, and — unless
	// p.Job is nil — a scan job, all in one transaction. Pushing a digest
	// already known updates it and keeps its findings.
	RecordPush(ctx context.Context, p Push) error
	// RecordDelete removes an image (and tags pointing at it), closes its
	// findings and appends the events, in one transaction.
	RecordDelete(ctx context.Context, repository, digest string, at time.Time, events []Event) error
	// RecordPull notes that an image was pulled, for rescan durations
	// counted from the last pull.
	RecordPull(ctx context.Context, repository, digest string, at time.Time) error

	Repository(ctx context.Context, name string) (*Repository, error)
	ListRepositories(ctx context.Context) ([]Repository, error)
	// SetRescanDuration sets a repository's rescan duration ("LIFETIME",
	// "DAYS_14", "DAYS_30", "DAYS_60", "DAYS_90", "DAYS_180") and whether
	// it counts from push or from last pull.
	SetRescanDuration(ctx context.Context, repository, duration, basis string) error

	Image(ctx context.Context, repository, digest string) (*Image, error)
	// ImageByTag resolves a tag to its image.
	ImageByTag(ctx context.Context, repository, tag string) (*Image, error)
	// ListImages pages through images, newest push first.
	ListImages(ctx context.Context, q ImageQuery) ([]Image, string, error)
	// UpdateImage changes an image's scan state (and its inventory) and
	// appends events, in one transaction.
	UpdateImage(ctx context.Context, u ImageUpdate, events []Event) error

	// EnqueueJob adds a job unless an unfinished job of the same kind for
	// the same image is already queued (not yet claimed); it reports
	// whether it added one.
	EnqueueJob(ctx context.Context, j Job) (bool, error)
	// ClaimJob takes the oldest queued job, or one whose lease expired
	// (its worker died), for owner until now+lease. It returns nil, nil
	// when there is none. Two claimers never get the same job while its
	// lease lasts.
	ClaimJob(ctx context.Context, owner string, lease time.Duration) (*Job, error)
	// ExtendJob renews the lease of a job the owner holds; ErrNotFound if
	// it no longer holds it. A zero lease hands the job back at once: the
	// next ClaimJob, by any owner, takes it.
	ExtendJob(ctx context.Context, id int64, owner string, lease time.Duration) error
	// FinishJob ends a job the owner holds. A non-empty failure is
	// recorded; the job is not retried by the store (the worker decides).
	FinishJob(ctx context.Context, id int64, owner, failure string) error
	// Jobs lists jobs in a state ("queued", "running", "done", "failed"),
	// oldest first.
	Jobs(ctx context.Context, state string, limit int) ([]Job, error)

	// Layer results cached by key (diff-id and analyzer version).
	GetLayer(ctx context.Context, key string) ([]byte, error) // nil, nil when absent
	PutLayer(ctx context.Context, key string, data []byte) error

	// Inventories are kept by the hash of their content, so images that
	// hold the same packages share one copy.
	PutInventory(ctx context.Context, hash string, data []byte) error
	Inventory(ctx context.Context, hash string) ([]byte, error)

	// UpdateFindings runs fn in a transaction with the findings of one
	// image (every status); the findings fn returns are written (inserted
	// or replaced by id) together with the image update and events it
	// returns. It is how scans and rescans reconcile findings: nothing is
	// half-applied, and two writers of one image's findings are
	// serialized.
	UpdateFindings(ctx context.Context, repository, digest string, fn func(existing []Finding) (FindingsUpdate, error)) error
	// UpdateAllFindings does the same across every image's findings that
	// are not CLOSED, for suppression rules created or deleted.
	UpdateAllFindings(ctx context.Context, fn func(existing []Finding) ([]Finding, []Event, error)) error
	Finding(ctx context.Context, id string) (*Finding, error)
	// ListFindings filters, sorts and pages findings.
	ListFindings(ctx context.Context, q FindingQuery) ([]Finding, string, error)
	// AggregateFindings counts findings by a grouping.
	AggregateFindings(ctx context.Context, q AggregationQuery) ([]Aggregate, string, error)

	CreateRule(ctx context.Context, r Rule) error
	Rules(ctx context.Context) ([]Rule, error)
	Rule(ctx context.Context, id string) (*Rule, error)
	DeleteRule(ctx context.Context, id string) error

	// AppendEvents adds events to the outbox (most events are appended
	// by the transactions above instead).
	AppendEvents(ctx context.Context, events []Event) error
	// Events lists events after a sequence number, oldest first.
	Events(ctx context.Context, q EventQuery) ([]Event, error)

	// Event rules, keyed by name. PutEventRule creates or replaces one.
	PutEventRule(ctx context.Context, r EventRule) error
	EventRules(ctx context.Context) ([]EventRule, error)
	EventRule(ctx context.Context, name string) (*EventRule, error)
	DeleteEventRule(ctx context.Context, name string) error

	// DispatchEvents moves the bus's cursor over the next events (at most
	// limit): in one transaction, holding the cursor against every other
	// dispatcher, it reads the events after the cursor, calls fn with
	// them, inserts the deliveries fn returns and moves the cursor past
	// the last event read. It returns how many events it read.
	DispatchEvents(ctx context.Context, limit int, fn func(events []Event) ([]Delivery, error)) (int, error)
	// AddDeliveries inserts deliveries outside dispatch (gate callbacks
	// written by UpdateGateRequest use that instead).
	AddDeliveries(ctx context.Context, ds []Delivery) error
	// ClaimDeliveries takes up to n pending deliveries whose next attempt
	// is due and that nobody holds (or whose holder's lease ran out),
	// oldest first, for owner until now+lease, with their events.
	ClaimDeliveries(ctx context.Context, owner string, lease time.Duration, n int) ([]Delivery, error)
	// FinishDelivery records an attempt on a delivery the owner holds:
	// attempts grow by one and the delivery takes the outcome's state;
	// ErrNotFound if the owner no longer holds it.
	FinishDelivery(ctx context.Context, id int64, owner string, o DeliveryOutcome) error
	Delivery(ctx context.Context, id int64) (*Delivery, error)
	Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// RedriveDeliveries puts dead deliveries (those ids, or with ids
	// empty every dead delivery of rule, or every dead one when both are
	// empty) back as pending: attempts zero, due now, a new age window.
	// It returns how many it moved.
	RedriveDeliveries(ctx context.Context, ids []int64, rule string) (int, error)

	// Gate policies, keyed by name.
	PutGatePolicy(ctx context.Context, p GatePolicy) error
	GatePolicies(ctx context.Context) ([]GatePolicy, error)
	GatePolicy(ctx context.Context, name string) (*GatePolicy, error)
	DeleteGatePolicy(ctx context.Context, name string) error

	CreateGateRequest(ctx context.Context, r GateRequest) error
	GateRequest(ctx context.Context, id string) (*GateRequest, error)
	GateRequests(ctx context.Context, q GateRequestQuery) ([]GateRequest, string, error)
	// UpdateGateRequest runs fn with the request, locked against every
	// other writer of it; the request as fn leaves it is written with
	// the decision, events and deliveries fn returns, in one transaction.
	// fn may return a zero GateUpdate and leave the request unchanged to
	// write nothing.
	UpdateGateRequest(ctx context.Context, id string, fn func(r *GateRequest) (GateUpdate, error)) error
	GateDecision(ctx context.Context, id string) (*GateDecision, error)
	GateDecisions(ctx context.Context, q GateDecisionQuery) ([]GateDecision, string, error)

	CreateToken(ctx context.Context, t Token) error
	// TokenByHash finds a token by the SHA-256 of its secret.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	Tokens(ctx context.Context) ([]Token, error)
	DeleteToken(ctx context.Context, id string) error
	TouchToken(ctx context.Context, id string, at time.Time) error

	// Meta is a small key-value table for process-wide facts such as the
	// vulnerability database build last applied.
	GetMeta(ctx context.Context, key string) (string, error) // "", nil when absent
	SetMeta(ctx context.Context, key, value string) error

	// Console sessions (web). CreateSession also forgets the sessions
	// that expired before the new one's CreatedAt, so that abandoned
	// sign-ins do not pile up; Session and DeleteSession answer
	// ErrNotFound for a session that is not kept (never was, signed out,
	// or its token deleted).
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (*Session, error)
	DeleteSession(ctx context.Context, id string) error

	// Outbound delivery (the bus's per-target lanes).

	// ClaimDeliveryLanes is ClaimDeliveries with bounds per lane (a
	// rule's target) and per rule, so that a claimer working on each
	// lane apart never takes more of one lane than it can work on.
	ClaimDeliveryLanes(ctx context.Context, c LaneClaim) ([]Delivery, error)

	// Registry state: deleted tags, and the images an index lists (which
	// RecordPush records from Push.Children and Image reports).

	// RecordUntag removes a tag, whatever image it names, notes its
	// deletion and appends the events, in one transaction; ErrNotFound
	// (and nothing written) when the repository has no such tag.
	RecordUntag(ctx context.Context, repository, tag string, at time.Time, events []Event) error
	// IndexesOf lists the digests of the indexes in a repository that
	// list the manifest digest.
	IndexesOf(ctx context.Context, repository, digest string) ([]string, error)
	// Deletion tells when a tag or a digest of a repository was deleted;
	// ErrNotFound when it was not, or has been pushed again since.
	Deletion(ctx context.Context, repository, ref string) (*Deletion, error)

	// Scan coverage: what an image's last scan could assess, and the
	// per-file warnings of its analysis. PutImageCoverage replaces the
	// image's record (ErrNotFound when the image is not stored);
	// ImageCoverage answers ErrNotFound when there is none. The record
	// goes when its image does.
	PutImageCoverage(ctx context.Context, c ImageCoverage) error
	ImageCoverage(ctx context.Context, repository, digest string) (*ImageCoverage, error)

	// Change-only findings (a gate policy's newFindingsOnly).

	// LastApproved is the newest decision that approved an image of the
	// repository for the stage and is still its request's decision,
	// leaving out the images of the digests excluded (the one being
	// judged, and the index it belongs to); ErrNotFound when there is
	// none.
	LastApproved(ctx context.Context, repository, stage string, exclude ...string) (*GateDecision, error)

	// Repository settings in ECR's shapes: imageTagMutability.

	// TagMutability is a repository's tag mutability; the zero Setting
	// (MUTABLE) when none was put. A repository need not exist yet.
	TagMutability(ctx context.Context, repository string) (mutability.Setting, error)
	// PutTagMutability replaces a repository's tag mutability; ErrInvalid
	// when the setting is not valid.
	PutTagMutability(ctx context.Context, repository string, s mutability.Setting) error
}

// Child is a manifest an image index lists, with that manifest's state in
// the repository when the repository holds it.
type Child struct {
	Digest string `json:"digest"`
	// Platform is "os/arch[/variant]" as the index gives it.
	Platform string `json:"platform,omitempty"`
	// Image is the child as stored; nil when the repository does not
	// hold it.
	Image *Image `json:"image,omitempty"`
}

// Deletion is a tag or digest deleted from a repository.
type Deletion struct {
	Repository string `json:"repository"`
	// Ref is the tag or digest deleted; Digest the manifest it named.
	Ref       string    `json:"ref"`
	Digest    string    `json:"digest"`
	DeletedAt time.Time `json:"deletedAt"`
}

// ImageCoverage is what an image's last scan could assess. Coverage and
// Warnings are JSON documents the scanner writes (package coverage's
// Coverage, the analysis warnings); Reason is the coverage's reason
// (SUCCESSFUL, UNSUPPORTED_OS, INCOMPLETE_INVENTORY, PARTIAL_COVERAGE).
type ImageCoverage struct {
	Repository string          `json:"repository"`
	Digest     string          `json:"digest"`
	Reason     string          `json:"reason"`
	Coverage   json.RawMessage `json:"coverage"`
	Warnings   json.RawMessage `json:"warnings"`
	UpdatedAt  time.Time       `json:"updatedAt"`
}

// Repository is a registry repository.
type Repository struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// RescanDuration is Inspector's: "LIFETIME" (default) or "DAYS_N";
	// RescanBasis "PUSH" or "PULL".
	RescanDuration string `json:"rescanDuration"`
	RescanBasis    string `json:"rescanBasis"`
	// Images counts the images in the repository.
	Images int `json:"images"`
}

// Push is a manifest pushed to the registry.
type Push struct {
	Repository   string
	Digest       string
	MediaType    string
	ArtifactType string // the config media type or artifactType
	ConfigDigest string
	Tag          string // "" for a push by digest
	Size         int64  // manifest plus referenced blobs
	Platform     string // "linux/amd64", from the config when known
	At           time.Time
	// Children are the manifests an index lists, in its order.
	Children []Child
	Events   []Event
	// Job, when set, is enqueued in the same transaction.
	Job *Job
}

// Image is one manifest in one repository.
type Image struct {
	Repository   string    `json:"repository"`
	Digest       string    `json:"digest"`
	MediaType    string    `json:"mediaType"`
	ArtifactType string    `json:"artifactType,omitempty"`
	ConfigDigest string    `json:"configDigest,omitempty"`
	Tags         []string  `json:"tags"`
	Size         int64     `json:"size"`
	Platform     string    `json:"platform,omitempty"`
	PushedAt     time.Time `json:"pushedAt"`
	LastPulledAt time.Time `json:"lastPulledAt,omitzero"`

	ScanStatus string `json:"scanStatus"`
	// ScanReason is Inspector's coverage reason code (SUCCESSFUL,
	// PENDING_INITIAL_SCAN, UNSUPPORTED_OS, INTERNAL_ERROR,
	// SCAN_ELIGIBILITY_EXPIRED, …); ScanMessage says more in words.
	ScanReason  string    `json:"scanReason,omitempty"`
	ScanMessage string    `json:"scanMessage,omitempty"`
	ScannedAt   time.Time `json:"scannedAt,omitzero"`

	// Distro is "debian 11" etc., when known; InventoryHash names the
	// stored inventory.
	Distro        string `json:"distro,omitempty"`
	InventoryHash string `json:"inventoryHash,omitempty"`
	// DBVersion is the vulnerability database version its findings were
	// last matched with.
	DBVersion string `json:"dbVersion,omitempty"`
	// Counts are the image's ACTIVE findings per severity.
	Counts Counts `json:"counts"`
	// Children are, for an image index, the manifests it lists.
	Children []Child `json:"children,omitempty"`
}

// Counts are finding counts per severity.
type Counts struct {
	Critical      int `json:"CRITICAL"`
	High          int `json:"HIGH"`
	Medium        int `json:"MEDIUM"`
	Low           int `json:"LOW"`
	Informational int `json:"INFORMATIONAL"`
	Untriaged     int `json:"UNTRIAGED"`
	Total         int `json:"TOTAL"`
}

// ImageQuery selects images.
type ImageQuery struct {
	Repository string // "" for every repository
	Tag        string
	ScanStatus string
	// Limit is the page size (default 100, at most 1000); Next is the
	// token a previous page returned.
	Limit int
	Next  string
}

// ImageUpdate changes an image's scan state. Zero fields are left as
// they are, except that ScanStatus is always set.
type ImageUpdate struct {
	Repository, Digest string
	ScanStatus         string
	ScanReason         string
	ScanMessage        string
	ScannedAt          time.Time
	Distro             string
	InventoryHash      string
	DBVersion          string
}

// Job kinds.
const (
	JobScan   = "scan"   // analyse an image and match its inventory
	JobRescan = "rescan" // re-match a stored inventory, without reading layers
)

// Job is a unit of work for a worker.
type Job struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	Repository string    `json:"repository"`
	Digest     string    `json:"digest"`
	State      string    `json:"state"` // queued, running, done, failed
	Attempts   int       `json:"attempts"`
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	Failure    string    `json:"failure,omitempty"`
}

// Finding is one finding as stored: the fields findings are filtered,
// sorted and aggregated by, and the whole Inspector finding in Data.
type Finding struct {
	// ID is stable for one vulnerability in one package file of one
	// image: 32 hex characters, the finding ARN's last part.
	ID              string   `json:"id"`
	Repository      string   `json:"repository"`
	ImageDigest     string   `json:"imageDigest"`
	VulnerabilityID string   `json:"vulnerabilityId"`
	Title           string   `json:"title"`
	Severity        string   `json:"severity"`
	Status          string   `json:"status"`
	Score           *float64 `json:"score,omitempty"` // nil when UNTRIAGED
	// FixAvailable and ExploitAvailable are "YES", "NO" (or "PARTIAL").
	FixAvailable     string   `json:"fixAvailable"`
	ExploitAvailable string   `json:"exploitAvailable"`
	EPSS             *float64 `json:"epss,omitempty"`
	PackageName      string   `json:"packageName"`
	PackageVersion   string   `json:"packageVersion"`
	PackageManager   string   `json:"packageManager"`
	FilePath         string   `json:"filePath"`
	LayerDiffID      string   `json:"layerDiffId,omitempty"`
	// SuppressedBy is the id of the rule that suppresses it.
	SuppressedBy    string    `json:"suppressedBy,omitempty"`
	FirstObservedAt time.Time `json:"firstObservedAt"`
	LastObservedAt  time.Time `json:"lastObservedAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	// NotReachable says why the vulnerable code is not reachable in the
	// image; empty when it is, or when that is not known.
	NotReachable string `json:"notReachable,omitempty"`
	// Data is the Inspector finding JSON.
	Data json.RawMessage `json:"data"`
}

// FindingsUpdate is what an UpdateFindings callback writes.
type FindingsUpdate struct {
	Findings []Finding
	Image    *ImageUpdate // nil: leave the image as it is
	Events   []Event
}

// StringFilter, NumberFilter and DateFilter are Inspector's filter shapes.
type StringFilter struct {
	Comparison string `json:"comparison"` // EQUALS, PREFIX, NOT_EQUALS
	Value      string `json:"value"`
}

type NumberFilter struct {
	LowerInclusive *float64 `json:"lowerInclusive,omitempty"`
	UpperInclusive *float64 `json:"upperInclusive,omitempty"`
}

type DateFilter struct {
	StartInclusive *time.Time `json:"startInclusive,omitempty"`
	EndInclusive   *time.Time `json:"endInclusive,omitempty"`
}

// FilterCriteria selects findings, as Inspector's FilterCriteria: filters
// of one field OR together (except NOT_EQUALS, which AND together), fields
// AND together.
type FilterCriteria struct {
	FindingArn             []StringFilter  `json:"findingArn,omitempty"`
	EcrImageRepositoryName []StringFilter  `json:"ecrImageRepositoryName,omitempty"`
	EcrImageTags           []StringFilter  `json:"ecrImageTags,omitempty"`
	EcrImageHash           []StringFilter  `json:"ecrImageHash,omitempty"`
	Severity               []StringFilter  `json:"severity,omitempty"`
	FindingStatus          []StringFilter  `json:"findingStatus,omitempty"`
	FixAvailable           []StringFilter  `json:"fixAvailable,omitempty"`
	ExploitAvailable       []StringFilter  `json:"exploitAvailable,omitempty"`
	VulnerabilityID        []StringFilter  `json:"vulnerabilityId,omitempty"`
	Title                  []StringFilter  `json:"title,omitempty"`
	VulnerablePackages     []PackageFilter `json:"vulnerablePackages,omitempty"`
	EpssScore              []NumberFilter  `json:"epssScore,omitempty"`
	InspectorScore         []NumberFilter  `json:"inspectorScore,omitempty"`
	FirstObservedAt        []DateFilter    `json:"firstObservedAt,omitempty"`
	LastObservedAt         []DateFilter    `json:"lastObservedAt,omitempty"`
	UpdatedAt              []DateFilter    `json:"updatedAt,omitempty"`
	EcrImagePushedAt       []DateFilter    `json:"ecrImagePushedAt,omitempty"`
}

// PackageFilter matches a vulnerable package, as Inspector's
// PackageFilter: every field set must match.
type PackageFilter struct {
	Name            *StringFilter `json:"name,omitempty"`
	Version         *StringFilter `json:"version,omitempty"`
	FilePath        *StringFilter `json:"filePath,omitempty"`
	SourceLayerHash *StringFilter `json:"sourceLayerHash,omitempty"` // the layer's diff-id
}

// FindingQuery lists findings.
type FindingQuery struct {
	Filter FilterCriteria
	// SortField is one of Inspector's: SEVERITY (default, most severe
	// first), INSPECTOR_SCORE, EPSS_SCORE, FIRST_OBSERVED_AT,
	// LAST_OBSERVED_AT, FINDING_STATUS, ECR_IMAGE_PUSHED_AT,
	// ECR_IMAGE_REPOSITORY_NAME, VULNERABILITY_ID; SortOrder is ASC or
	// DESC (default DESC). Ties are broken by finding id, so pages are
	// stable.
	SortField string
	SortOrder string
	Limit     int    // default 100, at most 1000
	Next      string // page token
}

// Aggregation types, as Inspector's.
const (
	AggRepository = "REPOSITORY"
	AggImage      = "AWS_ECR_CONTAINER"
	AggLayer      = "IMAGE_LAYER"
	AggPackage    = "PACKAGE"
	AggTitle      = "TITLE"
	AggType       = "FINDING_TYPE"
	// AggVulnerability groups by vulnerability id alone, across the
	// packages it is found in (a TITLE group is one advisory title).
	AggVulnerability = "VULNERABILITY"
)

// AggregationQuery counts findings per group; only ACTIVE findings count
// unless the filter says otherwise.
type AggregationQuery struct {
	Type   string
	Filter FilterCriteria
	// SortBy is CRITICAL, HIGH, ALL (default) … descending.
	SortBy string
	Limit  int
	Next   string
}

// Aggregate is one group's counts. Key fields are set per type:
// REPOSITORY: Repository; AWS_ECR_CONTAINER: Repository, ImageDigest,
// Tags; IMAGE_LAYER: Repository, ImageDigest, LayerDiffID; PACKAGE:
// PackageName; TITLE: Title, VulnerabilityID; VULNERABILITY:
// VulnerabilityID; FINDING_TYPE: FindingType.
type Aggregate struct {
	Repository      string   `json:"repository,omitempty"`
	ImageDigest     string   `json:"imageDigest,omitempty"`
	Tags            []string `json:"tags,omitempty"`
	LayerDiffID     string   `json:"layerDiffId,omitempty"`
	PackageName     string   `json:"packageName,omitempty"`
	Title           string   `json:"title,omitempty"`
	VulnerabilityID string   `json:"vulnerabilityId,omitempty"`
	FindingType     string   `json:"findingType,omitempty"`
	// Images counts distinct images in the group (for REPOSITORY,
	// PACKAGE, TITLE, VULNERABILITY).
	Images int    `json:"images,omitempty"`
	Counts Counts `json:"counts"`
}

// Rule is a suppression rule, as Inspector's filter with action SUPPRESS.
type Rule struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Action      string         `json:"action"` // SUPPRESS or NONE
	Reason      string         `json:"reason"`
	Description string         `json:"description,omitempty"`
	Filter      FilterCriteria `json:"filterCriteria"`
	ExpiresAt   time.Time      `json:"expiresAt,omitzero"`
	CreatedAt   time.Time      `json:"createdAt"`
	CreatedBy   string         `json:"createdBy,omitempty"`
}

// Event is one event in the outbox: the EventBridge envelope, whole, in
// Envelope, with the fields events are listed by.
type Event struct {
	// Seq orders events; the store assigns it.
	Seq        int64           `json:"seq"`
	ID         string          `json:"id"`
	Time       time.Time       `json:"time"`
	Source     string          `json:"source"`
	DetailType string          `json:"detailType"`
	Envelope   json.RawMessage `json:"envelope"`
}

// EventQuery lists events.
type EventQuery struct {
	After      int64 // events with Seq > After
	DetailType string
	Limit      int // default 100, at most 1000
}

// Token is an API token. Only the hash of its secret is kept.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	Hash       string    `json:"-"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}
