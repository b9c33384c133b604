package store

import (
	"encoding/json"
	"time"
)

// EventRule is an event rule, as EventBridge's: a pattern and the targets
// that every matching event is delivered to. Field names follow
// EventBridge's PutRule and PutTargets.
type EventRule struct {
	Name        string `json:"Name"`
	Description string `json:"Description,omitempty"`
	// EventPattern is the pattern JSON (an object).
	EventPattern json.RawMessage `json:"EventPattern"`
	// State is ENABLED or DISABLED.
	State   string   `json:"State"`
	Targets []Target `json:"Targets"`
	// ManagedBy says where the rule comes from: "api", "config" (the
	// configuration file, replaced at each start) or "builtin".
	ManagedBy string    `json:"ManagedBy,omitempty"`
	CreatedAt time.Time `json:"CreatedAt"`
	UpdatedAt time.Time `json:"UpdatedAt"`
}

// Target types.
const (
	TargetWebhook = "webhook"
	TargetGate    = "gate"
	TargetLog     = "log"
)

// Target is where a rule sends matching events.
type Target struct {
	// ID is unique within its rule.
	ID   string `json:"Id"`
	Type string `json:"Type"` // webhook, gate or log
	// URL and Secret are a webhook's: deliveries are POSTed to URL and
	// signed with HMAC-SHA256 under Secret.
	URL    string `json:"Url,omitempty"`
	Secret string `json:"Secret,omitempty"`
	// HasSecret is set in answers that leave the secret out.
	HasSecret        bool              `json:"HasSecret,omitempty"`
	InputTransformer *InputTransformer `json:"InputTransformer,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"RetryPolicy,omitempty"`
}

// InputTransformer is EventBridge's: variables read from the event by JSON
// path, put into a template.
type InputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
	InputTemplate string            `json:"InputTemplate"`
}

// RetryPolicy is EventBridge's; zero fields take its defaults (86400 s,
// 185 attempts). MaximumRetryAttempts is a pointer because 0 is a valid
// setting (no retry).
type RetryPolicy struct {
	MaximumEventAgeInSeconds int  `json:"MaximumEventAgeInSeconds,omitempty"`
	MaximumRetryAttempts     *int `json:"MaximumRetryAttempts,omitempty"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead" // in the dead-letter list
)

// Delivery is one event on its way to one target. Deliveries are written
// in the transaction that moves the dispatch cursor past their event, so
// that every event reaches every target its rules matched, at least once.
type Delivery struct {
	ID       int64  `json:"id"`
	EventID  string `json:"eventId"`
	EventSeq int64  `json:"eventSeq"`
	// Rule and Target name the rule and its target. A gate callback has
	// no rule and the Target "callback/<request id>".
	Rule   string `json:"rule,omitempty"`
	Target string `json:"target"`
	State  string `json:"state"`
	// Attempts counts the attempts made; NextAttemptAt is when the next
	// may be made.
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
	// WindowStart starts the maximum event age: the event's time, or the
	// time of the last redrive.
	WindowStart time.Time `json:"windowStart"`
	LastError   string    `json:"lastError,omitempty"`
	LastStatus  int       `json:"lastStatus,omitempty"` // HTTP status of the last attempt
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	// Owner and LeaseUntil are a claimer's hold on the delivery.
	Owner      string    `json:"-"`
	LeaseUntil time.Time `json:"-"`
	// Envelope is the event, filled in by ClaimDeliveries and Delivery.
	Envelope json.RawMessage `json:"event,omitempty"`
}

// DeliveryOutcome is what an attempt ended in.
type DeliveryOutcome struct {
	State         string // delivered, pending (retry at NextAttemptAt) or dead
	NextAttemptAt time.Time
	Error         string
	Status        int
}

// DeliveryQuery lists deliveries, newest first.
type DeliveryQuery struct {
	State   string // "" for every state
	Rule    string
	EventID string
	// Before pages: deliveries with an id below it (0: from the newest).
	Before int64
	Limit  int // default 100, at most 1000
}
