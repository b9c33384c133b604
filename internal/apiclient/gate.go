package apiclient

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
)

func (c *Client) Rules(ctx context.Context) ([]store.EventRule, error) {
	var r struct {
		Rules []store.EventRule `json:"Rules"`
	}
	if err := c.do(ctx, "GET", "/rules", nil, &r); err != nil {
		return nil, err
	}
	return r.Rules, nil
}

func (c *Client) Rule(ctx context.Context, name string) (*store.EventRule, error) {
	return call[store.EventRule](ctx, c, "GET", "/rules/"+url.PathEscape(name), nil)
}

// PutRuleResult is a stored rule and the webhook secrets the server made
// for it, shown only this once.
type PutRuleResult struct {
	store.EventRule
	NewSecrets map[string]string `json:"NewSecrets"`
}

func (c *Client) PutRule(ctx context.Context, r store.EventRule) (*PutRuleResult, error) {
	return call[PutRuleResult](ctx, c, "PUT", "/rules/"+url.PathEscape(r.Name), r)
}

func (c *Client) DeleteRule(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/rules/"+url.PathEscape(name), nil, nil)
}

// TestPattern asks the server whether event matches pattern.
func (c *Client) TestPattern(ctx context.Context, pattern, event json.RawMessage) (bool, error) {
	var r struct {
		Result bool `json:"Result"`
	}
	err := c.do(ctx, "POST", "/rules/test", map[string]json.RawMessage{"EventPattern": pattern, "Event": event}, &r)
	return r.Result, err
}

type DeliveryQuery struct {
	State, Rule, EventID string
	Before               int64
	MaxResults           int
}

type DeliveryPage struct {
	Deliveries []store.Delivery `json:"deliveries"`
	NextBefore int64            `json:"nextBefore"`
}

func (c *Client) Deliveries(ctx context.Context, q DeliveryQuery) (*DeliveryPage, error) {
	before := ""
	if q.Before != 0 {
		before = strconv.FormatInt(q.Before, 10)
	}
	return call[DeliveryPage](ctx, c, "GET", "/deliveries"+query("state", q.State, "rule", q.Rule, "eventId", q.EventID,
		"before", before, "maxResults", itoa(q.MaxResults)), nil)
}

// Redrive puts dead deliveries back: those ids, or every dead one of
// rule, or with all every dead one.
func (c *Client) Redrive(ctx context.Context, ids []int64, rule string, all bool) (int, error) {
	var r struct {
		Redriven int `json:"redriven"`
	}
	err := c.do(ctx, "POST", "/deliveries/redrive", map[string]any{"ids": ids, "rule": rule, "all": all}, &r)
	return r.Redriven, err
}

// Policies are the stored gate policies and, when none is the default,
// the built-in default that applies.
type Policies struct {
	Policies       []store.GatePolicy `json:"policies"`
	BuiltinDefault *store.GatePolicy  `json:"builtinDefault"`
}

func (c *Client) GatePolicies(ctx context.Context) (*Policies, error) {
	return call[Policies](ctx, c, "GET", "/gate/policies", nil)
}

func (c *Client) PutGatePolicy(ctx context.Context, p store.GatePolicy) (*store.GatePolicy, error) {
	return call[store.GatePolicy](ctx, c, "PUT", "/gate/policies/"+url.PathEscape(p.Name), p)
}

func (c *Client) DeleteGatePolicy(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/gate/policies/"+url.PathEscape(name), nil, nil)
}

// GateRequest is a request and its latest decision, if any.
type GateRequest struct {
	Request  store.GateRequest   `json:"request"`
	Decision *store.GateDecision `json:"decision"`
}

// CreateGateRequest registers a pipeline's request (CreatedBy is the
// server's to set and is not sent).
func (c *Client) CreateGateRequest(ctx context.Context, in gate.RequestInput) (*GateRequest, error) {
	return call[GateRequest](ctx, c, "POST", "/gate/requests", in)
}

// WaitGateRequest answers as soon as the request is decided, or after
// waitSeconds (at most 60).
func (c *Client) WaitGateRequest(ctx context.Context, id string, waitSeconds int) (*GateRequest, error) {
	return call[GateRequest](ctx, c, "GET", "/gate/requests/"+url.PathEscape(id)+query("wait", itoa(waitSeconds)), nil)
}

type DecisionQuery struct {
	RequestID, Repository, Digest, NextToken string
	MaxResults                               int
}

type DecisionPage struct {
	Decisions []store.GateDecision `json:"decisions"`
	NextToken string               `json:"nextToken"`
}

func (c *Client) GateDecisions(ctx context.Context, q DecisionQuery) (*DecisionPage, error) {
	return call[DecisionPage](ctx, c, "GET", "/gate/decisions"+query("requestId", q.RequestID, "repository", q.Repository,
		"digest", q.Digest, "maxResults", itoa(q.MaxResults), "nextToken", q.NextToken), nil)
}

func (c *Client) GateCheck(ctx context.Context, image string) (*gate.Check, error) {
	return call[gate.Check](ctx, c, "GET", "/gate/check"+query("image", image), nil)
}

// GateCheckPlatform judges, of an image index, only its image for platform
// ("os/arch[/variant]").
func (c *Client) GateCheckPlatform(ctx context.Context, image, platform string) (*gate.Check, error) {
	return call[gate.Check](ctx, c, "GET", "/gate/check"+query("image", image, "platform", platform), nil)
}

// CheckOptions narrow or pin a gate check.
type CheckOptions struct {
	// Platform judges only an index's image for it; Stage is the stage
	// newFindingsOnly compares with; DBVersion re-matches the image's
	// inventory against that kept database version.
	Platform, Stage, DBVersion string
}

// GateCheckWith judges an image with options.
func (c *Client) GateCheckWith(ctx context.Context, image string, o CheckOptions) (*gate.Check, error) {
	return call[gate.Check](ctx, c, "GET", "/gate/check"+query("image", image, "platform", o.Platform, "stage", o.Stage, "dbVersion", o.DBVersion), nil)
}
