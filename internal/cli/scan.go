package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/match"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/sbom"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/vuln"
	"github.com/vigilsec/vigil/internal/vulndb"
)

// Exit codes of `vigil scan` beyond the common ones.
const (
	// ExitVulnerable: findings at or above --fail-on, or more than a
	// --max-* threshold allows.
	ExitVulnerable = 3
	// ExitStaleDB: the vulnerability database is missing, or, with
	// --fail-on-stale-db, the data of a feed the scan relied on is older
	// than --db-max-age or of unknown age.
	ExitStaleDB = 4
	// ExitPartialCoverage: a threshold was given and no finding crossed
	// it, but the image is not fully covered (a release or ecosystem
	// without advisories, a wanted file not read), without
	// --allow-partial-coverage. 5 is `vigil gate wait`'s timeout.
	ExitPartialCoverage = 6
)

type scanFlags struct {
	src            sourceFlags
	dbRepository   string
	format, output string
	severities     []string
	ignoreUnfixed  bool
	reachableOnly  bool
	ignoreFile     string
	vex            []string
	failOn         string
	maxCritical    int
	maxHigh        int
	maxMedium      int
	maxLow         int
	dbMaxAge       time.Duration
	failOnStaleDB  bool
	allowPartial   bool
	exitCode       int
	baseline       baselineFlags
	client         clientFlags
}

var reportFormats = map[string]func(io.Writer, *scan.Report, report.Options) error{
	"table":              report.WriteTable,
	"json":               report.WriteJSON,
	"inspector":          report.WriteInspector,
	"inspector-coverage": report.WriteInspectorCoverage,
	"sarif":              report.WriteSARIF,
	"cyclonedx":          report.WriteCycloneDX,
	"openvex":            report.WriteOpenVEX,
}

