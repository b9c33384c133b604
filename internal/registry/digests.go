package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifests named by a sha512 digest. The library stores every manifest
// under its sha256 digest and refuses a PUT by any other, so a manifest
// pushed by sha512 is stored under sha256 and given a second revision link
// under its sha512 digest, in the library's own layout: the library then
// serves it by either digest (GET, HEAD), and a deletion by either removes
// both. Blobs need no such help: the library links a blob uploaded with a
// sha512 digest under both.

// libraryRoot is where the library keeps repositories in its storage.
const libraryRoot = "/docker/registry/v2/repositories"

func revisionLinkPath(repository string, d digest.Digest) string {
	return path.Join(libraryRoot, repository, "_manifests/revisions", string(d.Algorithm()), d.Encoded(), "link")
}

// aliasDigest turns a PUT by a digest other than sha256 into a PUT by the
// body's sha256 digest, which the library accepts, and returns the digest
// the client named: in the path, or for a PUT by tag in the digest query
// parameter ("" for sha256 or none). checkManifest has already checked a
// digest in the path against the body.
func (r *Registry) aliasDigest(req *http.Request, rt *route, body []byte) (digest.Digest, *errcode.Error) {
	named := rt.reference
	byTag := !isDigest(named)
	if byTag {
		named = req.URL.Query().Get("digest")
		if named == "" {
			return "", nil
		}
	}
	d, err := digest.Parse(named)
	if err != nil {
		e := errcode.ErrorCodeDigestInvalid.WithMessage(fmt.Sprintf("digest %q: %v", named, err)).WithDetail(map[string]string{"digest": named})
		return "", &e
	}
	if got := d.Algorithm().FromBytes(body); got != d {
		e := errcode.ErrorCodeDigestInvalid.WithMessage(fmt.Sprintf("the manifest's %s digest is %s, not %s", d.Algorithm(), got, d)).
			WithDetail(map[string]string{"digest": named})
		return "", &e
	}
	if d.Algorithm() == digest.SHA256 {
		return "", nil
	}
	if !byTag {
		canonical := digest.FromBytes(body)
		rt.reference = canonical.String()
		req.URL.Path = "/v2/" + rt.repository + "/manifests/" + canonical.String()
		req.URL.RawPath = ""
	}
	return d, nil
}

// linkAlias links the manifest stored as canonical under alias too.
func (r *Registry) linkAlias(ctx context.Context, repository string, alias, canonical digest.Digest) error {
	if err := r.driver.PutContent(ctx, revisionLinkPath(repository, alias), []byte(canonical.String())); err != nil {
		return fmt.Errorf("registry: linking manifest %s@%s as %s: %w", repository, canonical, alias, err)
	}
	return nil
}

func (r *Registry) unlinkAlias(ctx context.Context, repository string, alias digest.Digest) error {
	err := r.driver.Delete(ctx, path.Dir(revisionLinkPath(repository, alias)))
	if err != nil && !errors.As(err, new(storagedriver.PathNotFoundError)) {
		return fmt.Errorf("registry: unlinking manifest %s@%s: %w", repository, alias, err)
	}
	return nil
}

// doomed is what a deletion of a manifest by digest removes beside the
// revision the client names.
type doomed struct {
	named digest.Digest
	// digests are the manifest's sha256 and sha512 digests.
	digests []digest.Digest
	subject digest.Digest // "" when the manifest has none
}

// aboutToDelete reads what deleting the manifest d of repository removes;
// a manifest not there removes nothing more.
func (r *Registry) aboutToDelete(ctx context.Context, repository string, d digest.Digest) (*doomed, error) {
	g := &doomed{named: d}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return g, nil // the library refuses the name
	}
	_, raw, err := manifest(ctx, repo, d)
	if errors.Is(err, ErrNotFound) {
		return g, nil
	}
	if err != nil {
		return nil, err
	}
	g.digests = []digest.Digest{digest.SHA256.FromBytes(raw), digest.SHA512.FromBytes(raw)}
	g.subject, err = r.subjectOf(ctx, repository, d)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// deleted removes what the library's deletion of g.named left: the
// manifest's other digest, the tags naming it by that digest, and its
// record as a referrer (rewriting the tag-schema index).
func (r *Registry) deleted(ctx context.Context, repository string, g *doomed) error {
	if len(g.digests) == 0 {
		return nil
	}
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return err
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	for _, d := range g.digests {
		if d == g.named {
			continue
		}
		ok, err := ms.Exists(ctx, d)
		if err != nil {
			return fmt.Errorf("registry: manifest %s@%s: %w", repository, d, err)
		}
		if !ok {
			continue
		}
		tags, err := repo.Tags(ctx).Lookup(ctx, ocispec.Descriptor{Digest: d})
		if err != nil {
			return fmt.Errorf("registry: tags of %s@%s: %w", repository, d, err)
		}
		for _, t := range tags {
			if err := repo.Tags(ctx).Untag(ctx, t); err != nil {
				return fmt.Errorf("registry: untagging %s:%s: %w", repository, t, err)
			}
		}
		if err := ms.Delete(ctx, d); err != nil && !errors.Is(err, distribution.ErrBlobUnknown) {
			return fmt.Errorf("registry: deleting manifest %s@%s: %w", repository, d, err)
		}
	}
	if g.subject == "" {
		return nil
	}
	for _, d := range g.digests {
		if err := r.forgetReferrer(ctx, repository, g.subject, d); err != nil {
			return err
		}
	}
	if err := r.syncFallbackTag(ctx, repository, g.subject); err != nil && r.opts.Logger != nil {
		r.opts.Logger.WarnContext(ctx, "registry: updating the tag-schema referrers index", "repository", repository, "subject", g.subject, "err", err)
	}
	return nil
}

