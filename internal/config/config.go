// Package config holds Vigil's one configuration: loaded once, from a YAML
// file, then the environment, then command-line flags, and passed down.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil/internal/vulndb"
)

// Config is everything a Vigil command can be told.
type Config struct {
	// CacheDir holds the vulnerability database and the layer cache.
	// Default: the user's cache directory (os.UserCacheDir) + "/vigil".
	CacheDir string `yaml:"cacheDir"`
	// LayerCache keeps per-layer analysis results under CacheDir/layers
	// so that layers seen before are not read again.
	LayerCache bool `yaml:"layerCache"`
	// TempDir is where analyses make their private temporary directories.
	TempDir string `yaml:"tempDir"`
	// DB configures the vulnerability database.
	DB DB `yaml:"db"`
	// Rules are event rules for `vigil serve`, in the API's shape (Name,
	// EventPattern, State, Description, Targets; EventPattern an object or,
	// as in EventBridge's PutRule, a string holding one); they replace, at each
	// start, the rules an earlier configuration file made.
	Rules []map[string]any `yaml:"rules"`
	// Gate configures the deployment gate of `vigil serve`.
	Gate Gate `yaml:"gate"`
	// Egress says where webhooks and gate callbacks may connect.
	Egress Egress `yaml:"egress"`
	// Console configures the web console of `vigil serve`.
	Console Console `yaml:"console"`
}

// Egress configures the connections `vigil serve` makes to URLs users
// give: webhook targets and gate callbacks.
type Egress struct {
	// Allow opens what is refused by default (loopback, private,
	// link-local, CGNAT and metadata addresses): CIDRs ("10.0.0.0/8"),
	// addresses ("127.0.0.1") or host names ("hooks.internal").
	Allow []string `yaml:"allow"`
	// Timeout bounds one delivery attempt at one target (default 10 s).
	Timeout time.Duration `yaml:"timeout"`
}

// Console configures the web console's sessions.
type Console struct {
	// SessionIdle is how long a session lasts unused (default 2 hours);
	// SessionLifetime how long it lasts after sign-in at most, used or
	// not (default 12 hours).
	SessionIdle     time.Duration `yaml:"sessionIdle"`
	SessionLifetime time.Duration `yaml:"sessionLifetime"`
	// SecureCookies marks the session cookie Secure even on plain-HTTP
	// requests: for a console reached over HTTPS through a proxy that
	// ends TLS.
	SecureCookies bool `yaml:"secureCookies"`
}

// Gate configures the deployment gate.
type Gate struct {
	// Timeout is how long a request waits for a scan when neither the
	// request nor its policy says (default 30 minutes).
	Timeout time.Duration `yaml:"timeout"`
	// Policies are gate policies in the API's shape (name, repository,
	// maxCritical, …), written to the store at each start.
	Policies []map[string]any `yaml:"policies"`
}

// DB configures the vulnerability database.
type DB struct {
	// Dir holds the feed files and the database (default CacheDir/db).
	Dir string `yaml:"dir"`
	// MaxAge is how old the data may be before a scan warns (and, with
	// --fail-on-stale-db, refuses): default 7 days.
	MaxAge time.Duration `yaml:"maxAge"`
	// Upstream says where `vigil db update` downloads each feed; every
	// base URL can point at a mirror.
	Upstream vulndb.Upstream `yaml:"upstream"`
	// NVDAPIKey is sent to the NVD API (also $VIGIL_NVD_API_KEY).
	NVDAPIKey string `yaml:"nvdApiKey"`
	// KeepVersions is how many database versions `vigil serve` keeps
	// for gate decisions pinned to one (0: 5; negative: none).
	KeepVersions int `yaml:"keepVersions"`
}

// DBDir is the database directory.
func (c *Config) DBDir() string {
	if c.DB.Dir != "" {
		return c.DB.Dir
	}
	return filepath.Join(c.CacheDir, "db")
}

// Default returns the configuration used when nothing else is said.
func Default(getenv func(string) string) Config {
	return Config{
		CacheDir:   defaultCacheDir(getenv),
		LayerCache: true,
		DB: DB{
			MaxAge:   7 * 24 * time.Hour,
			Upstream: vulndb.DefaultUpstream(),
		},
	}
}

// defaultCacheDir is os.UserCacheDir's answer, computed from getenv so that
// no package reads the process environment behind the caller's back.
func defaultCacheDir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "vigil")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "vigil")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "vigil")
	}
	return filepath.Join(os.TempDir(), "vigil-cache")
}

// Load returns the configuration: the defaults, then the file (if path is
// empty, $VIGIL_CONFIG or, when it exists, the user's config directory's
// vigil/config.yaml), then VIGIL_* environment variables. Flags are
// applied by the caller after this.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default(getenv)
	explicit := path != ""
	if path == "" {
		path = getenv("VIGIL_CONFIG")
		explicit = path != ""
	}
	if path == "" {
		if d := getenv("XDG_CONFIG_HOME"); d != "" {
			path = filepath.Join(d, "vigil", "config.yaml")
		} else if h := getenv("HOME"); h != "" {
			path = filepath.Join(h, ".config", "vigil", "config.yaml")
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
				return c, fmt.Errorf("config: %s: %w", path, err)
			}
		case errors.Is(err, fs.ErrNotExist) && !explicit:
		default:
			return c, fmt.Errorf("config: %w", err)
		}
	}
	if v := getenv("VIGIL_CACHE_DIR"); v != "" {
		c.CacheDir = v
	}
	if v := getenv("VIGIL_DB_DIR"); v != "" {
		c.DB.Dir = v
	}
	if v := getenv("VIGIL_NVD_API_KEY"); v != "" {
		c.DB.NVDAPIKey = v
	}
	return c, nil
}