func (a *app) scanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan SOURCE",
		Short: "Find the known vulnerabilities of an image or SBOM",
		Long: "Inventory an image, match every package against the local vulnerability database\n" +
			"(see `vigil db`), score each finding and report it. With --server URL (client mode) the\n" +
			"inventory is matched and scored by that Vigil server, with its database and suppression\n" +
			"rules: no local database is needed.\n\n" + sourceHelp + "\n" +
			"  sbom:FILE                a CycloneDX or SPDX JSON SBOM\n\n" + pathHelp + "\n\n" +
			"Exit status: 0 when the scan ran and no threshold was crossed; 1 on errors; 2 on a\n" +
			"bad command line; 3 when findings are at or above --fail-on or exceed a --max-*\n" +
			"threshold; 4 when the vulnerability database is missing, or with --fail-on-stale-db when\n" +
			"the data of a feed the scan relied on (its ecosystems' feeds, EPSS, KEV, NVD) is older than\n" +
			"--db-max-age; the error names the feed; 6 when a threshold is given, none is crossed, but\n" +
			"the image is not fully covered (see Coverage in the report) and --allow-partial-coverage\n" +
			"is not set.\n\n" + exitCodeHelp,
		Example: "  vigil scan oci:./images/app:latest\n" +
			"  vigil scan ./app.tar --severity HIGH,CRITICAL --exit-code 1   # a docker save tarball; .trivyignore and .grype.yaml apply\n" +
			"  vigil scan registry.local:5000/team/app:1.4 --insecure --fail-on high\n" +
			"  vigil scan sbom:app.cdx.json --format sarif --output app.sarif\n" +
			"  vigil scan oci:./app --ignorefile .vigilignore.yaml --vex app.openvex.json --max-critical 0 --max-high 5\n" +
			"  VIGIL_TOKEN=… vigil scan app.tar --server https://vigil.example:5000 --repository team/app --fail-on high",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runScan(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	f.src.register(fl)
	f.client.register(fl)
	fl.StringVarP(&f.format, "format", "f", "table", "output format: table, json, inspector (Amazon Inspector findings), inspector-coverage (the image's Inspector coverage), sarif, cyclonedx, openvex")
	fl.StringVarP(&f.output, "output", "o", "", "write to this file instead of standard output")
	fl.StringSliceVar(&f.severities, "severity", nil, "show only findings of these severities (CRITICAL,HIGH,MEDIUM,LOW,INFORMATIONAL,UNTRIAGED)")
	fl.BoolVar(&f.ignoreUnfixed, "ignore-unfixed", false, "leave out findings that have no fix")
	fl.BoolVar(&f.reachableOnly, "reachable-only", false, "list findings whose vulnerable code is not in the image (Go binaries) as ignored: VEX not_affected, vulnerable_code_not_present")
	fl.StringVar(&f.ignoreFile, "ignorefile", "", "file of findings to ignore: Vigil's YAML (ids, packages, paths; each with a reason and an optional expiry), Trivy's .trivyignore or .trivyignore.yaml, or a Grype configuration's ignore rules (default: .trivyignore and .grype.yaml in the working directory)")
	fl.StringSliceVar(&f.vex, "vex", nil, "OpenVEX documents whose not_affected and fixed statements silence findings")
	fl.StringVar(&f.failOn, "fail-on", "", "exit with status 3 if a finding is of this severity or higher")
	fl.IntVar(&f.maxCritical, "max-critical", -1, "exit with status 3 if there are more CRITICAL findings than this")
	fl.IntVar(&f.maxHigh, "max-high", -1, "exit with status 3 if there are more HIGH findings than this")
	fl.IntVar(&f.maxMedium, "max-medium", -1, "exit with status 3 if there are more MEDIUM findings than this")
	fl.IntVar(&f.maxLow, "max-low", -1, "exit with status 3 if there are more LOW findings than this")
	fl.DurationVar(&f.dbMaxAge, "db-max-age", 0, "warn when the data of a feed the scan relied on is older than this (default from the config: 168h)")
	fl.BoolVar(&f.failOnStaleDB, "fail-on-stale-db", false, "fail (exit status 4) when the data of a feed the scan relied on is older than --db-max-age")
	fl.BoolVar(&f.allowPartial, "allow-partial-coverage", false, "with a threshold, pass an image that is not fully covered (by default exit status 6)")
	fl.String("db-dir", "", "directory of the vulnerability database (default CACHE-DIR/db)")
	f.baseline.register(fl)
	fl.StringVar(&f.dbRepository, "db-repository", "", "first pull the database from this registry reference (e.g. HOST/vigil/db:latest; see `vigil db pull`)")
	registerExitCode(fl, &f.exitCode)
	return cmd
}

