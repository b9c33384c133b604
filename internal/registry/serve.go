package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	"github.com/distribution/reference"
	"github.com/gorilla/mux"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// route is what a request addresses, as the library's own router reads it.
type route struct {
	name       string // v2.RouteName…, or "referrers", or "" when unknown
	repository string
	reference  string // manifest tag or digest
	blob       string // blob digest
}

// referrersPath matches the OCI referrers API, which this version of the
// library does not serve: Vigil does (referrers.go).
var referrersPath = regexp.MustCompile(`^/v2/(.+)/referrers/([^/]+)$`)

// match reads req with a router built exactly as the library builds its
// own, so that the repository authorized is the repository served.
func (r *Registry) match(req *http.Request) route {
	var m mux.RouteMatch
	if r.router.Match(req, &m) && m.Route != nil {
		return route{name: m.Route.GetName(), repository: m.Vars["name"], reference: m.Vars["reference"], blob: m.Vars["digest"]}
	}
	if sm := referrersPath.FindStringSubmatch(req.URL.Path); sm != nil {
		return route{name: routeReferrers, repository: sm[1], reference: sm[2]}
	}
	return route{}
}

// action is the permission a request needs; ok is false for methods the
// API does not use.
func action(method, routeName string) (a string, ok bool) {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "pull", true
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return "push", true
	case http.MethodDelete:
		if routeName == v2.RouteNameBlobUploadChunk {
			return "push", true // cancelling one's own upload deletes nothing stored
		}
		return "delete", true
	}
	return "", false
}

// ServeHTTP serves the OCI distribution API under /v2/.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rt := r.match(req)
	a, ok := action(req.Method, rt.name)
	if !ok {
		r.serveError(w, req, errcode.ErrorCodeUnsupported.WithMessage("method not allowed"), nil)
		return
	}
	if !r.authorized(w, req, a, rt.repository) {
		return
	}
	// Mounting a blob copies it out of another repository: reading that
	// one needs its own permission. FormValue, as the library reads it,
	// so that a form body cannot name another repository than the one
	// checked.
	if rt.name == v2.RouteNameBlobUpload && req.Method == http.MethodPost {
		if from := req.FormValue("from"); from != "" && !r.authorized(w, req, "pull", from) {
			return
		}
	}
	if e := checkReference(rt); e != nil {
		r.serveError(w, req, *e, nil)
		return
	}
	if alias := blobAlias(req, rt); alias != "" {
		if rt.name == v2.RouteNameBlobUpload && req.Method == http.MethodPost && req.URL.Query().Get("mount") == alias.String() {
			if from := req.FormValue("from"); from != "" && r.mountAlias(w, req, rt, alias, from) {
				return
			}
		}
		w = &aliasWriter{ResponseWriter: w, repository: rt.repository, alias: alias}
	}
	if rt.name == v2.RouteNameManifest && (req.Method == http.MethodGet || req.Method == http.MethodHead) && isTag(rt.reference) {
		if a, c := r.tagAlias(req.Context(), rt.repository, rt.reference); a != "" {
			w = &tagAliasWriter{ResponseWriter: w, alias: a, canonical: c}
		}
	}
	switch {
	case rt.name == routeReferrers && (req.Method == http.MethodGet || req.Method == http.MethodHead):
		r.serveReferrers(w, req, rt)
	case rt.name == routeReferrers:
		r.serveError(w, req, errcode.ErrorCodeUnsupported.WithMessage("the referrers API is read-only: push a manifest with a subject instead"), nil)
	case rt.name == v2.RouteNameManifest && req.Method == http.MethodPut:
		r.putManifest(w, req, rt)
	case rt.name == v2.RouteNameManifest && req.Method == http.MethodDelete && isDigest(rt.reference):
		r.deleteManifest(w, req, rt)
	case rt.name == v2.RouteNameManifest && req.Method == http.MethodDelete && r.opts.OnUntag != nil && isTag(rt.reference):
		r.untag(w, req, rt)
	case rt.name == v2.RouteNameManifest && req.Method == http.MethodGet && r.opts.OnPull != nil:
		r.observe(w, req, http.StatusOK, func(d string) { r.opts.OnPull(rt.repository, d) })
	case (rt.name == v2.RouteNameBlobUpload || rt.name == v2.RouteNameBlobUploadChunk) &&
		(req.Method == http.MethodPut || req.Method == http.MethodPost) && r.opts.OnBlob != nil:
		r.observe(w, req, http.StatusCreated, func(d string) { r.opts.OnBlob(rt.repository, d) })
	default:
		r.app.ServeHTTP(w, req)
	}
}

