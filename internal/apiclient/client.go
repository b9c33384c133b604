// Package apiclient is a Go client of Vigil's HTTP API (package api): one
// method per operation, with the API's own request and response shapes.
// Errors the API answers with are returned as *Error, so callers can
// branch on the status or code; the token is never part of an error.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/store"
)

// Client talks to one Vigil server. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[/prefix], without a trailing slash
	token string
	http  *http.Client
}

// maxResponse bounds what is read of one answer (an SBOM of a large image
// is the biggest); maxError bounds error bodies.
const (
	maxResponse = 256 << 20
	maxError    = 64 << 10
)

// New returns a client of the server at server ("http://localhost:5000",
// or with a path prefix when the server is behind a proxy) that sends
// token. hc may be nil for a client with a 2-minute timeout.
func New(server, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("apiclient: server %q is not an http:// or https:// URL", server)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	return &Client{base: strings.TrimSuffix(u.String(), "/"), token: token, http: hc}, nil
}

// Error is an error answered by the API.
type Error struct {
	StatusCode int
	Code       string `json:"code"`
	Message    string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// do sends a request to path (under /api/v1, with its query) and decodes
// a JSON answer into out (nil: none expected).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	body, _, err := c.raw(ctx, method, path, in)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("apiclient: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// call is do for an answer of type T; it returns nil on error.
func call[T any](ctx context.Context, c *Client, method, path string, in any) (*T, error) {
	var v T
	if err := c.do(ctx, method, path, in, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// raw sends a request and returns the body of a successful answer.
func (c *Client) raw(ctx context.Context, method, path string, in any) ([]byte, http.Header, error) {
	var rd io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, nil, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("apiclient: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("apiclient: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxError))
		e := &Error{StatusCode: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			// Not the API's error: a proxy's page, say.
			e.Code = http.StatusText(resp.StatusCode)
			e.Message = strings.TrimSpace(string(data))
			if len(e.Message) > 200 {
				e.Message = e.Message[:200] + "…"
			}
		}
		return nil, nil, e
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, nil, fmt.Errorf("apiclient: %s %s: %w", method, path, err)
	}
	if len(data) > maxResponse {
		return nil, nil, fmt.Errorf("apiclient: %s %s: answer larger than %d bytes", method, path, maxResponse)
	}
	return data, resp.Header, nil
}

// query builds a query string from pairs, leaving out empty values.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Add(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// WhoAmI is the principal of the client's token.
type WhoAmI struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	TokenID string `json:"tokenId,omitempty"`
}

func (c *Client) WhoAmI(ctx context.Context) (*WhoAmI, error) {
	return call[WhoAmI](ctx, c, "GET", "/whoami", nil)
}

// OpenAPI returns the API's OpenAPI document (YAML).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	b, _, err := c.raw(ctx, "GET", "/openapi.yaml", nil)
	return b, err
}

func (c *Client) Repositories(ctx context.Context) ([]store.Repository, error) {
	var r struct {
		Repositories []store.Repository `json:"repositories"`
	}
	if err := c.do(ctx, "GET", "/repositories", nil, &r); err != nil {
		return nil, err
	}
	return r.Repositories, nil
}

// SetRescanDuration sets a repository's rescan duration (LIFETIME,
// DAYS_14 … DAYS_180) counted from push or last pull (basis PUSH or PULL;
// "" for PUSH).
func (c *Client) SetRescanDuration(ctx context.Context, repository, duration, basis string) (*store.Repository, error) {
	in := map[string]string{"repository": repository, "rescanDuration": duration}
	if basis != "" {
		in["rescanBasis"] = basis
	}
	return call[store.Repository](ctx, c, "PUT", "/repositories/settings", in)
}

// ImageQuery selects images; zero fields select everything.
type ImageQuery struct {
	Repository, Tag, ScanStatus string
	MaxResults                  int
	NextToken                   string
}

type ImagePage struct {
	Images    []store.Image `json:"images"`
	NextToken string        `json:"nextToken,omitempty"`
}

func (c *Client) Images(ctx context.Context, q ImageQuery) (*ImagePage, error) {
	return call[ImagePage](ctx, c, "GET", "/images"+query("repository", q.Repository, "tag", q.Tag, "scanStatus", q.ScanStatus,
		"maxResults", itoa(q.MaxResults), "nextToken", q.NextToken), nil)
}

// Image returns an image by digest, or by tag when digest is "".
func (c *Client) Image(ctx context.Context, repository, digest, tag string) (*store.Image, error) {
	return call[store.Image](ctx, c, "GET", "/images/detail"+query("repository", repository, "digest", digest, "tag", tag), nil)
}

// SBOM returns the SBOM of an image (by digest, or by tag when digest is
// "") in format "cyclonedx" or "spdx".
func (c *Client) SBOM(ctx context.Context, repository, digest, tag, format string) ([]byte, error) {
	b, _, err := c.raw(ctx, "GET", "/images/sbom"+query("repository", repository, "digest", digest, "tag", tag, "format", format), nil)
	return b, err
}

// Rescan queues a re-evaluation of an image, a repository's images
// (digest "") or every image (both ""); it reports false when the same
// rescan was already waiting.
func (c *Client) Rescan(ctx context.Context, repository, digest string) (bool, error) {
	var r struct {
		Enqueued bool `json:"enqueued"`
	}
	if err := c.do(ctx, "POST", "/images/rescan", map[string]string{"repository": repository, "digest": digest}, &r); err != nil {
		return false, err
	}
	return r.Enqueued, nil
}

