package image

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Option configures Open.
type Option func(*options) error

type options struct {
	platform  v1.Platform
	auth      authn.Authenticator // nil: the Docker config file and its credential helpers
	insecure  bool
	userAgent string
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{platform: defaultPlatform()}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
	}
	return o, nil
}

// defaultPlatform is the host's architecture with the OS forced to linux:
// what `docker pull` on this machine would run, and the only OS whose
// images a Linux package scanner can read. Scanning from a Mac (arm64)
// thus picks linux/arm64, as Trivy and Syft do; pass WithPlatform to scan
// another architecture.
func defaultPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// WithPlatform selects the image for platform ("linux/arm64",
// "linux/arm/v7") from a multi-platform index. An image that is not an
// index is opened whatever its platform.
func WithPlatform(platform string) Option {
	return func(o *options) error {
		p, err := parsePlatform(platform)
		if err != nil {
			return err
		}
		o.platform = p
		return nil
	}
}

func parsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != "" {
			return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant] in lower case", s)
		}
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// WithBasicAuth authenticates to the registry with a user name and
// password (or token) instead of the Docker config file's credentials.
func WithBasicAuth(user, password string) Option {
	return func(o *options) error {
		if user == "" {
			return errors.New("basic auth: empty user name")
		}
		o.auth = &authn.Basic{Username: user, Password: password}
		return nil
	}
}

// WithInsecure lets the registry be reached over plain HTTP and without
// verifying its TLS certificate: for local and test registries only.
func WithInsecure() Option {
	return func(o *options) error {
		o.insecure = true
		return nil
	}
}

// WithUserAgent sets the User-Agent sent to registries.
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		o.userAgent = ua
		return nil
	}
}
