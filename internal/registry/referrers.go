package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"sort"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The OCI 1.1 referrers API (GET /v2/NAME/referrers/DIGEST), which the
// distribution library does not serve. Each manifest pushed with a subject
// is recorded as one small file in the registry's storage, beside the
// library's own, named by repository, subject and referrer:
//
//	/vigil/referrers/NAME/ALG/HEX/ALG-HEX   (the referrer's descriptor, JSON)
//
// One file per referrer means concurrent pushes never rewrite each other's
// records, and processes sharing storage share the list. A record whose
// manifest is gone (deleted by digest, or by another process, or its push
// undone) is dropped when the list is read, so the list never names what
// cannot be pulled.
//
// Clients that found no referrers API (older clients, or any client before
// this registry served it) keep the list in an image index tagged with
// the subject's digest ("sha256-HEX", the tag schema). Its entries are
// merged into the API's answer, and when a referrer is pushed or deleted
// while such a tag exists, the tag is rewritten to the full list, so that
// both ways of asking see the same referrers.

// referrersRoot is where referrer records live in the storage.
const referrersRoot = "/vigil/referrers"

// Headers of the referrers API.
const (
	headerSubject        = "OCI-Subject"
	headerFiltersApplied = "OCI-Filters-Applied"
)

// maxReferrers bounds the referrers listed for one subject.
const maxReferrers = 10000

