package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilsec/vigil/internal/registry"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/store"
)

// serverFlags are shared by `serve` and `worker`.
type serverFlags struct {
	data, store, dbDir                        string
	s3Bucket, s3Region, s3Endpoint, s3Root    string
	s3PathStyle, s3Insecure                   bool
	workers                                   int
	dbCheck, dbUpdate, lease                  time.Duration
	account, region, registryHost, secretFile string
	egressAllow                               []string
	deliveryTimeout                           time.Duration
}

func (f *serverFlags) register(fs *pflag.FlagSet, defaultWorkers int) {
	fs.StringVar(&f.data, "data", "vigil-data", "data directory: SQLite store, registry blobs, the initial admin token")
	fs.StringVar(&f.store, "store", "", "store DSN: empty for SQLite in --data, or postgres://user@host/db for PostgreSQL")
	fs.StringVar(&f.dbDir, "db-dir", "", "vulnerability database directory (default CACHE-DIR/db; see `vigil db`)")
	fs.StringVar(&f.s3Bucket, "s3-bucket", "", "keep registry blobs in this S3 bucket instead of --data (credentials from $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&f.s3Region, "s3-region", "us-east-1", "S3 region")
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (MinIO, Ceph, …)")
	fs.StringVar(&f.s3Root, "s3-root", "", "key prefix inside the bucket")
	fs.BoolVar(&f.s3PathStyle, "s3-path-style", false, "use path-style S3 URLs (most S3-compatible stores need it)")
	fs.BoolVar(&f.s3Insecure, "s3-insecure", false, "talk plain HTTP to the S3 endpoint")
	fs.IntVar(&f.workers, "workers", defaultWorkers, "scan workers in this process")
	fs.DurationVar(&f.dbCheck, "db-check-interval", 30*time.Second, "how often to look for a new vulnerability database")
	fs.DurationVar(&f.dbUpdate, "db-update-interval", 0, "download the vulnerability feeds this often (0: never; run `vigil db update` instead)")
	fs.DurationVar(&f.lease, "job-lease", 30*time.Second, "how long a worker's claim on a job lasts without renewal")
	fs.StringVar(&f.account, "account", "000000000000", "account id used in ARNs and events")
	fs.StringVar(&f.region, "region", "local", "region used in ARNs and events")
	fs.StringVar(&f.registryHost, "registry-host", "", "host[:port] clients use to reach the registry (default from --addr)")
	fs.StringSliceVar(&f.egressAllow, "egress-allow", nil, "also let webhooks and gate callbacks reach these CIDRs, addresses or host names, which are refused by default if loopback, private or link-local (repeatable; adds to egress.allow)")
	fs.DurationVar(&f.deliveryTimeout, "delivery-timeout", 0, "how long one webhook or callback attempt may take before it fails and is retried (default egress.timeout, or 10s)")
	fs.StringVar(&f.secretFile, "registry-secret-file", "", "file holding the secret that signs registry upload state; processes sharing storage need the same one (default: DATA/registry-secret, created on first start)")
}

func (a *app) serverConfig(f *serverFlags, addr string) (server.Config, error) {
	cfg := server.Config{
		Addr: addr, DataDir: f.data, Store: f.store, Workers: f.workers,
		DBDir: f.dbDir, DBCheck: f.dbCheck, DBUpdate: f.dbUpdate, Upstream: a.cfg.DB.Upstream, NVDAPIKey: a.cfg.DB.NVDAPIKey,
		KeepDBVersions: a.cfg.DB.KeepVersions,
		Account:        f.account, Region: f.region, RegistryHost: f.registryHost, Lease: f.lease,
		TempDir: a.cfg.TempDir, Log: a.log,
	}
	if cfg.DBDir == "" {
		cfg.DBDir = a.cfg.DBDir()
	}
	if f.s3Bucket != "" {
		cfg.S3 = &registry.S3Options{
			Bucket: f.s3Bucket, Region: f.s3Region, Endpoint: f.s3Endpoint, RootDirectory: f.s3Root,
			ForcePathStyle: f.s3PathStyle, Secure: !f.s3Insecure,
			AccessKey: a.env.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: a.env.Getenv("AWS_SECRET_ACCESS_KEY"),
		}
	}
	for i, r := range a.cfg.Rules {
		var rule store.EventRule
		if err := fromConfig(r, &rule); err != nil {
			return cfg, fmt.Errorf("configuration: rules[%d]: %w", i, err)
		}
		cfg.Rules = append(cfg.Rules, rule)
	}
	for i, p := range a.cfg.Gate.Policies {
		var pol store.GatePolicy
		if err := fromConfig(p, &pol); err != nil {
			return cfg, fmt.Errorf("configuration: gate.policies[%d]: %w", i, err)
		}
		cfg.GatePolicies = append(cfg.GatePolicies, pol)
	}
	cfg.GateTimeout = a.cfg.Gate.Timeout
	cfg.EgressAllow = append(slices.Clone(a.cfg.Egress.Allow), f.egressAllow...)
	cfg.DeliveryTimeout = a.cfg.Egress.Timeout
	if f.deliveryTimeout != 0 {
		cfg.DeliveryTimeout = f.deliveryTimeout
	}
	if cfg.DeliveryTimeout < 0 {
		return cfg, usageError{errors.New("--delivery-timeout (or egress.timeout) must not be negative")}
	}
	if a.cfg.Console.SessionIdle < 0 || a.cfg.Console.SessionLifetime < 0 {
		return cfg, usageError{errors.New("configuration: console.sessionIdle and console.sessionLifetime must not be negative")}
	}
	cfg.SessionIdle, cfg.SessionLifetime, cfg.SecureCookies = a.cfg.Console.SessionIdle, a.cfg.Console.SessionLifetime, a.cfg.Console.SecureCookies
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return cfg, fmt.Errorf("--registry-secret-file: %w", err)
		}
		cfg.Secret = strings.TrimSpace(string(b))
		if len(cfg.Secret) < 32 {
			return cfg, usageError{fmt.Errorf("--registry-secret-file %s: the secret must be at least 32 characters", f.secretFile)}
		}
	}
	if f.workers < 0 {
		return cfg, usageError{errors.New("--workers must not be negative")}
	}
	return cfg, nil
}

