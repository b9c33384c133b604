package cli

// Client mode: `vigil scan --server URL SOURCE` inventories the source
// here and has the server match, score, judge coverage and apply its
// suppression rules (POST /api/v1/scan/inventory), so that a runner needs
// no vulnerability database. The report comes back whole and goes
// through the same filters, formats and exit statuses as a local scan's.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// clientFlags say which server scans, as whom, and for which repository.
type clientFlags struct {
	server, token, tokenFile string
	repository               string
}

func (c *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.server, "server", "", "have this Vigil server match and score the inventory (client mode: no local database; token from --token, --token-file or $VIGIL_TOKEN)")
	fs.StringVar(&c.token, "token", "", "with --server: API token of a pipeline or admin (default $VIGIL_TOKEN; prefer --token-file or the variable)")
	fs.StringVar(&c.tokenFile, "token-file", "", "with --server: read the API token from this file")
	fs.StringVar(&c.repository, "repository", "", "with --server: the repository whose suppression rules apply (default: the registry reference's repository)")
}

// clientReport inventories the source locally and has the server scan
// the inventory; the data age of the feeds the server relied on is judged
// here, by --db-max-age and --fail-on-stale-db, as a local scan judges
// its own.
func (a *app) clientReport(ctx context.Context, cmd *cobra.Command, ref string, f *scanFlags) (*scan.Report, error) {
	if fl := cmd.Flags().Lookup("db-dir"); fl != nil && fl.Changed {
		return nil, usageError{errors.New("--db-dir and --server: with --server the server's database is used")}
	}
	c, err := a.client(&remoteFlags{server: f.client.server, token: f.client.token, tokenFile: f.client.tokenFile})
	if err != nil {
		return nil, err
	}
	inv, err := a.inventory(ctx, cmd, ref, &f.src)
	if err != nil {
		return nil, err
	}
	repo := f.client.repository
	if repo == "" {
		repo = repositoryOf(ref)
	}
	body, err := c.ScanInventory(ctx, &scan.Inventory{Repository: repo, Subject: inv.Subject, Distro: inv.Distro, Packages: inv.Packages, Warnings: inv.Warnings})
	var apiErr *apiclient.Error
	if errors.As(err, &apiErr) && apiErr.Code == "NO_DATABASE" {
		return nil, withCode(ExitStaleDB, fmt.Errorf("%s: %w", f.client.server, err))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.client.server, err)
	}
	rep, err := scan.DecodeWire(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.client.server, err)
	}
	// The report's time is the scan's, as the runner saw it.
	rep.Time = inv.Time
	if rep.Database == nil {
		return nil, fmt.Errorf("%s: the server's report names no database", f.client.server)
	}
	rep.Database.Path = f.client.server
	if err := a.judgeFeeds(rep.Database, f, f.client.server); err != nil {
		return nil, err
	}
	return rep, nil
}

// judgeFeeds judges the oldest of the feeds a scan relied on by
// --db-max-age, as checkDataAge does for a local database.
func (a *app) judgeFeeds(db *scan.Database, f *scanFlags, where string) error {
	maxAge := f.dbMaxAge
	if maxAge == 0 {
		maxAge = a.cfg.DB.MaxAge
	}
	if maxAge <= 0 {
		return nil
	}
	var (
		oldest  scan.Feed
		ok      bool
		unknown []string
	)
	for _, fd := range db.Feeds {
		switch {
		case !vulndb.Dated(fd.DataAsOf):
			unknown = append(unknown, fd.Name)
		case !ok || fd.DataAsOf.Before(oldest.DataAsOf):
			oldest, ok = fd, true
		}
	}
	if ok {
		if old := time.Since(oldest.DataAsOf); old > maxAge {
			msg := fmt.Sprintf("the oldest vulnerability data this scan relied on, feed %s, is from %s (%s), %s old, more than the %s allowed (run `vigil db update` on the server)",
				oldest.Name, oldest.DataAsOf.UTC().Format("2006-01-02"), oldest.From, age(old), maxAge)
			if f.failOnStaleDB {
				return withCode(ExitStaleDB, errors.New(msg))
			}
			a.log.Warn(msg, "server", where)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	msg := fmt.Sprintf("the age of the data of %s, relied on by this scan, is unknown (no date in the data or its file), so it cannot be shown to be within the %s allowed",
		strings.Join(unknown, ", "), maxAge)
	if f.failOnStaleDB {
		return withCode(ExitStaleDB, errors.New(msg))
	}
	a.log.Warn(msg, "server", where)
	return nil
}

// repositoryOf is the repository of a registry reference
// ("registry.example/team/app:1.4" → "team/app"), or "" for other
// sources.
func repositoryOf(ref string) string {
	ref = strings.TrimPrefix(ref, "registry:")
	for _, p := range []string{"oci:", "archive:", "dir:", "rootfs:", "sbom:"} {
		if strings.HasPrefix(ref, p) {
			return ""
		}
	}
	if _, err := os.Stat(ref); err == nil {
		return ""
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	return r.Context().RepositoryStr()
}