// SortCriteria is Inspector's: field SEVERITY, INSPECTOR_SCORE, …; order
// ASC or DESC.
type SortCriteria struct {
	Field     string `json:"field,omitempty"`
	SortOrder string `json:"sortOrder,omitempty"`
}

// FindingsRequest is Inspector's ListFindings request.
type FindingsRequest struct {
	FilterCriteria *store.FilterCriteria `json:"filterCriteria,omitempty"`
	SortCriteria   *SortCriteria         `json:"sortCriteria,omitempty"`
	MaxResults     int                   `json:"maxResults,omitempty"`
	NextToken      string                `json:"nextToken,omitempty"`
}

type FindingPage struct {
	Findings  []report.InspectorFinding `json:"findings"`
	NextToken string                    `json:"nextToken,omitempty"`
}

func (c *Client) ListFindings(ctx context.Context, req FindingsRequest) (*FindingPage, error) {
	return call[FindingPage](ctx, c, "POST", "/findings/list", req)
}

// Finding returns one finding by id or finding ARN.
func (c *Client) Finding(ctx context.Context, id string) (*report.InspectorFinding, error) {
	return call[report.InspectorFinding](ctx, c, "GET", "/findings/"+url.PathEscape(id), nil)
}

// AggregationRequest counts findings per group (type REPOSITORY,
// AWS_ECR_CONTAINER, IMAGE_LAYER, PACKAGE, TITLE or FINDING_TYPE).
type AggregationRequest struct {
	AggregationType string                `json:"aggregationType"`
	FilterCriteria  *store.FilterCriteria `json:"filterCriteria,omitempty"`
	SortBy          string                `json:"sortBy,omitempty"`
	MaxResults      int                   `json:"maxResults,omitempty"`
	NextToken       string                `json:"nextToken,omitempty"`
}

type AggregationPage struct {
	AggregationType string            `json:"aggregationType"`
	Responses       []store.Aggregate `json:"responses"`
	NextToken       string            `json:"nextToken,omitempty"`
}

func (c *Client) AggregateFindings(ctx context.Context, req AggregationRequest) (*AggregationPage, error) {
	return call[AggregationPage](ctx, c, "POST", "/findings/aggregate", req)
}

func (c *Client) Suppressions(ctx context.Context) ([]store.Rule, error) {
	var r struct {
		Suppressions []store.Rule `json:"suppressions"`
	}
	if err := c.do(ctx, "GET", "/suppressions", nil, &r); err != nil {
		return nil, err
	}
	return r.Suppressions, nil
}

func (c *Client) Suppression(ctx context.Context, id string) (*store.Rule, error) {
	return call[store.Rule](ctx, c, "GET", "/suppressions/"+url.PathEscape(id), nil)
}

// SuppressionRequest creates a suppression rule.
type SuppressionRequest struct {
	Name           string               `json:"name"`
	Reason         string               `json:"reason"`
	Description    string               `json:"description,omitempty"`
	FilterCriteria store.FilterCriteria `json:"filterCriteria"`
	// ExpiresAt, when not zero, ends the suppression.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// CreateSuppression creates a rule. An *Error with code RULES_NOT_APPLIED
// means the rule was created but existing findings were not updated.
func (c *Client) CreateSuppression(ctx context.Context, req SuppressionRequest) (*store.Rule, error) {
	return call[store.Rule](ctx, c, "POST", "/suppressions", req)
}

func (c *Client) DeleteSuppression(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/suppressions/"+url.PathEscape(id), nil, nil)
}

// EventQuery selects events after a sequence number.
type EventQuery struct {
	After      int64
	DetailType string
	MaxResults int
}

type EventPage struct {
	Events  []events.Envelope `json:"events"`
	LastSeq int64             `json:"lastSeq"`
}

func (c *Client) Events(ctx context.Context, q EventQuery) (*EventPage, error) {
	after := ""
	if q.After != 0 {
		after = strconv.FormatInt(q.After, 10)
	}
	return call[EventPage](ctx, c, "GET", "/events"+query("after", after, "detailType", q.DetailType, "maxResults", itoa(q.MaxResults)), nil)
}

func (c *Client) Tokens(ctx context.Context) ([]store.Token, error) {
	var r struct {
		Tokens []store.Token `json:"tokens"`
	}
	if err := c.do(ctx, "GET", "/tokens", nil, &r); err != nil {
		return nil, err
	}
	return r.Tokens, nil
}

// NewToken is a created token and its secret, shown only this once.
type NewToken struct {
	Token  store.Token `json:"token"`
	Secret string      `json:"secret"`
}

func (c *Client) CreateToken(ctx context.Context, name, role string) (*NewToken, error) {
	return call[NewToken](ctx, c, "POST", "/tokens", map[string]string{"name": name, "role": role})
}

func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/tokens/"+url.PathEscape(id), nil, nil)
}

// ScanInventory has the server match, score and judge an inventory taken
// elsewhere (POST /scan/inventory) and returns its report in the wire
// form of scan.EncodeWire, for scan.DecodeWire.
func (c *Client) ScanInventory(ctx context.Context, in *scan.Inventory) ([]byte, error) {
	body, _, err := c.raw(ctx, http.MethodPost, "/scan/inventory", in)
	return body, err
}
