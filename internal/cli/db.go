package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/vulndb"
)

func (a *app) dbCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the local vulnerability database",
		Long: "Vigil keeps the vulnerability feeds it downloads, and a database built from them, in\n" +
			"--db-dir (default: the cache directory + /db). `db update` downloads every feed from\n" +
			"upstream; `db import` reads local copies for sites without network access; `db pull`\n" +
			"fetches the database a Vigil server publishes in its registry (vigil/db), or a mirror's copy.",
	}
	cmd.PersistentFlags().String("db-dir", "", "directory of the vulnerability database (default CACHE-DIR/db)")
	cmd.AddCommand(a.dbUpdateCmd(), a.dbImportCmd(), a.dbStatusCmd(), a.dbPullCmd())
	return cmd
}

// dbDir opens the database directory, honouring --db-dir.
func (a *app) dbDir(cmd *cobra.Command) (*vulndb.Dir, error) {
	dir := a.cfg.DBDir()
	if f := cmd.Flags().Lookup("db-dir"); f != nil && f.Changed {
		dir = f.Value.String()
	}
	return vulndb.NewDir(dir)
}

func (a *app) dbUpdateCmd() *cobra.Command {
	var only []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download every feed and rebuild the database",
		Long: "Download every configured feed (OSV per ecosystem, Alpine secdb, the Debian security\n" +
			"tracker, EPSS, CISA KEV, and NVD when configured) with conditional requests, verify\n" +
			"each, and rebuild the database. If any feed fails to download or verify, nothing\n" +
			"changes: the previous database stays in place.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.dbDir(cmd)
			if err != nil {
				return err
			}
			sources := a.cfg.DB.Upstream.Sources()
			if len(only) > 0 {
				sources = filterSources(sources, only)
				if len(sources) == 0 {
					return usageError{fmt.Errorf("--only %s matches no configured feed", strings.Join(only, ","))}
				}
			}
			prog := newFetchProgress(a.env.Err, a.env.IsTerminal)
			rep, err := dir.Update(cmd.Context(), sources, vulndb.UpdateOptions{
				Client:    &http.Client{Timeout: 30 * time.Minute},
				UserAgent: "vigil/" + Version(),
				NVDAPIKey: a.cfg.DB.NVDAPIKey,
				Progress:  prog.report,
			})
			prog.done()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.env.Out, rep)
			}
			fmt.Fprintf(a.env.Out, "updated %s: %d feeds downloaded, %d unchanged; %d advisories (%d withdrawn left out) in %s\n",
				dir.DatabasePath(), len(rep.Fetched), len(rep.Unchanged), rep.Build.Advisories, rep.Build.Withdrawn, rep.Build.Duration.Round(time.Millisecond))
			printRecordErrors(a.env.Err, rep.Build)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&only, "only", nil, "update only the feeds whose names start with these prefixes (e.g. osv/Go,epss)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func filterSources(all []vulndb.Source, prefixes []string) []vulndb.Source {
	var out []vulndb.Source
	for _, s := range all {
		for _, p := range prefixes {
			if strings.HasPrefix(s.Name, p) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func (a *app) dbImportCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import FILE|DIR...",
		Short: "Import feed files from local copies (air-gapped sites)",
		Long: "Import vulnerability feeds from local files or directories (searched recursively) and\n" +
			"rebuild the database. Each file's kind is recognised from its content: osv.dev all.zip\n" +
			"files or directories of OSV records, Alpine secdb JSON, the Debian tracker's DSA/DLA\n" +
			"lists and JSON, NVD API 2.0 pages, EPSS CSV (gzipped or not) and the CISA KEV catalog.\n" +
			"Feeds already present and not imported again are kept.",
		Example: "  vigil db import ./mirror/osv/Go/all.zip ./mirror/kev/known_exploited_vulnerabilities.json\n" +
			"  vigil db import ./mirror",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("db import needs at least one FILE or DIR")}
			}
			dir, err := a.dbDir(cmd)
			if err != nil {
				return err
			}
			rep, err := dir.Import(cmd.Context(), args, time.Now())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.env.Out, rep)
			}
			fmt.Fprintf(a.env.Out, "imported %d feeds into %s: %d advisories (%d withdrawn left out) in %s\n",
				len(rep.Imported), dir.DatabasePath(), rep.Build.Advisories, rep.Build.Withdrawn, rep.Build.Duration.Round(time.Millisecond))
			for _, w := range rep.Warnings {
				fmt.Fprintf(a.env.Err, "warning: %s\n", w)
			}
			printRecordErrors(a.env.Err, rep.Build)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printRecordErrors(w io.Writer, b *vulndb.BuildReport) {
	if len(b.Errors) == 0 {
		return
	}
	fmt.Fprintf(w, "%d records had problems (malformed ones were skipped):\n", len(b.Errors))
	for i, e := range b.Errors {
		if i == 20 {
			fmt.Fprintf(w, "  … %d more (see --json)\n", len(b.Errors)-20)
			break
		}
		fmt.Fprintf(w, "  %s\n", e)
	}
}