// Blobs named by a sha512 digest. The library stores a blob uploaded with
// a sha512 digest under its sha256 digest and links it under both, but
// answers with the sha256 one (Docker-Content-Digest, Location), and a
// mount by sha512 links the target repository to a path that does not
// exist. Vigil answers with the digest the client named, and mounts by
// sha512 itself.

func layerLinkPath(repository string, d digest.Digest) string {
	return path.Join(libraryRoot, repository, "_layers", string(d.Algorithm()), d.Encoded(), "link")
}

// blobAlias returns the digest other than sha256 that a blob request
// names, "" when it names none.
func blobAlias(req *http.Request, rt route) digest.Digest {
	s := rt.blob
	switch rt.name {
	case v2.RouteNameBlobUpload, v2.RouteNameBlobUploadChunk:
		q := req.URL.Query()
		s = q.Get("digest")
		if s == "" && rt.name == v2.RouteNameBlobUpload {
			s = q.Get("mount")
		}
	case v2.RouteNameBlob:
	default:
		return ""
	}
	d, err := digest.Parse(s)
	if err != nil || d.Algorithm() == digest.SHA256 {
		return ""
	}
	return d
}

// aliasWriter answers with the digest the client named instead of the
// blob's sha256 digest.
type aliasWriter struct {
	http.ResponseWriter
	repository string
	alias      digest.Digest
	wrote      bool
}

func (a *aliasWriter) WriteHeader(status int) {
	if !a.wrote {
		a.wrote = true
		h := a.Header()
		if d := h.Get("Docker-Content-Digest"); d != "" {
			h.Set("Docker-Content-Digest", a.alias.String())
		}
		if loc := h.Get("Location"); loc != "" && !strings.Contains(loc, "/blobs/uploads/") {
			if i := strings.Index(loc, "/v2/"); i >= 0 {
				h.Set("Location", loc[:i]+"/v2/"+a.repository+"/blobs/"+a.alias.String())
			}
		}
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *aliasWriter) Write(p []byte) (int, error) {
	if !a.wrote {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(p)
}

func (a *aliasWriter) Flush() {
	if f, ok := a.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (a *aliasWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// mountAlias mounts the blob alias from the repository from into rt's,
// reporting whether it did; when the source does not have it, the library
// starts an upload instead, as it does for any digest.
func (r *Registry) mountAlias(w http.ResponseWriter, req *http.Request, rt route, alias digest.Digest, from string) bool {
	ctx := req.Context()
	src, err := r.repository(ctx, from)
	if err != nil {
		return false
	}
	desc, err := src.Blobs(ctx).Stat(ctx, alias)
	if err != nil {
		return false
	}
	if _, err := r.repository(ctx, rt.repository); err != nil {
		return false
	}
	for _, d := range []digest.Digest{desc.Digest, alias} {
		if err := r.driver.PutContent(ctx, layerLinkPath(rt.repository, d), []byte(desc.Digest.String())); err != nil {
			r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("mounting the blob failed"), err)
			return true
		}
	}
	h := w.Header()
	h.Set("Docker-Distribution-API-Version", "registry/2.0")
	h.Set("Location", "/v2/"+rt.repository+"/blobs/"+alias.String())
	h.Set("Docker-Content-Digest", alias.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if r.opts.OnBlob != nil {
		r.opts.OnBlob(rt.repository, desc.Digest.String())
	}
	return true
}

// Tags of manifests pushed by sha512. A tag points at the manifest's
// sha256 revision, as the library keeps it; Vigil notes the digest the
// client pushed it by, under /vigil/tagdigests/NAME/TAG, so that a GET or
// HEAD by the tag answers with that digest while the tag still names the
// same manifest.

func tagDigestPath(repository, tag string) string {
	return path.Join("/vigil/tagdigests", repository, tag)
}

// noteTagAlias records that tag was pushed with the digest alias.
func (r *Registry) noteTagAlias(ctx context.Context, repository, tag string, alias digest.Digest) error {
	if err := r.driver.PutContent(ctx, tagDigestPath(repository, tag), []byte(alias.String())); err != nil {
		return fmt.Errorf("registry: noting the digest of %s:%s: %w", repository, tag, err)
	}
	return nil
}

// tagAlias returns the digest tag was pushed with and the sha256 digest
// it then named, "" when it was pushed by sha256 or the record is gone.
func (r *Registry) tagAlias(ctx context.Context, repository, tag string) (alias, canonical digest.Digest) {
	raw, err := r.driver.GetContent(ctx, tagDigestPath(repository, tag))
	if err != nil {
		return "", ""
	}
	a, err := digest.Parse(string(raw))
	if err != nil {
		return "", ""
	}
	link, err := r.driver.GetContent(ctx, revisionLinkPath(repository, a))
	if err != nil {
		return "", ""
	}
	c, err := digest.Parse(string(link))
	if err != nil {
		return "", ""
	}
	return a, c
}

// tagAliasWriter answers a GET or HEAD by tag with the digest the tag was
// pushed with, when the tag still names that manifest.
type tagAliasWriter struct {
	http.ResponseWriter
	alias, canonical digest.Digest
	wrote            bool
}

func (a *tagAliasWriter) WriteHeader(status int) {
	if !a.wrote {
		a.wrote = true
		h := a.Header()
		if h.Get("Docker-Content-Digest") == a.canonical.String() {
			h.Set("Docker-Content-Digest", a.alias.String())
			if h.Get("Etag") != "" {
				h.Set("Etag", `"`+a.alias.String()+`"`)
			}
		}
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *tagAliasWriter) Write(p []byte) (int, error) {
	if !a.wrote {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(p)
}

func (a *tagAliasWriter) Flush() {
	if f, ok := a.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (a *tagAliasWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