func (a *app) serveCmd() *cobra.Command {
	var (
		f      serverFlags
		addr   string
		noAuth bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry, the API and scan workers",
		Long: "Serve an OCI registry under /v2/ and the API under /api/ on one address. Every pushed\n" +
			"image is scanned; its findings are kept and re-evaluated whenever the vulnerability\n" +
			"database changes. With nothing else installed it keeps everything in --data (SQLite and\n" +
			"files); --store postgres://… and --s3-bucket let several servers and `vigil worker`\n" +
			"processes share the work.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.serverConfig(&f, addr)
			if err != nil {
				return err
			}
			cfg.NoAuth = noAuth
			ctx := cmd.Context()
			srv, err := server.New(ctx, cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			tokenFile, err := srv.Bootstrap(ctx)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			a.printLogin(ln.Addr().String(), tokenFile, noAuth, f.registryHost)
			return srv.Run(ctx, ln)
		},
	}
	f.register(cmd.Flags(), runtime.GOMAXPROCS(0))
	cmd.Flags().StringVar(&addr, "addr", ":5000", "listening address for the registry (/v2/), the API (/api/) and the console (/)")
	cmd.Flags().BoolVar(&noAuth, "no-auth", false, "switch authentication off (local use only: anyone who can reach the address can push, read and change everything)")
	return cmd
}

// printLogin tells the user how to log in, without printing any secret.
func (a *app) printLogin(listen, tokenFile string, noAuth bool, host string) {
	if host == "" {
		_, port, _ := net.SplitHostPort(listen)
		host = "localhost:" + port
	}
	w := a.env.Err
	fmt.Fprintf(w, "vigil %s serving on %s: registry http://%s/v2/, API http://%s/api/v1/, console http://%s/\n", Version(), listen, host, host, host)
	switch {
	case noAuth:
		fmt.Fprintln(w, "authentication is OFF (--no-auth): do not expose this address")
	case tokenFile != "":
		fmt.Fprintf(w, "an admin token was created in %s (shown nowhere else); log in with:\n", tokenFile)
		fmt.Fprintf(w, "  docker login %s -u vigil --password-stdin < %s\n", host, tokenFile)
		fmt.Fprintf(w, "  export VIGIL_SERVER=http://%s VIGIL_TOKEN=$(cat %s)\n", host, tokenFile)
		fmt.Fprintf(w, "  or open the console at http://%s/ and sign in with the token\n", host)
		fmt.Fprintln(w, "  then create tokens for people and pipelines: vigil tokens create NAME --role read-only|pipeline|admin")
	default:
		fmt.Fprintf(w, "log in with an API token: docker login %s -u vigil --password-stdin, or VIGIL_TOKEN for the API\n", host)
	}
}

func (a *app) workerCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run scan workers only, sharing a server's store and storage",
		Long: "Run scan workers that take jobs from a shared store: give the same --store (PostgreSQL)\n" +
			"and the same registry storage (--data on a shared filesystem, or --s3-bucket) as the\n" +
			"`vigil serve` processes.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.serverConfig(&f, "")
			if err != nil {
				return err
			}
			if cfg.Workers == 0 {
				return usageError{errors.New("--workers must be at least 1")}
			}
			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			return srv.RunWorkers(cmd.Context())
		},
	}
	f.register(cmd.Flags(), runtime.GOMAXPROCS(0))
	return cmd
}

// fromConfig reads a part of the YAML configuration into an API type, by
// way of JSON, refusing fields the type does not have.
func fromConfig(v map[string]any, out any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}
