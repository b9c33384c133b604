// Package registry is Vigil's embedded OCI registry: the CNCF distribution
// library serving the OCI distribution API over filesystem or S3 storage,
// with Vigil's authorization in front of it and hooks that let Vigil record
// a push durably before the client is told it succeeded.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/gorilla/mux"

	// The library's storage drivers register themselves with its factory.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)

// Sentinel errors of Options.Authorize.
var (
	// ErrUnauthenticated refuses a request without valid credentials: 401
	// with a Basic challenge.
	ErrUnauthenticated = errors.New("registry: authentication required")
	// ErrForbidden refuses a principal the action: 403.
	ErrForbidden = errors.New("registry: access denied")
	// ErrNotFound is returned by Image when the repository holds no such
	// manifest.
	ErrNotFound = errors.New("registry: manifest not found")
)

// ReferencedError refuses to delete a manifest that an image index in the
// same repository lists, as ECR refuses it (ImageReferencedByManifestList):
// deleting it would leave the index naming a manifest that is gone.
type ReferencedError struct {
	Repository, Digest string
	// Index is the digest of an index that lists Digest.
	Index string
}

func (e *ReferencedError) Error() string {
	return "manifest " + e.Repository + "@" + e.Digest + " is referenced by the image index " +
		e.Repository + "@" + e.Index + " (ImageReferencedByManifestList): delete the index first"
}

// Options configure a Registry.
type Options struct {
	// Storage: exactly one of FilesystemRoot or S3.
	FilesystemRoot string
	S3             *S3Options
	// Secret signs upload state; processes sharing storage must share it.
	Secret string
	// Authorize is called for every /v2/ request before the library sees
	// it. It returns nil to let the request through, ErrUnauthenticated
	// (401 with a Basic challenge) or ErrForbidden (403); any other error
	// is a 500. action is "pull" for GET and HEAD, "push" for POST, PUT,
	// PATCH and for cancelling an upload, "delete" for other DELETEs;
	// repository is "" for /v2/ and /v2/_catalog. A blob mount also asks
	// for "pull" on the repository it mounts from. A nil Authorize lets
	// every request through.
	Authorize func(r *http.Request, action, repository string) error
	// OnPush is called when a manifest PUT has been stored and before the
	// 201 reaches the client. If it fails the push is undone (the tag is
	// put back, a manifest new to the repository removed) and the client
	// gets a 500; it will retry, and the retried PUT calls OnPush again. A
	// push is thus acknowledged only once Vigil has recorded it.
	OnPush func(ctx context.Context, p Pushed) error
	// OnDelete is called when a manifest has been deleted by digest, before
	// the 202 is sent; if it fails the client gets a 500. It is also called
	// when the manifest to delete is not found, because that is what the
	// client's retry after such a 500 finds: it must accept deletions of
	// what it never recorded. Deleting a tag is reported to OnUntag.
	OnDelete func(ctx context.Context, repository, digest string) error
	// BeforeDelete is asked before a manifest is deleted by digest. An
	// error wrapping a *ReferencedError refuses the deletion with a 409
	// naming the index that needs the manifest; any other error is a 500.
	BeforeDelete func(ctx context.Context, repository, digest string) error
	// BeforeRetag is asked before a manifest PUT moves a tag that names
	// the manifest from to the manifest to (pushing the same manifest
	// under its tag again asks nothing). An error wrapping an
	// *ImmutableTagError refuses the PUT with a 400 TAG_INVALID naming
	// the tag and repository; any other error is a 500.
	BeforeRetag func(ctx context.Context, repository, tag, from, to string) error
	// OnUntag is called when a tag has been deleted (DELETE
	// …/manifests/TAG removes the tag and keeps the manifest it named),
	// before the 202 is sent; digest is the manifest the tag named, ""
	// when the tag was already gone (as the client's retry after a failed
	// OnUntag finds it). If it fails the client gets a 500.
	OnUntag func(ctx context.Context, repository, tag, digest string) error
	// OnPull is told of each successful manifest GET after the response
	// has been flushed. It runs on the request's goroutine: it must not
	// block.
	OnPull func(repository, digest string)
	// OnBlob is told when a blob upload (or mount) into a repository has
	// completed, after the response has been flushed, so that layers can
	// be analysed before their manifest arrives. It must not block.
	OnBlob func(repository, digest string)
	// Logger receives the library's warnings and errors. The library logs
	// through logrus's process-wide logger, so with several registries in
	// one process the last one created receives them all. Nil discards.
	Logger *slog.Logger
}

