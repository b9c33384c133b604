package image

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// openRegistry opens a registry reference, "host/repo:tag" or
// "host/repo@sha256:…". Nothing but the manifests and the config is
// fetched here; each layer is fetched when it is opened.
func openRegistry(ctx context.Context, spec string, o *options) (*Image, error) {
	if spec == "" {
		return nil, errors.New("empty reference")
	}
	var nopts []name.Option
	if o.insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(spec, nopts...)
	if err != nil {
		return nil, err
	}
	var ropts []remote.Option
	if o.auth != nil {
		ropts = append(ropts, remote.WithAuth(o.auth))
	} else {
		// Reads the Docker config file ($DOCKER_CONFIG/config.json or
		// ~/.docker/config.json) and runs its credential helpers.
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if o.insecure {
		ropts = append(ropts, remote.WithTransport(insecureTransport()))
	}
	if o.userAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(o.userAgent))
	}
	// A Puller authenticates once per repository and takes a context per
	// call, so each layer is fetched under the context of its Open.
	puller, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	root, err := puller.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	s := registryStore{repo: ref.Context(), puller: puller}
	if err := verifyBytes(root.Manifest, root.Descriptor, maxManifestSize); err != nil {
		return nil, err
	}
	d, raw, err := resolve(ctx, s, root.Descriptor, root.Manifest, o.platform)
	if err != nil {
		return nil, err
	}
	img, err := buildImage(ctx, s, d, raw, "registry")
	if err != nil {
		return nil, err
	}
	if tag, ok := ref.(name.Tag); ok {
		img.RepoTags = []string{tag.Name()}
	}
	// Like Docker's, the repo digest is that of what the reference
	// resolved to: the index for a multi-platform image.
	img.RepoDigests = []string{ref.Context().Digest(root.Digest.String()).Name()}
	return img, nil
}

// insecureTransport reaches registries over plain HTTP (name.Insecure
// allows the fallback) or HTTPS with any certificate.
func insecureTransport() http.RoundTripper {
	t, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		t = http.DefaultTransport.(*http.Transport)
	}
	t = t.Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with WithInsecure
	return t
}

// registryStore reads one repository of a registry.
type registryStore struct {
	repo   name.Repository
	puller *remote.Puller
}

func (s registryStore) manifest(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	rd, err := s.puller.Get(ctx, s.repo.Digest(d.Digest.String()))
	if err != nil {
		return nil, err
	}
	return rd.Manifest, verifyBytes(rd.Manifest, d, maxManifestSize)
}

// blob fetches a blob; ggcr checks its digest as it is read to the end.
func (s registryStore) blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	l, err := s.puller.Layer(ctx, s.repo.Digest(d.Digest.String()))
	if err != nil {
		return nil, err
	}
	return l.Compressed()
}
