package gate

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/egress"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/store"
)

// Event names of gate decisions.
const (
	Source       = "vigil.gate"
	DecisionType = "Vigil Gate Decision"
)

// Triggers of decisions.
const (
	TriggerRequest    = "request"          // the image was judged when the request arrived
	TriggerScan       = "scan"             // its scan completed
	TriggerScanFailed = "scan-failed"      // its scan failed
	TriggerUnsupport  = "unsupported"      // Vigil cannot scan it
	TriggerInactive   = "inactive"         // past its repository's rescan duration
	TriggerTimeout    = "timeout"          // no result before the deadline
	TriggerChanged    = "findings-changed" // a rescan changed the verdict
)

// Gate decides approval requests. Its fields are set before use and not
// changed; it keeps no state of its own, so any number of processes may
// share one store.
type Gate struct {
	Store   store.Store
	Emitter events.Emitter
	// Timeout is how long a request waits for a scan when neither the
	// request nor its policy says (default 30 minutes).
	Timeout time.Duration
	// Egress decides which callback URLs a request may give (nil:
	// egress.Default()).
	Egress *egress.Policy
	Log    *slog.Logger
	Now    func() time.Time
	// Rematcher re-matches stored inventories against kept database
	// versions (JudgeOptions.DBVersion); nil: none are kept.
	Rematcher Rematcher
}

// MaxTimeout bounds how long any request may wait.
const MaxTimeout = 24 * time.Hour

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now().UTC()
	}
	return time.Now().UTC()
}

// ErrInvalid is wrapped by errors about a bad request.
var ErrInvalid = errors.New("gate: invalid request")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Reference is an image reference as a pipeline gives it:
// [host[:port]/]repository(:tag|@digest).
type Reference struct {
	Repository, Tag, Digest string
}

// ParseReference reads an image reference. A leading registry host (a
// first component with a '.' or ':', or "localhost") is dropped: the gate
// judges images of this registry. Without tag or digest the tag is
// "latest".
func ParseReference(s string) (Reference, error) {
	var r Reference
	if s == "" {
		return r, invalid("an image reference is required")
	}
	rest := s
	if first, after, ok := strings.Cut(rest, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		rest = after
	}
	if name, d, ok := strings.Cut(rest, "@"); ok {
		if !validDigest(d) {
			return r, invalid("image %q: digest %q is not sha256:<64 hex>", s, d)
		}
		r.Digest, rest = d, name
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		r.Tag, rest = rest[i+1:], rest[:i]
		if r.Tag == "" {
			return r, invalid("image %q: empty tag", s)
		}
	}
	if r.Digest != "" {
		r.Tag = "" // a digest names the image; a tag beside it is decoration
	}
	if rest == "" || strings.HasPrefix(rest, "/") || strings.HasSuffix(rest, "/") || strings.Contains(rest, "//") || rest != strings.ToLower(rest) {
		return r, invalid("image %q: repository %q is not a valid name", s, rest)
	}
	r.Repository = rest
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

func validDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && h == strings.ToLower(h)
}

// RequestInput is what a pipeline registers.
type RequestInput struct {
	Image       string `json:"image"`
	Pipeline    string `json:"pipeline"`
	Stage       string `json:"stage,omitempty"`
	Action      string `json:"action,omitempty"`
	CallbackURL string `json:"callbackUrl,omitempty"`
	// NewPush waits for an image pushed after the request, rather than
	// judging the one a tag names now.
	NewPush bool `json:"newPush,omitempty"`
	// TimeoutSeconds overrides the policy's timeout.
	TimeoutSeconds int    `json:"timeoutSeconds,omitempty"`
	CreatedBy      string `json:"-"`
}

