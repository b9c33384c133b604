package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
)

// tagPattern is the distribution spec's tag grammar.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

func isTag(ref string) bool { return tagPattern.MatchString(ref) }

// descriptorCheck is what checkManifest reads of a descriptor.
type descriptorCheck struct {
	Digest string   `json:"digest"`
	URLs   []string `json:"urls"`
}

// checkManifest refuses, with the distribution spec's error codes, what
// the library would answer with a 500: a reference that is neither a tag
// nor a digest of a known algorithm, a descriptor whose digest is not one,
// and layers with urls (non-distributable layers stored elsewhere, which
// Vigil would have to fetch from a third party to scan). A body that is
// not JSON is left to the library, which refuses it as MANIFEST_INVALID.
func checkManifest(ref string, body []byte) *errcode.Error {
	if d, err := digest.Parse(ref); err == nil && d.Algorithm().FromBytes(body) != d {
		e := errcode.ErrorCodeDigestInvalid.WithMessage(fmt.Sprintf("the manifest's %s digest is %s, not %s", d.Algorithm(), d.Algorithm().FromBytes(body), d)).
			WithDetail(map[string]string{"digest": ref})
		return &e
	}
	var m struct {
		Config    *descriptorCheck  `json:"config"`
		Layers    []descriptorCheck `json:"layers"`
		Manifests []descriptorCheck `json:"manifests"`
		Subject   *descriptorCheck  `json:"subject"`
	}
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	type named struct {
		field string
		d     descriptorCheck
	}
	var ds []named
	if m.Config != nil {
		ds = append(ds, named{"config", *m.Config})
	}
	for i, l := range m.Layers {
		ds = append(ds, named{fmt.Sprintf("layers[%d]", i), l})
	}
	for i, c := range m.Manifests {
		ds = append(ds, named{fmt.Sprintf("manifests[%d]", i), c})
	}
	if m.Subject != nil {
		ds = append(ds, named{"subject", *m.Subject})
	}
	for _, d := range ds {
		if _, err := digest.Parse(d.d.Digest); err != nil {
			e := errcode.ErrorCodeDigestInvalid.WithMessage(fmt.Sprintf("%s.digest %q: %v", d.field, d.d.Digest, err)).
				WithDetail(map[string]string{"digest": d.d.Digest})
			return &e
		}
		if len(d.d.URLs) > 0 {
			e := errcode.ErrorCodeManifestInvalid.WithMessage(fmt.Sprintf(
				"%s has urls (%s): this registry stores every blob itself and accepts no non-distributable layers", d.field, strings.Join(d.d.URLs, ", "))).
				WithDetail(map[string]string{"digest": d.d.Digest})
			return &e
		}
	}
	return nil
}

// checkReference refuses a manifest reference that is neither a tag nor
// a digest of a known algorithm, and a blob digest that is not one, before
// the library sees (and logs) them.
func checkReference(rt route) *errcode.Error {
	ref, what := rt.reference, "reference"
	if rt.blob != "" {
		ref, what = rt.blob, "blob digest"
	} else if ref == "" || isTag(ref) {
		return nil
	}
	if _, err := digest.Parse(ref); err != nil {
		msg := fmt.Sprintf("%s %q is not a digest: %v", what, ref, err)
		if what == "reference" {
			msg = fmt.Sprintf("reference %q is neither a tag nor a digest: %v", ref, err)
		}
		e := errcode.ErrorCodeDigestInvalid.WithMessage(msg).WithDetail(map[string]string{"digest": ref})
		return &e
	}
	return nil
}

// untag deletes a tag through the library, holding back its answer until
// OnUntag has recorded the deletion.
func (r *Registry) untag(w http.ResponseWriter, req *http.Request, rt route) {
	ctx := req.Context()
	repo, err := r.repository(ctx, rt.repository)
	if err != nil {
		r.app.ServeHTTP(w, req) // which refuses the name
		return
	}
	named := ""
	desc, err := repo.Tags(ctx).Get(ctx, rt.reference)
	switch {
	case err == nil:
		named = desc.Digest.String()
	case errors.As(err, new(distribution.ErrTagUnknown)):
	default:
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("reading the tag failed"), err)
		return
	}
	held := newHeldResponse()
	r.app.ServeHTTP(held, req)
	// A tag already gone is reported too: the client may be retrying a
	// deletion whose OnUntag failed.
	if held.status != http.StatusAccepted && held.status != http.StatusNotFound {
		held.send(w)
		return
	}
	err = held.err
	if err == nil {
		err = r.opts.OnUntag(ctx, rt.repository, rt.reference, named)
	}
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("the tag was deleted but Vigil could not record the deletion; retry it"), err)
		return
	}
	held.send(w)
}

// refuseDelete answers a deletion that BeforeDelete refused.
func (r *Registry) refuseDelete(w http.ResponseWriter, req *http.Request, err error) {
	var re *ReferencedError
	if errors.As(err, &re) {
		r.serveStatus(w, req, http.StatusConflict, errcode.ErrorCodeDenied.WithMessage(re.Error()).
			WithDetail(map[string]string{"reason": "ImageReferencedByManifestList", "digest": re.Digest, "index": re.Index}))
		return
	}
	r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("checking what references the manifest failed"), err)
}

// serveStatus answers with an OCI error body and a status other than the
// one the error code carries.
func (r *Registry) serveStatus(w http.ResponseWriter, _ *http.Request, status int, e errcode.Error) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errcode.Errors{e})
}
