package api

import (
	"context"
	"net/http"
)

// Referrer is an artifact attached to an image (a manifest whose subject
// is the image): a signature, an SBOM, an attestation, Vigil's own SBOM
// and OpenVEX.
type Referrer struct {
	Digest       string            `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// ReferrerLister lists the referrers of an image, of one artifact type
// when artifactType is not empty.
type ReferrerLister func(ctx context.Context, repository, digest, artifactType string) ([]Referrer, error)

type referrerList struct {
	Repository string     `json:"repository"`
	Digest     string     `json:"digest"`
	Referrers  []Referrer `json:"referrers"`
}

func (h *handler) imageReferrers(w http.ResponseWriter, r *http.Request) error {
	q := query(r, []string{"repository", "digest", "tag", "artifactType"})
	if q.err != nil {
		return q.err
	}
	im, err := h.image(r, q)
	if err != nil {
		return err
	}
	out := referrerList{Repository: im.Repository, Digest: im.Digest, Referrers: []Referrer{}}
	if h.opts.Referrers != nil {
		list, err := h.opts.Referrers(r.Context(), im.Repository, im.Digest, q.get("artifactType"))
		if err != nil {
			return err
		}
		out.Referrers = append(out.Referrers, list...)
	}
	return writeJSON(w, http.StatusOK, out)
}
