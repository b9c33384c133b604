package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/dbartifact"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// dbSource says where `vigil db pull` (and `vigil scan --db-repository`)
// fetch the database from, and as whom.
type dbSource struct {
	remote             remoteFlags
	insecure           bool
	username, password string
}

func (a *app) dbPullCmd() *cobra.Command {
	var s dbSource
	cmd := &cobra.Command{
		Use:   "pull [REF]",
		Short: "Fetch the vulnerability database from a registry (a Vigil server's, or a mirror)",
		Long: "Fetch the database that `vigil serve` publishes as the OCI artifact vigil/db (tagged\n" +
			"with each version and latest). Without REF it is the server's (--server, $VIGIL_SERVER)\n" +
			"vigil/db:latest, read with the API token; REF is any registry's copy\n" +
			"(HOST/REPO[:TAG|@DIGEST]), read with the Docker config's credentials or\n" +
			"--username/--password. When a database pulled before is held, only the partitions that\n" +
			"changed since are read. Every blob is checked against its digest; the new database\n" +
			"replaces the old one only when complete, so a failed pull leaves the old one in use.",
		Example: "  vigil db pull\n  vigil db pull --server https://vigil.internal\n  vigil db pull mirror.example.com/security/vigil-db:latest",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := a.dbDir(cmd)
			if err != nil {
				return err
			}
			refStr := ""
			if len(args) == 1 {
				refStr = args[0]
			}
			p, err := a.pullDatabase(cmd.Context(), dir, refStr, &s)
			if err != nil {
				return err
			}
			if s.remote.json {
				return writeJSON(a.env.Out, p)
			}
			printPulled(a.env.Out, dir, p)
			return nil
		},
	}
	fl := cmd.Flags()
	s.remote.register(fl)
	fl.BoolVar(&s.insecure, "insecure", false, "allow plain HTTP and unverified TLS for the registry (implied for an http:// server)")
	fl.StringVar(&s.username, "username", "", "registry user name for REF (default: from the Docker config file and credential helpers)")
	fl.StringVar(&s.password, "password", "", "registry password or token for REF")
	return cmd
}

func printPulled(w io.Writer, dir *vulndb.Dir, p *dbartifact.Pulled) {
	switch {
	case p.Unchanged:
		fmt.Fprintf(w, "%s: version %s is the one held in %s\n", p.Reference, p.Version, dir.DatabasePath())
	case p.Delta:
		fmt.Fprintf(w, "pulled %s: version %s into %s, from %s: %d of %d partitions changed, %s read of %s, in %s\n",
			p.Reference, p.Version, dir.DatabasePath(), p.Held, p.Fetched, p.Partitions, mib(p.Bytes), mib(p.TotalBytes), p.Duration.Round(time.Millisecond))
	default:
		fmt.Fprintf(w, "pulled %s: version %s into %s: %d partitions, %s read, in %s\n",
			p.Reference, p.Version, dir.DatabasePath(), p.Partitions, mib(p.Bytes), p.Duration.Round(time.Millisecond))
	}
}

// pullDatabase resolves where the database comes from and pulls it.
func (a *app) pullDatabase(ctx context.Context, dir *vulndb.Dir, refStr string, s *dbSource) (*dbartifact.Pulled, error) {
	ref, ropts, err := a.dbReference(refStr, s)
	if err != nil {
		return nil, err
	}
	bar := newPullBar(a.env.Err, a.env.IsTerminal, ref.Context().RepositoryStr())
	defer bar.done()
	return dbartifact.Pull(ctx, dir, ref, dbartifact.PullOptions{Remote: ropts, Progress: bar.report})
}