// Request stores a pipeline's request and, if the image is already
// scanned, decides it at once.
func (g *Gate) Request(ctx context.Context, in RequestInput) (*store.GateRequest, error) {
	ref, err := ParseReference(in.Image)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Pipeline) == "" {
		return nil, invalid("pipeline is required")
	}
	if in.CallbackURL != "" {
		u, err := url.Parse(in.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, invalid("callbackUrl %q must be an http or https URL", in.CallbackURL)
		}
		p := g.Egress
		if p == nil {
			p = egress.Default()
		}
		if err := p.CheckURL(ctx, in.CallbackURL); err != nil {
			return nil, invalid("callbackUrl: %v", err)
		}
	}
	if in.TimeoutSeconds < 0 || time.Duration(in.TimeoutSeconds)*time.Second > MaxTimeout {
		return nil, invalid("timeoutSeconds %d (0 to %d)", in.TimeoutSeconds, int(MaxTimeout.Seconds()))
	}
	if in.NewPush && ref.Tag == "" {
		return nil, invalid("newPush needs a tag: a digest names one image already")
	}
	policy, err := g.policy(ctx, ref.Repository)
	if err != nil {
		return nil, err
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	if policy.TimeoutSeconds > 0 {
		timeout = time.Duration(policy.TimeoutSeconds) * time.Second
	}
	if in.TimeoutSeconds > 0 {
		timeout = time.Duration(in.TimeoutSeconds) * time.Second
	}
	now := g.now()
	r := store.GateRequest{
		ID: newID(), Token: newToken(), Repository: ref.Repository, Tag: ref.Tag, Digest: ref.Digest,
		NewPush: in.NewPush, Pipeline: in.Pipeline, Stage: in.Stage, Action: in.Action, CallbackURL: in.CallbackURL,
		State: store.GatePending, Deadline: now.Add(timeout), CreatedAt: now, UpdatedAt: now, CreatedBy: in.CreatedBy,
	}
	if r.Tag != "" && !r.NewPush {
		im, err := g.Store.ImageByTag(ctx, r.Repository, r.Tag)
		switch {
		case err == nil:
			r.Digest = im.Digest
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		default:
			// A deleted tag is judged (and rejected), not waited for.
			if d, err := g.Store.Deletion(ctx, r.Repository, r.Tag); err == nil {
				r.Digest = d.Digest
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
	}
	if err := g.Store.CreateGateRequest(ctx, r); err != nil {
		return nil, err
	}
	if err := g.settle(ctx, r.ID, TriggerRequest); err != nil {
		return nil, err
	}
	return g.Store.GateRequest(ctx, r.ID)
}

func (g *Gate) policy(ctx context.Context, repository string) (store.GatePolicy, error) {
	ps, err := g.Store.GatePolicies(ctx)
	if err != nil {
		return store.GatePolicy{}, err
	}
	return Select(ps, repository), nil
}

// Judgement is a verdict on an image, or none yet (Ready false: not
// pushed, or not scanned yet).
type Judgement struct {
	Ready  bool
	Policy store.GatePolicy
	Image  *store.Image
	Verdict
	// DBVersion is the database version the findings judged were
	// matched with; BaselineDigest the approved image whose findings
	// did not count (newFindingsOnly).
	DBVersion, BaselineDigest string
}

// Judge applies the image's policy to its current state; an index is
// judged by every image it holds.
func (g *Gate) Judge(ctx context.Context, repository, digest string) (Judgement, error) {
	return g.judge(ctx, repository, digest, JudgeOptions{})
}

func (g *Gate) judge(ctx context.Context, repository, digest string, o JudgeOptions) (Judgement, error) {
	p, err := g.policy(ctx, repository)
	if err != nil {
		return Judgement{}, err
	}
	j := Judgement{Policy: p}
	im, err := g.Store.Image(ctx, repository, digest)
	if errors.Is(err, store.ErrNotFound) {
		return g.judgeDeleted(ctx, j, repository, digest)
	}
	if err != nil {
		return j, err
	}
	j.Image = im
	if len(im.Children) > 0 {
		return g.judgeIndex(ctx, j, o)
	}
	if pj, other := judgeOnePlatform(j, o.Platform); other {
		return pj, nil
	}
	onFailure := func(action, trigger, why string) {
		j.Ready = true
		j.Trigger = trigger
		if action == Approve {
			j.Decision = store.Approved
			j.Reason = "Approved by policy " + p.Name + " although " + why
		} else {
			j.Decision = store.Rejected
			j.Reason = "Rejected by policy " + p.Name + ": " + why
		}
	}
	why := func(what string) string {
		s := what
		if im.ScanReason != "" {
			s += " (" + im.ScanReason + ")"
		}
		if im.ScanMessage != "" {
			s += ": " + im.ScanMessage
		}
		return s
	}
	switch im.ScanStatus {
	case store.ScanComplete:
		fs, version, judged, err := g.imageFindings(ctx, im, o)
		if err != nil {
			return j, err
		}
		im = judged
		fs, prev, note, err := g.newOnly(ctx, p, im, o, fs)
		if err != nil {
			return j, err
		}
		j.Verdict = Evaluate(p, fs)
		if note != "" {
			j.Reason += "; " + note
		}
		j.DBVersion, j.BaselineDigest = version, prev
		j.Ready, j.Trigger = true, TriggerScan
		if partial(im) {
			j.Verdict = judgePartial(p, j.Verdict, why("the image is not fully covered"))
		}
	case store.ScanFailed:
		onFailure(p.OnScanFailure, TriggerScanFailed, why("the scan failed"))
	case store.ScanUnsupported:
		onFailure(p.OnUnsupported, TriggerUnsupport, why("Vigil cannot scan this image"))
	case store.ScanInactive:
		onFailure(p.OnScanFailure, TriggerInactive, why("the image is no longer scanned"))
	}
	return j, nil
}

func (g *Gate) findings(ctx context.Context, repository, digest string) ([]store.Finding, error) {
	q := store.FindingQuery{Limit: 1000, Filter: store.FilterCriteria{
		EcrImageRepositoryName: []store.StringFilter{{Comparison: "EQUALS", Value: repository}},
		EcrImageHash:           []store.StringFilter{{Comparison: "EQUALS", Value: digest}},
	}}
	var all []store.Finding
	for {
		page, next, err := g.Store.ListFindings(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		q.Next = next
	}
}

// settle decides a pending request if its image is ready to be judged.
func (g *Gate) settle(ctx context.Context, id, trigger string) error {
	r, err := g.Store.GateRequest(ctx, id)
	if err != nil {
		return err
	}
	if r.State != store.GatePending || r.Digest == "" {
		return nil
	}
	j, err := g.JudgeWith(ctx, r.Repository, r.Digest, JudgeOptions{Stage: r.Stage})
	if err == nil {
		j, err = g.tagDeleted(ctx, r, j)
	}
	if err != nil || !j.Ready {
		return err
	}
	if j.Trigger == TriggerScan {
		j.Trigger = trigger // the scan completed before the request, or just now
	}
	return g.Store.UpdateGateRequest(ctx, id, func(cur *store.GateRequest) (store.GateUpdate, error) {
		if cur.State != store.GatePending || cur.Digest != r.Digest {
			return store.GateUpdate{}, nil // decided meanwhile
		}
		return g.decide(cur, j)
	})
}

// redecide judges a decided request again, and decides anew when the
// verdict changed.
func (g *Gate) redecide(ctx context.Context, id string) error {
	r, err := g.Store.GateRequest(ctx, id)
	if err != nil || r.State != store.GateDecided {
		return err
	}
	j, err := g.JudgeWith(ctx, r.Repository, r.Digest, JudgeOptions{Stage: r.Stage})
	if err == nil {
		j, err = g.tagDeleted(ctx, r, j)
	}
	if err != nil || !j.Ready {
		return err
	}
	prev, err := g.Store.GateDecision(ctx, r.DecisionID)
	if err != nil {
		return err
	}
	if prev.Decision == j.Decision && sameFindings(prev.Findings, j.Findings) {
		return nil
	}
	if j.Trigger == TriggerScan {
		j.Trigger = TriggerChanged
	}
	return g.Store.UpdateGateRequest(ctx, id, func(cur *store.GateRequest) (store.GateUpdate, error) {
		if cur.DecisionID != prev.ID {
			return store.GateUpdate{}, nil // decided again meanwhile
		}
		return g.decide(cur, j)
	})
}

func sameFindings(a, b []store.GateFinding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].FindingArn != b[i].FindingArn || a[i].Rule != b[i].Rule || a[i].Severity != b[i].Severity {
			return false
		}
	}
	return true
}

// decide writes a decision on r: the decision, its event and, when the
// pipeline gave one, a callback delivery.
func (g *Gate) decide(r *store.GateRequest, j Judgement) (store.GateUpdate, error) {
	now := g.now()
	d := &store.GateDecision{
		ID: newID(), RequestID: r.ID, Repository: r.Repository, Digest: r.Digest,
		Decision: j.Decision, Policy: j.Policy.Name, Reason: j.Reason, Trigger: j.Trigger,
		Findings: j.Findings, Counts: j.Counts, Supersedes: r.DecisionID, DecidedAt: now,
		DBVersion: j.DBVersion, BaselineDigest: j.BaselineDigest,
	}
	if d.Findings == nil {
		d.Findings = []store.GateFinding{}
	}
	var tags []string
	if j.Image != nil {
		tags = j.Image.Tags
	}
	ev, err := g.event(r, d, tags)
	if err != nil {
		return store.GateUpdate{}, err
	}
	r.State, r.Decision, r.DecisionID, r.UpdatedAt = store.GateDecided, d.Decision, d.ID, now
	u := store.GateUpdate{Decision: d, Events: []store.Event{ev}}
	if r.CallbackURL != "" {
		u.Deliveries = []store.Delivery{{EventID: ev.ID, Target: "callback/" + r.ID, WindowStart: now}}
	}
	return u, nil
}

// maxEventFindings bounds the findings an event names (an EventBridge
// event is at most 256 KB); the decision keeps them all.
const maxEventFindings = 200

// DecisionDetail is the detail of a "Vigil Gate Decision" event.
type DecisionDetail struct {
	DecisionID        string              `json:"decision-id"`
	Decision          string              `json:"decision"`
	RequestID         string              `json:"request-id"`
	Pipeline          string              `json:"pipeline"`
	Stage             string              `json:"stage,omitempty"`
	Action            string              `json:"action,omitempty"`
	RepositoryName    string              `json:"repository-name"`
	ImageDigest       string              `json:"image-digest"`
	ImageTags         []string            `json:"image-tags"`
	Policy            string              `json:"policy"`
	Reason            string              `json:"reason"`
	Trigger           string              `json:"trigger"`
	Counts            map[string]int      `json:"finding-severity-counts"`
	Findings          []store.GateFinding `json:"findings"`
	FindingsTruncated bool                `json:"findings-truncated,omitempty"`
	Supersedes        string              `json:"supersedes,omitempty"`
	DecidedAt         string              `json:"decided-at"`
	DBVersion         string              `json:"db-version,omitempty"`
	BaselineDigest    string              `json:"baseline-digest,omitempty"`
}

func (g *Gate) event(r *store.GateRequest, d *store.GateDecision, tags []string) (store.Event, error) {
	if tags == nil {
		tags = []string{}
	}
	dd := DecisionDetail{
		DecisionID: d.ID, Decision: d.Decision, RequestID: r.ID, Pipeline: r.Pipeline, Stage: r.Stage, Action: r.Action,
		RepositoryName: r.Repository, ImageDigest: r.Digest, ImageTags: tags, Policy: d.Policy, Reason: d.Reason,
		Trigger: d.Trigger, Findings: d.Findings, Supersedes: d.Supersedes, DecidedAt: events.DetailTime(d.DecidedAt),
		DBVersion: d.DBVersion, BaselineDigest: d.BaselineDigest,
		Counts: map[string]int{"CRITICAL": d.Counts.Critical, "HIGH": d.Counts.High, "MEDIUM": d.Counts.Medium,
			"LOW": d.Counts.Low, "INFORMATIONAL": d.Counts.Informational, "UNTRIAGED": d.Counts.Untriaged, "TOTAL": d.Counts.Total},
	}
	if len(dd.Findings) > maxEventFindings {
		dd.Findings, dd.FindingsTruncated = dd.Findings[:maxEventFindings], true
	}
	res := g.Emitter.RepositoryARN(r.Repository)
	if r.Digest != "" {
		res += "/" + r.Digest
	}
	return g.Emitter.Event(Source, DecisionType, []string{res}, dd)
}

// Callback is the body a pipeline's callback URL receives, signed with its
// request's token.
type Callback struct {
	ApprovalToken string          `json:"approvalToken"`
	RequestID     string          `json:"requestId"`
	Event         json.RawMessage `json:"event"`
}

// Callback implements bus.Callbacks.
func (g *Gate) Callback(ctx context.Context, requestID string, envelope []byte) (string, []byte, string, error) {
	r, err := g.Store.GateRequest(ctx, requestID)
	if err != nil {
		return "", nil, "", err
	}
	body, err := json.Marshal(Callback{ApprovalToken: r.Token, RequestID: r.ID, Event: envelope})
	return r.CallbackURL, body, r.Token, err
}

// HandleEvent is the gate's target: a push resolves requests waiting for
// its tag, a completed scan or a coverage change settles the requests on
// the image, and a rescan decides decided ones again.
func (g *Gate) HandleEvent(ctx context.Context, envelope []byte) error {
	var env struct {
		DetailType string          `json:"detail-type"`
		Time       string          `json:"time"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return fmt.Errorf("gate: event: %w", err)
	}
	switch env.DetailType {
	case events.ECRImageAction:
		var d events.ImageAction
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return fmt.Errorf("gate: event detail: %w", err)
		}
		if d.ActionType == "DELETE" && d.Result == "SUCCESS" {
			return g.imageDeleted(ctx, d)
		}
		if d.ActionType != "PUSH" || d.Result != "SUCCESS" || d.ImageTag == "" {
			return nil
		}
		at, _ := time.Parse(time.RFC3339, env.Time)
		return g.resolve(ctx, d.RepositoryName, d.ImageTag, d.ImageDigest, at)
	case events.InspectorScan:
		var d events.ScanDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return fmt.Errorf("gate: event detail: %w", err)
		}
		repo := g.repositoryOf(d.RepositoryName)
		return g.imageChanged(ctx, repo, d.ImageDigest, d.ScanStatus != events.ScanInitialDone)
	case events.InspectorCoverage:
		for _, res := range env.Resources {
			repo, digest, ok := g.imageOf(res)
			if !ok {
				continue
			}
			if err := g.imageChanged(ctx, repo, digest, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// imageChanged settles the pending requests on an image (resolving the
// ones waiting for one of its tags) and, with again, decides the decided
// ones again.
func (g *Gate) imageChanged(ctx context.Context, repository, digest string, again bool) error {
	if repository == "" || digest == "" {
		return nil
	}
	im, err := g.Store.Image(ctx, repository, digest)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err // the event is delivered again
	}
	if err == nil {
		for _, t := range im.Tags {
			if err := g.resolve(ctx, repository, t, digest, im.PushedAt); err != nil {
				return err
			}
		}
	}
	q := store.GateRequestQuery{Repository: repository, Digest: digest, Limit: 1000}
	for {
		rs, next, err := g.Store.GateRequests(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range rs {
			switch {
			case r.State == store.GatePending:
				err = g.settle(ctx, r.ID, TriggerScan)
			case again:
				err = g.redecide(ctx, r.ID)
			}
			if err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		q.Next = next
	}
}

// resolve binds requests waiting for repository:tag to digest, pushed at
// pushedAt, and settles them.
func (g *Gate) resolve(ctx context.Context, repository, tag, digest string, pushedAt time.Time) error {
	rs, _, err := g.Store.GateRequests(ctx, store.GateRequestQuery{State: store.GatePending, Repository: repository, Tag: tag, Unresolved: true, Limit: 1000})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.NewPush && !pushedAt.IsZero() && pushedAt.Before(r.CreatedAt.Truncate(time.Second)) {
			continue // pushed before the request: not the push it waits for
		}
		err := g.Store.UpdateGateRequest(ctx, r.ID, func(cur *store.GateRequest) (store.GateUpdate, error) {
			if cur.State != store.GatePending || cur.Digest != "" {
				return store.GateUpdate{}, nil
			}
			cur.Digest, cur.UpdatedAt = digest, g.now()
			return store.GateUpdate{}, nil
		})
		if err != nil {
			return err
		}
		if err := g.settle(ctx, r.ID, TriggerScan); err != nil {
			return err
		}
	}
	return nil
}

func (g *Gate) repositoryOf(arn string) string {
	prefix := g.Emitter.RepositoryARN("")
	if r, ok := strings.CutPrefix(arn, prefix); ok {
		return r
	}
	if _, r, ok := strings.Cut(arn, ":repository/"); ok {
		return r
	}
	return arn
}

// imageOf reads an image resource ARN (…:repository/<name>/sha256:<hex>).
func (g *Gate) imageOf(arn string) (repository, digest string, ok bool) {
	_, rest, ok := strings.Cut(arn, ":repository/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/sha256:")
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// Reconcile settles what events may have missed, so that no request ever
// waits past its deadline: it resolves pending requests whose tag has
// been pushed, decides those whose image is ready, and applies OnTimeout
// to those past their deadline. It is cheap and run every few seconds.
func (g *Gate) Reconcile(ctx context.Context) error {
	now := g.now()
	q := store.GateRequestQuery{State: store.GatePending, Limit: 1000}
	for {
		rs, next, err := g.Store.GateRequests(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := g.reconcile(ctx, r, now); err != nil {
				g.Log.Error("gate: reconciling a request", "request", r.ID, "err", err)
			}
		}
		if next == "" {
			return nil
		}
		q.Next = next
	}
}

func (g *Gate) reconcile(ctx context.Context, r store.GateRequest, now time.Time) error {
	if r.Digest == "" {
		im, err := g.Store.ImageByTag(ctx, r.Repository, r.Tag)
		if err == nil {
			if err := g.resolve(ctx, r.Repository, r.Tag, im.Digest, im.PushedAt); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	} else if err := g.settle(ctx, r.ID, TriggerScan); err != nil {
		return err
	}
	if now.Before(r.Deadline) {
		return nil
	}
	p, err := g.policy(ctx, r.Repository)
	if err != nil {
		return err
	}
	var im *store.Image
	if r.Digest != "" {
		if im, err = g.Store.Image(ctx, r.Repository, r.Digest); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return g.Store.UpdateGateRequest(ctx, r.ID, func(cur *store.GateRequest) (store.GateUpdate, error) {
		if cur.State != store.GatePending {
			return store.GateUpdate{}, nil
		}
		waited := cur.Deadline.Sub(cur.CreatedAt).Round(time.Second)
		what := "its scan to complete"
		if cur.Digest == "" {
			what = cur.Repository + ":" + cur.Tag + " to be pushed"
		}
		j := Judgement{Ready: true, Policy: p}
		j.Trigger = TriggerTimeout
		if p.OnTimeout == Approve {
			j.Decision = store.Approved
			j.Reason = fmt.Sprintf("Approved by policy %s after waiting %s for %s", p.Name, waited, what)
		} else {
			j.Decision = store.Rejected
			j.Reason = fmt.Sprintf("Rejected by policy %s: timed out after %s waiting for %s", p.Name, waited, what)
		}
		if im != nil && im.Digest == cur.Digest {
			j.Image = im
		}
		return g.decide(cur, j)
	})
}

func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

func newToken() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