// referrerJSON is what the registry reads of a manifest pushed with a
// subject.
type referrerJSON struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *descriptorJSON   `json:"config"`
	Subject      *descriptorJSON   `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
	Manifests    []descriptorJSON  `json:"manifests"`
}

// referrerDescriptor describes a referrer as the referrers API lists it,
// but for its digest.
func referrerDescriptor(contentType string, body []byte) (subject digest.Digest, desc ocispec.Descriptor, ok bool) {
	var m referrerJSON
	if json.Unmarshal(body, &m) != nil || m.Subject == nil || m.Subject.Digest.Validate() != nil {
		return "", ocispec.Descriptor{}, false
	}
	mediaType := m.MediaType
	if mediaType == "" {
		mediaType = contentType
	}
	artifactType := m.ArtifactType
	// An image manifest without artifactType is typed by its config; an
	// index without one has no type.
	if artifactType == "" && m.Config != nil && mediaType != mediaOCIIndex {
		artifactType = m.Config.MediaType
	}
	return m.Subject.Digest, ocispec.Descriptor{
		MediaType:    mediaType,
		ArtifactType: artifactType,
		Size:         int64(len(body)),
		Annotations:  m.Annotations,
	}, true
}

// subjectDir is the storage directory holding the referrers of subject in
// repository.
func subjectDir(repository string, subject digest.Digest) string {
	return path.Join(referrersRoot, repository, string(subject.Algorithm()), subject.Encoded())
}

func referrerPath(repository string, subject, referrer digest.Digest) string {
	return path.Join(subjectDir(repository, subject), string(referrer.Algorithm())+"-"+referrer.Encoded())
}

// recordReferrer stores the record of a manifest pushed with a subject.
func (r *Registry) recordReferrer(ctx context.Context, repository string, subject digest.Digest, desc ocispec.Descriptor) error {
	raw, err := json.Marshal(desc)
	if err != nil {
		return fmt.Errorf("registry: referrer %s: %w", desc.Digest, err)
	}
	if err := r.driver.PutContent(ctx, referrerPath(repository, subject, desc.Digest), raw); err != nil {
		return fmt.Errorf("registry: recording referrer %s of %s@%s: %w", desc.Digest, repository, subject, err)
	}
	return nil
}

// forgetReferrer removes a referrer's record; a record already gone is
// not an error.
func (r *Registry) forgetReferrer(ctx context.Context, repository string, subject, referrer digest.Digest) error {
	err := r.driver.Delete(ctx, referrerPath(repository, subject, referrer))
	if err != nil && !errors.As(err, new(storagedriver.PathNotFoundError)) {
		return fmt.Errorf("registry: removing referrer %s of %s@%s: %w", referrer, repository, subject, err)
	}
	return nil
}

// Referrers lists the manifests of repository whose subject is subject,
// ordered by digest; artifactType, when not empty, keeps only those of
// that type. It includes what the tag-schema index of subject lists. A
// repository or subject that does not exist has no referrers.
func (r *Registry) Referrers(ctx context.Context, repository, subject, artifactType string) ([]ocispec.Descriptor, error) {
	d, err := digest.Parse(subject)
	if err != nil {
		return nil, fmt.Errorf("registry: subject digest %q: %w", subject, err)
	}
	all, err := r.referrers(ctx, repository, d)
	if err != nil {
		return nil, err
	}
	if artifactType == "" {
		return all, nil
	}
	var out []ocispec.Descriptor
	for _, desc := range all {
		if desc.ArtifactType == artifactType {
			out = append(out, desc)
		}
	}
	return out, nil
}

// referrers lists every referrer of subject in repository.
func (r *Registry) referrers(ctx context.Context, repository string, subject digest.Digest) ([]ocispec.Descriptor, error) {
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return nil, err
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	exists := func(d digest.Digest) (bool, error) {
		ok, err := ms.Exists(ctx, d)
		if err != nil {
			return false, fmt.Errorf("registry: manifest %s@%s: %w", repository, d, err)
		}
		return ok, nil
	}
	found := map[digest.Digest]ocispec.Descriptor{}
	files, err := r.driver.List(ctx, subjectDir(repository, subject))
	if err != nil && !errors.As(err, new(storagedriver.PathNotFoundError)) {
		return nil, fmt.Errorf("registry: listing referrers of %s@%s: %w", repository, subject, err)
	}
	if len(files) > maxReferrers {
		return nil, fmt.Errorf("registry: %s@%s has more than %d referrers", repository, subject, maxReferrers)
	}
	for _, f := range files {
		raw, err := r.driver.GetContent(ctx, f)
		if errors.As(err, new(storagedriver.PathNotFoundError)) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("registry: reading referrer record %s: %w", f, err)
		}
		var desc ocispec.Descriptor
		if err := json.Unmarshal(raw, &desc); err != nil || desc.Digest.Validate() != nil {
			return nil, fmt.Errorf("registry: referrer record %s is corrupt", f)
		}
		ok, err := exists(desc.Digest)
		if err != nil {
			return nil, err
		}
		if !ok {
			// Deleted without its record, or a push undone: drop it.
			_ = r.forgetReferrer(ctx, repository, subject, desc.Digest)
			continue
		}
		found[desc.Digest] = desc
	}
	tagged, err := r.fallbackIndex(ctx, repo, subject)
	if err != nil {
		return nil, err
	}
	for _, desc := range tagged {
		if _, ok := found[desc.Digest]; ok || desc.Digest.Validate() != nil {
			continue
		}
		ok, err := exists(desc.Digest)
		if err != nil {
			return nil, err
		}
		if ok {
			found[desc.Digest] = desc
		}
	}
	out := make([]ocispec.Descriptor, 0, len(found))
	for _, desc := range found {
		out = append(out, desc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, nil
}

// FallbackTag is the tag under which the referrers tag schema keeps the
// referrers of subject: its digest with "-" for ":", cut to a tag's 128
// characters.
func FallbackTag(subject digest.Digest) string {
	t := string(subject.Algorithm()) + "-" + subject.Encoded()
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

// fallbackIndex returns the descriptors listed by the tag-schema index of
// subject, nil when there is no such tag or it names no index.
func (r *Registry) fallbackIndex(ctx context.Context, repo distribution.Repository, subject digest.Digest) ([]ocispec.Descriptor, error) {
	desc, err := repo.Tags(ctx).Get(ctx, FallbackTag(subject))
	if errors.As(err, new(distribution.ErrTagUnknown)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: tag %s: %w", FallbackTag(subject), err)
	}
	mediaType, raw, err := manifest(ctx, repo, desc.Digest)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if mediaType != mediaOCIIndex {
		return nil, nil
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, nil
	}
	return idx.Manifests, nil
}

// syncFallbackTag rewrites the tag-schema index of subject, when a client
// has pushed one, so that it lists what the referrers API lists. The new
// index is reported to OnPush like any push.
func (r *Registry) syncFallbackTag(ctx context.Context, repository string, subject digest.Digest) error {
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return err
	}
	tag := FallbackTag(subject)
	current, err := repo.Tags(ctx).Get(ctx, tag)
	if errors.As(err, new(distribution.ErrTagUnknown)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: tag %s: %w", tag, err)
	}
	mediaType, raw, err := manifest(ctx, repo, current.Digest)
	if err != nil || mediaType != mediaOCIIndex {
		return nil // not an index this registry can keep in step
	}
	var idx ocispec.Index
	if json.Unmarshal(raw, &idx) != nil {
		return nil
	}
	list, err := r.referrers(ctx, repository, subject)
	if err != nil {
		return err
	}
	if sameDescriptors(idx.Manifests, list) {
		return nil
	}
	idx.SchemaVersion, idx.MediaType, idx.Manifests = 2, mediaOCIIndex, list
	body, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	m, _, err := distribution.UnmarshalManifest(mediaOCIIndex, body)
	if err != nil {
		return fmt.Errorf("registry: tag-schema index of %s: %w", subject, err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	d, err := ms.Put(ctx, m)
	if err != nil {
		return fmt.Errorf("registry: storing the tag-schema index of %s@%s: %w", repository, subject, err)
	}
	if err := repo.Tags(ctx).Tag(ctx, tag, ocispec.Descriptor{MediaType: mediaOCIIndex, Digest: d, Size: int64(len(body))}); err != nil {
		return fmt.Errorf("registry: tagging the tag-schema index of %s@%s: %w", repository, subject, err)
	}
	if r.opts.OnPush == nil {
		return nil
	}
	p, err := r.pushed(ctx, route{repository: repository, reference: tag}, d.String())
	if err != nil {
		return err
	}
	return r.opts.OnPush(ctx, p)
}

func sameDescriptors(a, b []ocispec.Descriptor) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[digest.Digest]bool{}
	for _, d := range a {
		seen[d.Digest] = true
	}
	for _, d := range b {
		if !seen[d.Digest] {
			return false
		}
	}
	return true
}

// serveReferrers answers GET and HEAD /v2/NAME/referrers/DIGEST.
func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, rt route) {
	if _, err := reference.WithName(rt.repository); err != nil {
		r.serveError(w, req, errcode.ErrorCodeNameInvalid.WithMessage(fmt.Sprintf("repository name %q: %v", rt.repository, err)), nil)
		return
	}
	subject, err := digest.Parse(rt.reference)
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeDigestInvalid.WithMessage(fmt.Sprintf("subject %q is not a digest: %v", rt.reference, err)).
			WithDetail(map[string]string{"digest": rt.reference}), nil)
		return
	}
	artifactType := req.URL.Query().Get("artifactType")
	list, err := r.Referrers(req.Context(), rt.repository, subject.String(), artifactType)
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("listing referrers failed"), err)
		return
	}
	if list == nil {
		list = []ocispec.Descriptor{}
	}
	body, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: mediaOCIIndex,
		Manifests: list,
	})
	if err != nil {
		r.serveError(w, req, errcode.ErrorCodeUnknown.WithMessage("listing referrers failed"), err)
		return
	}
	h := w.Header()
	h.Set("Docker-Distribution-API-Version", "registry/2.0")
	h.Set("Content-Type", mediaOCIIndex)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if artifactType != "" {
		h.Set(headerFiltersApplied, "artifactType")
	}
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// subjectOf returns the subject of the stored manifest d of repository,
// "" when it has none or is not there.
func (r *Registry) subjectOf(ctx context.Context, repository string, d digest.Digest) (digest.Digest, error) {
	repo, err := r.repository(ctx, repository)
	if err != nil {
		return "", err
	}
	_, raw, err := manifest(ctx, repo, d)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var m referrerJSON
	if json.Unmarshal(raw, &m) != nil || m.Subject == nil || m.Subject.Digest.Validate() != nil {
		return "", nil
	}
	return m.Subject.Digest, nil
}

// routeReferrers names the referrers API in a route.
const routeReferrers = "referrers"

// IsFallbackTag reports whether tag is of the tag schema's form, the tag
// of an index that lists the referrers of a digest.
func IsFallbackTag(tag string) bool { return fallbackTagPattern.MatchString(tag) }

var fallbackTagPattern = regexp.MustCompile(`^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{121})$`)