func (a *app) runScan(cmd *cobra.Command, ref string, f *scanFlags) error {
	ctx := cmd.Context()
	write, ok := reportFormats[f.format]
	if !ok {
		return usageError{fmt.Errorf("unknown --format %q: use table, json, inspector, inspector-coverage, sarif, cyclonedx or openvex", f.format)}
	}
	if err := checkExitCodeFlag(f.exitCode); err != nil {
		return err
	}
	filter := scan.Filter{IgnoreUnfixed: f.ignoreUnfixed, ReachableOnly: f.reachableOnly, Now: time.Now()}
	for _, s := range f.severities {
		sev, err := scan.ParseSeverity(s)
		if err != nil {
			return usageError{fmt.Errorf("--severity: %w", err)}
		}
		filter.Severities = append(filter.Severities, sev)
	}
	th := scan.Thresholds{Max: map[string]int{}}
	if f.failOn != "" {
		sev, err := scan.ParseSeverity(f.failOn)
		if err != nil {
			return usageError{fmt.Errorf("--fail-on: %w", err)}
		}
		th.FailOn = sev
	}
	for sev, n := range map[string]int{"CRITICAL": f.maxCritical, "HIGH": f.maxHigh, "MEDIUM": f.maxMedium, "LOW": f.maxLow} {
		if n >= 0 {
			th.Max[sev] = n
		}
	}
	ig, err := a.ignoreRules(f.ignoreFile)
	if err != nil {
		return err
	}
	filter.Ignore = ig
	if len(f.vex) > 0 {
		v, err := scan.ReadVEX(f.vex...)
		if err != nil {
			return err
		}
		filter.VEX = v
	}

	base, err := f.baseline.read()
	if err != nil {
		return err
	}
	// With --server the server matches and scores (client.go).
	scanReport := a.localReport
	if f.client.server != "" {
		scanReport = a.clientReport
	}
	rep, err := scanReport(ctx, cmd, ref, f)
	if err != nil {
		return err
	}
	if base != nil {
		scan.CompareBaseline(rep, base)
	}
	filter.Apply(rep)

	err = writeOutput(a.env.Out, f.output, func(w io.Writer) error {
		return write(w, rep, report.Options{
			Tool: "vigil", Version: Version(), Now: rep.Time,
			Color: f.output == "" && a.env.IsTerminal && a.env.Getenv("NO_COLOR") == "",
		})
	})
	if err != nil {
		return err
	}
	if !rep.Coverage.Full {
		a.log.Warn("the image is not fully covered: what was not assessed may be vulnerable", "reason", rep.Coverage.Reason, "gaps", rep.Coverage.Summary(0))
	}
	if v := th.Violations(f.baseline.counted(rep.Findings)); len(v) > 0 {
		return withCode(ExitVulnerable, errors.New(strings.Join(v, "; ")))
	}
	if err := exitCodeViolation(f.exitCode, filter.Severities, f.baseline.counted(rep.Findings)); err != nil {
		return err
	}
	if (th.Set() || f.exitCode != 0) && !rep.Coverage.Full && !f.allowPartial {
		return withCode(ExitPartialCoverage, fmt.Errorf("coverage is partial (%s): %s; what was not assessed may be vulnerable (--allow-partial-coverage to pass it)",
			rep.Coverage.Reason, rep.Coverage.Summary(0)))
	}
	return nil
}

// localReport inventories the source and matches and scores it with the
// local vulnerability database.
func (a *app) localReport(ctx context.Context, cmd *cobra.Command, ref string, f *scanFlags) (*scan.Report, error) {
	db, err := a.openDB(ctx, cmd, f)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	rep, err := a.inventory(ctx, cmd, ref, &f.src)
	if err != nil {
		return nil, err
	}
	rep.Database = &scan.Database{Path: db.Path(), Built: db.Built(), Version: db.Version(), Digest: db.Digest()}
	looked := &ecosystemRecorder{Advisories: db, seen: map[string]bool{}}
	matched, err := match.Match(ctx, looked, &inventory.Inventory{Distro: rep.Distro, Packages: rep.Packages})
	if err != nil {
		return nil, err
	}
	if err := a.checkDataAge(ctx, db, rep.Database, looked.ecosystems(), f); err != nil {
		return nil, err
	}
	rep.Skipped = matched.Skipped
	if err := scan.Assess(ctx, db, rep); err != nil {
		return nil, err
	}
	if rep.Findings, err = scan.Score(ctx, db, matched.Findings); err != nil {
		return nil, err
	}
	return rep, nil
}