// S3Options configure S3 or S3-compatible storage.
type S3Options struct {
	Bucket string
	Region string
	// Endpoint is the URL of an S3-compatible store (MinIO, Ceph, …);
	// empty for AWS.
	Endpoint string
	// AccessKey and SecretKey; when empty the AWS SDK's default chain
	// (environment, shared config, instance role) is used.
	AccessKey, SecretKey string
	// ForcePathStyle puts the bucket in the path rather than the host
	// name, as most S3-compatible stores need.
	ForcePathStyle bool
	// RootDirectory is a key prefix under which everything is stored.
	RootDirectory string
	// Secure uses HTTPS to the endpoint.
	Secure bool
}

// Registry serves the OCI distribution API. It is safe for concurrent use.
type Registry struct {
	opts   Options
	app    *handlers.App
	router *mux.Router
	// storage reads manifests and blobs directly, for the hooks and for
	// Image; it shares the storage, not the state, of the library's app.
	storage distribution.Namespace
	// driver holds Vigil's own records beside the library's: referrers
	// and the revision links of manifests pushed by sha512.
	driver storagedriver.StorageDriver
}

// New returns a registry over the storage that o names. Close it when done.
func New(ctx context.Context, o Options) (r *Registry, err error) {
	params, driverName, err := storageParameters(o)
	if err != nil {
		return nil, err
	}
	if o.Secret == "" {
		return nil, errors.New("registry: Options.Secret is required (processes sharing storage must share it)")
	}
	routeLibraryLogs(o.Logger)
	driver, err := factory.Create(ctx, driverName, params)
	if err != nil {
		return nil, fmt.Errorf("registry: %s storage: %w", driverName, err)
	}
	if err := checkStorage(ctx, driver); err != nil {
		return nil, fmt.Errorf("registry: %s storage: %w", driverName, err)
	}
	// Deletion is enabled to undo pushes that OnPush failed to record.
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			driverName: params,
			"delete":   configuration.Parameters{"enabled": true},
			// Blobs are served through Vigil, never by redirecting clients
			// to presigned storage URLs they may not be able to reach.
			"redirect": configuration.Parameters{"disable": true},
		},
	}
	cfg.HTTP.Secret = o.Secret
	// The library's configuration parser would set these defaults (and
	// read REGISTRY_* environment variables, which Vigil does not want).
	cfg.Catalog.MaxEntries = 1000
	cfg.Tags.MaxTags = 1000
	// Auth, notifications, Redis, proxying and health checks stay
	// unconfigured: Vigil authorizes in front of the library, learns of
	// pushes from its own hooks and keeps no state outside storage.
	app, err := newApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Registry{opts: o, app: app, router: v2.RouterWithPrefix(""), storage: ns, driver: driver}, nil
}

// newApp builds the library's app, which panics on configuration errors.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("registry: configuring the distribution library: %v", p)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// Close stops the library's background work (the purging of abandoned
// uploads).
func (r *Registry) Close() error {
	if err := r.app.Shutdown(); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// storageParameters turns o's storage into the library's driver name and
// parameters.
func storageParameters(o Options) (configuration.Parameters, string, error) {
	switch {
	case o.FilesystemRoot != "" && o.S3 != nil:
		return nil, "", errors.New("registry: both FilesystemRoot and S3 are set; choose one")
	case o.FilesystemRoot != "":
		root, err := filepath.Abs(o.FilesystemRoot)
		if err != nil {
			return nil, "", fmt.Errorf("registry: %w", err)
		}
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, "", fmt.Errorf("registry: %w", err)
		}
		return configuration.Parameters{"rootdirectory": root}, "filesystem", nil
	case o.S3 != nil:
		s := o.S3
		if s.Bucket == "" {
			return nil, "", errors.New("registry: S3 needs a bucket")
		}
		if s.Region == "" && s.Endpoint == "" {
			return nil, "", errors.New("registry: S3 needs a region or an endpoint")
		}
		p := configuration.Parameters{
			"bucket":         s.Bucket,
			"region":         s.Region,
			"regionendpoint": s.Endpoint,
			"forcepathstyle": s.ForcePathStyle,
			"secure":         s.Secure,
			"rootdirectory":  s.RootDirectory,
		}
		if s.Region == "" {
			p["region"] = "us-east-1" // signing needs a region; S3-compatible stores ignore it
		}
		if s.AccessKey != "" || s.SecretKey != "" {
			p["accesskey"], p["secretkey"] = s.AccessKey, s.SecretKey
		}
		return p, "s3", nil
	}
	return nil, "", errors.New("registry: no storage: set FilesystemRoot or S3")
}

// checkStorage fails early, at startup, on storage that cannot be reached
// (a wrong bucket, endpoint or credentials) rather than on the first push.
func checkStorage(ctx context.Context, d storagedriver.StorageDriver) error {
	_, err := d.Stat(ctx, "/")
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return nil // empty storage
	}
	return err
}