// dbReference is the artifact's reference and how to reach it: the
// server's vigil/db:latest with its token when no REF is given, or REF
// with the token when it names the server's registry, the given
// credentials, or else the Docker config's.
func (a *app) dbReference(refStr string, s *dbSource) (name.Reference, []ggcrremote.Option, error) {
	server, token, err := a.serverToken(&s.remote)
	if err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, nil, usageError{fmt.Errorf("server %q is not an http:// or https:// URL", server)}
	}
	if refStr == "" {
		refStr = u.Host + "/" + dbartifact.Repository + ":latest"
	}
	insecure := s.insecure
	var nopts []name.Option
	probe, err := name.ParseReference(refStr)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("database reference %q: %w", refStr, err)}
	}
	atServer := probe.Context().RegistryStr() == u.Host
	if atServer && u.Scheme == "http" {
		insecure = true
	}
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(refStr, nopts...)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("database reference %q: %w", refStr, err)}
	}
	ropts := []ggcrremote.Option{ggcrremote.WithUserAgent("vigil/" + Version())}
	switch {
	case s.username != "" || s.password != "":
		ropts = append(ropts, ggcrremote.WithAuth(&authn.Basic{Username: s.username, Password: s.password}))
	case atServer && token != "":
		ropts = append(ropts, ggcrremote.WithAuth(&authn.Basic{Username: "vigil", Password: token}))
	default:
		ropts = append(ropts, ggcrremote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if s.insecure {
		ropts = append(ropts, ggcrremote.WithTransport(skipVerifyTransport()))
	}
	return ref, ropts, nil
}

// skipVerifyTransport accepts any TLS certificate, as --insecure asks.
func skipVerifyTransport() http.RoundTripper {
	t, ok := ggcrremote.DefaultTransport.(*http.Transport)
	if !ok {
		t = http.DefaultTransport.(*http.Transport)
	}
	t = t.Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	return t
}

// pullBar draws a progress bar of the partitions being read, on a
// terminal only.
type pullBar struct {
	w    io.Writer
	on   bool
	name string

	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func newPullBar(w io.Writer, terminal bool, name string) *pullBar {
	return &pullBar{w: w, on: terminal, name: name}
}

func (b *pullBar) report(done, total int64) {
	if !b.on || total <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if now := time.Now(); done < total && now.Sub(b.last) < 100*time.Millisecond {
		return
	} else {
		b.last = now
	}
	const width = 30
	filled := int(done * width / total)
	fmt.Fprintf(b.w, "\r\033[Kpulling %s [%s%s] %s / %s", b.name, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), mib(done), mib(total))
	b.drawn = true
}

func (b *pullBar) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}

// dbOrigin is where `vigil db status` says the database came from.
type dbOrigin struct {
	// Pulled is true for a database fetched with `vigil db pull`, false
	// for one built here from feeds.
	Pulled     bool   `json:"pulled"`
	Reference  string `json:"reference,omitempty"`
	Manifest   string `json:"manifest,omitempty"`
	PulledAt   string `json:"pulledAt,omitempty"`
	Partitions int    `json:"partitions,omitempty"`
}

func origin(in *vulndb.Installed) dbOrigin {
	if in == nil {
		return dbOrigin{}
	}
	return dbOrigin{Pulled: true, Reference: in.Reference, Manifest: in.Manifest, PulledAt: in.Pulled, Partitions: len(in.Partitions)}
}

func printOrigin(w io.Writer, in *vulndb.Installed) {
	if in == nil {
		fmt.Fprintln(w, "built here from the feeds below (vigil db update or import)")
		return
	}
	fmt.Fprintf(w, "pulled from %s (manifest %s) at %s, %d partitions\n", in.Reference, in.Manifest, in.Pulled, len(in.Partitions))
}

// scanPullDatabase brings the database up to date from --db-repository
// before a scan, with $VIGIL_TOKEN for the registry of $VIGIL_SERVER and
// the Docker config's credentials elsewhere; --username and --password
// are the image registry's, and are not sent to another.
func (a *app) scanPullDatabase(ctx context.Context, dir *vulndb.Dir, f *scanFlags) error {
	s := &dbSource{insecure: f.src.insecure}
	p, err := a.pullDatabase(ctx, dir, f.dbRepository, s)
	if err != nil {
		return err
	}
	if !p.Unchanged {
		a.log.Info("vulnerability database pulled", "reference", p.Reference, "version", p.Version, "partitions", p.Fetched, "bytes", p.Bytes)
	}
	return nil
}