// authorized asks Options.Authorize and answers a refusal itself.
func (r *Registry) authorized(w http.ResponseWriter, req *http.Request, action, repository string) bool {
	if r.opts.Authorize == nil {
		return true
	}
	err := r.opts.Authorize(req, action, repository)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Basic realm="vigil"`)
		r.serveError(w, req, errcode.ErrorCodeUnauthorized.WithMessage("authentication required"), nil)
	case errors.Is(err, ErrForbidden):
		r.serveError(w, req, errcode.ErrorCodeDenied.WithMessage(action+" access to "+describe(repository)+" denied"), nil)
	default:
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("authorization failed"), err)
	}
	return false
}

func describe(repository string) string {
	if repository == "" {
		return "the registry"
	}
	return "repository " + repository
}

// serveError answers with an OCI error body, logging cause (which is not
// shown to the client) when there is one.
func (r *Registry) serveError(w http.ResponseWriter, req *http.Request, e errcode.Error, cause error) {
	if cause != nil && r.opts.Logger != nil {
		r.opts.Logger.ErrorContext(req.Context(), "registry: "+e.Message, "method", req.Method, "path", req.URL.Path, "err", cause)
	}
	// Clients look for this header, which the library sets on its own
	// answers, to know they speak to a registry.
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	_ = errcode.ServeJSON(w, e)
}

func isDigest(ref string) bool {
	_, err := digest.Parse(ref)
	return err == nil
}

// putManifest stores a manifest through the library, holding back its
// answer until OnPush has recorded the push.
func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, rt route) {
	if _, err := reference.WithName(rt.repository); err != nil {
		r.app.ServeHTTP(w, req) // which refuses the name
		return
	}
	// The body is read first to learn the digest, so that a push whose
	// OnPush fails can be undone.
	body, err := io.ReadAll(io.LimitReader(req.Body, maxManifestBody+1))
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("reading the manifest failed"), err)
		return
	}
	if len(body) > maxManifestBody {
		r.serveStatus(w, req, http.StatusRequestEntityTooLarge,
			errcode.ErrorCodeManifestInvalid.WithMessage(fmt.Sprintf("manifest larger than %d bytes", maxManifestBody)))
		return
	}
	if e := checkManifest(rt.reference, body); e != nil {
		r.serveError(w, req, *e, nil)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	subject, rdesc, isReferrer := referrerDescriptor(req.Header.Get("Content-Type"), body)
	alias, e := r.aliasDigest(req, &rt, body)
	if e != nil {
		r.serveError(w, req, *e, nil)
		return
	}
	tags, e := tagParams(req, rt)
	if e != nil {
		r.serveError(w, req, *e, nil)
		return
	}
	if r.refuseRetag(w, req, rt, tags, digest.FromBytes(body)) {
		return
	}
	if r.opts.OnPush == nil && !isReferrer && alias == "" && len(tags) == 0 {
		r.app.ServeHTTP(w, req)
		return
	}
	before, err := r.snapshot(req.Context(), rt, digest.FromBytes(body))
	var tagsBefore tagState
	if err == nil {
		tagsBefore, err = r.tagsBefore(req.Context(), rt.repository, tags)
	}
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("reading the repository failed"), err)
		return
	}
	held := newHeldResponse()
	r.app.ServeHTTP(held, req)
	if held.status != http.StatusCreated {
		held.send(w)
		return
	}
	err = held.err
	if err == nil && alias != "" {
		err = r.linkAlias(req.Context(), rt.repository, alias, digest.FromBytes(body))
		held.header.Set("Docker-Content-Digest", alias.String())
		held.header.Set("Location", "/v2/"+rt.repository+"/manifests/"+alias.String())
	}
	if err == nil && isReferrer {
		held.header.Set(headerSubject, subject.String())
		// Listed under the digest the client names it by.
		if alias != "" {
			rdesc.Digest = alias
		} else {
			rdesc.Digest = digest.FromBytes(body)
		}
		err = r.recordReferrer(req.Context(), rt.repository, subject, rdesc)
	}
	if err == nil && len(tags) > 0 {
		err = r.applyTags(req.Context(), rt.repository, tags, req.Header.Get("Content-Type"), body)
		for _, t := range tags {
			held.header.Add("OCI-Tag", t)
		}
	}
	if err == nil && alias != "" {
		named := tags
		if isTag(rt.reference) {
			named = append([]string{rt.reference}, tags...)
		}
		for _, t := range named {
			if err == nil {
				err = r.noteTagAlias(req.Context(), rt.repository, t, alias)
			}
		}
	}
	var p Pushed
	if err == nil && r.opts.OnPush != nil {
		p, err = r.pushed(req.Context(), rt, digest.FromBytes(body).String())
		if err == nil {
			err = r.opts.OnPush(req.Context(), p)
		}
		// Each tag parameter is reported as a push to that tag.
		for _, t := range tags {
			if err == nil {
				p.Tag = t
				err = r.opts.OnPush(req.Context(), p)
			}
		}
	}
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("the push could not be recorded; retry it"), err)
		// Undo the push, so that a client that checks for the manifest
		// before pushing it (as ggcr's do) pushes it again.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), undoTimeout)
		defer cancel()
		if err := r.undo(ctx, before); err != nil && r.opts.Logger != nil {
			r.opts.Logger.ErrorContext(ctx, "registry: undoing an unrecorded push", "repository", rt.repository, "reference", rt.reference, "err", err)
		}
		if alias != "" && !before.existed {
			_ = r.unlinkAlias(ctx, rt.repository, alias)
		}
		if err := r.restoreTags(ctx, rt.repository, tagsBefore); err != nil && r.opts.Logger != nil {
			r.opts.Logger.ErrorContext(ctx, "registry: undoing an unrecorded push", "repository", rt.repository, "reference", rt.reference, "err", err)
		}
		return
	}
	if isReferrer {
		// Best effort: the tag-schema index is the client's; the API's
		// answer, which merges it, is right either way.
		if err := r.syncFallbackTag(req.Context(), rt.repository, subject); err != nil && r.opts.Logger != nil {
			r.opts.Logger.WarnContext(req.Context(), "registry: updating the tag-schema referrers index", "repository", rt.repository, "subject", subject, "err", err)
		}
	}
	held.send(w)
}

// maxManifestBody is the library's own limit on a manifest.
const maxManifestBody = 4 << 20

// undoTimeout bounds the undoing of a push.
const undoTimeout = 30 * time.Second

// repoState is what a manifest PUT may change in a repository: whether
// the manifest was there, and where its tag pointed.
type repoState struct {
	repository string
	digest     digest.Digest
	existed    bool
	tag        string
	tagged     *ocispec.Descriptor // nil when the tag did not exist
}

// snapshot records the state that a PUT of the manifest d to rt changes.
func (r *Registry) snapshot(ctx context.Context, rt route, d digest.Digest) (*repoState, error) {
	repo, err := r.repository(ctx, rt.repository)
	if err != nil {
		return nil, err
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	s := &repoState{repository: rt.repository, digest: d}
	if s.existed, err = ms.Exists(ctx, d); err != nil {
		return nil, err
	}
	if isDigest(rt.reference) {
		return s, nil
	}
	s.tag = rt.reference
	desc, err := repo.Tags(ctx).Get(ctx, s.tag)
	switch {
	case errors.As(err, new(distribution.ErrTagUnknown)):
	case err != nil:
		return nil, err
	default:
		s.tagged = &desc
	}
	return s, nil
}

// undo puts the tag back where it was and removes a manifest that was
// not there before.
func (r *Registry) undo(ctx context.Context, s *repoState) error {
	repo, err := r.repository(ctx, s.repository)
	if err != nil {
		return err
	}
	if s.tag != "" {
		tags := repo.Tags(ctx)
		if s.tagged != nil {
			err = tags.Tag(ctx, s.tag, *s.tagged)
		} else {
			err = tags.Untag(ctx, s.tag)
		}
		if err != nil {
			return fmt.Errorf("registry: restoring tag %s: %w", s.tag, err)
		}
	}
	if s.existed {
		return nil
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return err
	}
	if err := ms.Delete(ctx, s.digest); err != nil {
		return fmt.Errorf("registry: removing manifest %s: %w", s.digest, err)
	}
	return nil
}

// deleteManifest deletes a manifest through the library, holding back its
// answer until OnDelete has recorded the deletion. The manifest's other
// digests (sha256 and sha512 of the same bytes) go with it, and so does its
// record as a referrer.
func (r *Registry) deleteManifest(w http.ResponseWriter, req *http.Request, rt route) {
	if r.opts.BeforeDelete != nil {
		if err := r.opts.BeforeDelete(req.Context(), rt.repository, rt.reference); err != nil {
			r.refuseDelete(w, req, err)
			return
		}
	}
	ctx := req.Context()
	d, _ := digest.Parse(rt.reference)
	gone, err := r.aboutToDelete(ctx, rt.repository, d)
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("reading the manifest to delete failed"), err)
		return
	}
	held := newHeldResponse()
	r.app.ServeHTTP(held, req)
	// A manifest already gone is reported too: the client may be retrying
	// a deletion whose OnDelete failed.
	if held.status != http.StatusAccepted && held.status != http.StatusNotFound {
		held.send(w)
		return
	}
	err = held.err
	if err == nil && held.status == http.StatusAccepted {
		err = r.deleted(ctx, rt.repository, gone)
	}
	if err == nil && r.opts.OnDelete != nil {
		// Vigil records manifests by their sha256 digest.
		named := rt.reference
		if len(gone.digests) > 0 {
			named = gone.digests[0].String()
		}
		err = r.opts.OnDelete(ctx, rt.repository, named)
	}
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("the manifest was deleted but Vigil could not record the deletion; retry it"), err)
		return
	}
	held.send(w)
}

// observe serves req and, when the library answered status, flushes the
// answer and tells notify the digest it named.
func (r *Registry) observe(w http.ResponseWriter, req *http.Request, status int, notify func(digest string)) {
	sw := &statusWriter{ResponseWriter: w}
	r.app.ServeHTTP(sw, req)
	if sw.status != status {
		return
	}
	d := w.Header().Get("Docker-Content-Digest")
	if !isDigest(d) {
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	notify(d)
}

// maxHeldBody bounds a held response body. The answers to manifest PUT
// and DELETE are empty or a short JSON error.
const maxHeldBody = 1 << 20

// heldResponse records a response so that it can be sent later, or not.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	err    error
}

func newHeldResponse() *heldResponse { return &heldResponse{header: http.Header{}} }

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldResponse) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	if h.body.Len()+len(p) > maxHeldBody {
		h.err = errors.New("registry: response body too large to hold")
		return 0, h.err
	}
	return h.body.Write(p)
}

// send writes the held response to w.
func (h *heldResponse) send(w http.ResponseWriter) {
	for k, v := range h.header {
		w.Header()[k] = v
	}
	if h.status == 0 {
		h.status = http.StatusOK
	}
	w.WriteHeader(h.status)
	_, _ = w.Write(h.body.Bytes())
}

// statusWriter notes the status of a response passing through.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