func (a *app) dbStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each feed in the database, its record count and the age of its data",
		Long: "List the feeds the database was built from. DATA AS OF is the age of each feed's data,\n" +
			"not of its download: the feed's own date (EPSS score_date, KEV dateReleased, an NVD\n" +
			"page's timestamp), else its newest record (OSV modified, a DSA's or DLA's date), else the\n" +
			"newest entry time of its zip or the server's Last-Modified, else \"unknown\". FETCHED is\n" +
			"when the file was downloaded or imported. The version names the database in reports and\n" +
			"gate decisions: its build time and the first digits of the SHA-256 of its content.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.dbDir(cmd)
			if err != nil {
				return err
			}
			db, err := vulndb.Open(cmd.Context(), dir.DatabasePath())
			if err != nil {
				return err
			}
			defer db.Close()
			sources, err := db.Sources(cmd.Context())
			if err != nil {
				return err
			}
			installed, err := db.Installed(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			if asJSON {
				return writeJSON(a.env.Out, map[string]any{"path": db.Path(), "built": db.Built(), "version": db.Version(), "digest": db.Digest(), "sources": sources,
					"origin": origin(installed)})
			}
			fmt.Fprintf(a.env.Out, "%s, built %s (%s ago)\nversion %s", db.Path(), db.Built().Format(time.RFC3339), age(now.Sub(db.Built())), db.Version())
			if db.Digest() != "" {
				fmt.Fprintf(a.env.Out, ", content %s", db.Digest())
			}
			fmt.Fprint(a.env.Out, "\n")
			printOrigin(a.env.Out, installed)
			fmt.Fprint(a.env.Out, "\n")
			tw := tabwriter.NewWriter(a.env.Out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FEED\tKIND\tRECORDS\tFETCHED\tDATA AS OF\tFROM\tPROBLEMS")
			for _, s := range sources {
				asOf, from := "unknown", "no date in the data or its file"
				if d, ok := s.DataAge(now); ok {
					asOf, from = s.Updated.Format("2006-01-02")+" ("+age(d)+")", s.UpdatedFrom
				}
				problems := ""
				if s.Errors > 0 {
					problems = fmt.Sprintf("%d skipped", s.Errors)
				}
				if s.Warnings > 0 {
					problems = strings.TrimPrefix(problems+fmt.Sprintf(", %d warnings", s.Warnings), ", ")
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s ago\t%s\t%s\t%s\n", s.Name, s.Kind, s.Records, age(now.Sub(s.Fetched)), asOf, from, problems)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

// age renders a duration the way people read ages: "3d", "5h", "12m".
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "<1m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// fetchProgress shows downloads on a terminal, one line per feed as it
// completes; elsewhere it is silent.
type fetchProgress struct {
	w  io.Writer
	on bool
	mu sync.Mutex
}

func newFetchProgress(w io.Writer, terminal bool) *fetchProgress {
	return &fetchProgress{w: w, on: terminal}
}

func (p *fetchProgress) report(ev vulndb.FetchProgress) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case ev.NotModified:
		fmt.Fprintf(p.w, "\r\033[K%s: not modified\n", ev.Source)
	case ev.Done:
		fmt.Fprintf(p.w, "\r\033[K%s: %s\n", ev.Source, mib(ev.Bytes))
	default:
		total := "?"
		if ev.Total > 0 {
			total = mib(ev.Total)
		}
		fmt.Fprintf(p.w, "\r\033[K%s: %s / %s", ev.Source, mib(ev.Bytes), total)
	}
}

func (p *fetchProgress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