// openDB opens the vulnerability database and checks its age.
func (a *app) openDB(ctx context.Context, cmd *cobra.Command, f *scanFlags) (*vulndb.DB, error) {
	dir := a.cfg.DBDir()
	if fl := cmd.Flags().Lookup("db-dir"); fl != nil && fl.Changed {
		dir = fl.Value.String()
	}
	d, err := vulndb.NewDir(dir)
	if err != nil {
		return nil, err
	}
	if f.dbRepository != "" {
		if err := a.scanPullDatabase(ctx, d, f); err != nil {
			return nil, err
		}
	}
	db, err := vulndb.Open(ctx, d.DatabasePath())
	if errors.Is(err, vulndb.ErrNoDatabase) {
		return nil, withCode(ExitStaleDB, err)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

// ecosystemRecorder notes the ecosystems the matcher looked advisories up
// in, so that the scan knows which feeds it relied on.
type ecosystemRecorder struct {
	match.Advisories
	seen map[string]bool
}

func (r *ecosystemRecorder) Affecting(ctx context.Context, ecosystem, name string) ([]*vuln.Advisory, error) {
	r.seen[ecosystem] = true
	return r.Advisories.Affecting(ctx, ecosystem, name)
}

func (r *ecosystemRecorder) ecosystems() []string {
	var out []string
	for e := range r.seen {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// checkDataAge records in rep the feeds the scan relied on and judges
// the oldest of them by --db-max-age: its data's age, not the database's
// build time, since a database built today from an old mirror is old.
func (a *app) checkDataAge(ctx context.Context, db *vulndb.DB, rep *scan.Database, ecosystems []string, f *scanFlags) error {
	sources, err := db.Sources(ctx)
	if err != nil {
		return err
	}
	relied := vulndb.ReliedOn(sources, ecosystems)
	for _, s := range relied {
		rep.Feeds = append(rep.Feeds, scan.Feed{Name: s.Name, DataAsOf: s.Updated, From: s.UpdatedFrom})
	}
	maxAge := f.dbMaxAge
	if maxAge == 0 {
		maxAge = a.cfg.DB.MaxAge
	}
	if maxAge <= 0 {
		return nil
	}
	oldest, unknown, ok := vulndb.Oldest(relied)
	if ok {
		if old := time.Since(oldest.Updated); old > maxAge {
			msg := fmt.Sprintf("the oldest vulnerability data this scan relied on, feed %s, is from %s (%s), %s old, more than the %s allowed (run `vigil db update`)",
				oldest.Name, oldest.Updated.UTC().Format("2006-01-02"), oldest.UpdatedFrom, age(old), maxAge)
			if f.failOnStaleDB {
				return withCode(ExitStaleDB, errors.New(msg))
			}
			a.log.Warn(msg, "db", db.Path())
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	var names []string
	for _, s := range unknown {
		names = append(names, s.Name)
	}
	// Data of unknown age cannot be shown to be fresh: a refusal when
	// asked to refuse stale data, a warning otherwise.
	msg := fmt.Sprintf("the age of the data of %s, relied on by this scan, is unknown (no date in the data or its file), so it cannot be shown to be within the %s allowed",
		strings.Join(names, ", "), maxAge)
	if f.failOnStaleDB {
		return withCode(ExitStaleDB, errors.New(msg))
	}
	a.log.Warn(msg, "db", db.Path())
	return nil
}

// inventory makes the report's subject, distribution and packages from
// an image, or from an SBOM with the sbom: prefix.
func (a *app) inventory(ctx context.Context, cmd *cobra.Command, ref string, src *sourceFlags) (*scan.Report, error) {
	rep := &scan.Report{Time: time.Now().UTC()}
	ref, err := resolveSource(ref, true)
	if err != nil {
		return nil, err
	}
	if name, ok := strings.CutPrefix(ref, "sbom:"); ok {
		fh, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		subj, inv, err := sbom.Decode(fh)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rep.Subject = scan.Subject{Name: subj.Name, Digest: subj.Digest, Platform: subj.Platform, RepoTags: subj.RepoTags, Layers: subj.Layers}
		if rep.Subject.Name == "" {
			rep.Subject.Name = ref
		}
		rep.Distro, rep.Packages = inv.Distro, inv.Packages
		return rep, nil
	}
	img, res, err := a.analyzeSource(ctx, cmd, ref, src)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	rep.Subject = scan.Subject{Name: img.Name, Digest: img.Digest, Platform: img.Platform, RepoTags: img.RepoTags, RepoDigests: img.RepoDigests}
	if img.Config != nil {
		rep.Subject.Created = img.Config.Created.Time
	}
	for _, l := range img.Layers {
		rep.Subject.Layers = append(rep.Subject.Layers, inventory.LayerRef{Index: l.Index, DiffID: l.DiffID, Digest: l.Digest})
	}
	rep.Distro, rep.Packages, rep.Warnings = res.Inventory.Distro, res.Inventory.Packages, res.Warnings
	return rep, nil
}
