package cli

// The commands in this file talk to a running `vigil serve` through its
// API (package apiclient): images, findings, suppression rules, events
// and tokens.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/events"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/store"
)

// remoteFlags say which server to talk to, as whom, and how to print.
type remoteFlags struct {
	server, token, tokenFile string
	json                     bool
}

func (f *remoteFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.server, "server", "", "Vigil server URL (default $VIGIL_SERVER, then http://localhost:5000)")
	fs.StringVar(&f.token, "token", "", "API token (default $VIGIL_TOKEN; prefer --token-file or the variable: arguments are visible to other users)")
	fs.StringVar(&f.tokenFile, "token-file", "", "read the API token from this file")
	fs.BoolVar(&f.json, "json", false, "print JSON (the API's answers) instead of a table")
}

// maxTokenFile bounds what is read as a token.
const maxTokenFile = 4096

// client makes the API client from the flags, then the environment.
func (a *app) client(f *remoteFlags) (*apiclient.Client, error) {
	server, token, err := a.serverToken(f)
	if err != nil {
		return nil, err
	}
	c, err := apiclient.New(server, token, nil)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// serverToken is the server's URL and the token, from the flags, then the
// environment.
func (a *app) serverToken(f *remoteFlags) (server, token string, err error) {
	server = f.server
	if server == "" {
		server = a.env.Getenv("VIGIL_SERVER")
	}
	if server == "" {
		server = "http://localhost:5000"
	}
	token = f.token
	switch {
	case f.token != "" && f.tokenFile != "":
		return "", "", usageError{errors.New("give --token or --token-file, not both")}
	case f.tokenFile != "":
		file, err := os.Open(f.tokenFile)
		if err != nil {
			return "", "", fmt.Errorf("token file: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(file, maxTokenFile+1))
		file.Close()
		if err != nil {
			return "", "", fmt.Errorf("token file: %w", err)
		}
		if len(data) > maxTokenFile {
			return "", "", fmt.Errorf("token file %s is larger than %d bytes: not a token", f.tokenFile, maxTokenFile)
		}
		token = strings.TrimSpace(string(data))
	case token == "":
		token = a.env.Getenv("VIGIL_TOKEN")
	}
	return server, token, nil
}

// remoteGroup makes a command group whose subcommands share the remote
// flags.
func remoteGroup(use, short string, f *remoteFlags, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: exactArgs(0), RunE: func(cmd *cobra.Command, _ []string) error {
		return usageError{fmt.Errorf("%s needs a subcommand\n%s", cmd.Name(), cmd.UsageString())}
	}}
	f.register(cmd.PersistentFlags())
	cmd.AddCommand(subs...)
	return cmd
}

// remoteCmds are the commands that talk to a running server.
func (a *app) remoteCmds() []*cobra.Command {
	return []*cobra.Command{a.imagesCmd(), a.findingsCmd(), a.suppressionsCmd(), a.eventsCmd(), a.tokensCmd(),
		a.rulesCmd(), a.deliveriesCmd(), a.gateCmd(), a.repositoriesCmd()}
}

// out prints v as JSON with --json, else calls table with a tab writer.
func (a *app) out(f *remoteFlags, v any, table func(w io.Writer)) error {
	if f.json {
		return writeJSON(a.env.Out, v)
	}
	tw := tabwriter.NewWriter(a.env.Out, 2, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// more tells, on stderr, that --limit cut a listing short.
func (a *app) more(next, what string) {
	if next != "" {
		fmt.Fprintf(a.env.Err, "(more %s: raise --limit, or use --limit 0 for all)\n", what)
	}
}

// pageSize is the page to ask for when limit items are wanted in all
// (0: no limit) and have items already.
func pageSize(limit, have int) int {
	if limit <= 0 || limit-have > 1000 {
		return 1000
	}
	return limit - have
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return hex[:12]
	}
	return d
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func (a *app) imagesCmd() *cobra.Command {
	var (
		f                       remoteFlags
		repository, tag, status string
		limit                   int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List images, newest push first, with their scan status and finding counts",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			page := apiclient.ImagePage{Images: []store.Image{}}
			q := apiclient.ImageQuery{Repository: repository, Tag: tag, ScanStatus: strings.ToUpper(status)}
			for {
				q.MaxResults = pageSize(limit, len(page.Images))
				p, err := c.Images(cmd.Context(), q)
				if err != nil {
					return err
				}
				page.Images = append(page.Images, p.Images...)
				page.NextToken, q.NextToken = p.NextToken, p.NextToken
				if p.NextToken == "" || (limit > 0 && len(page.Images) >= limit) {
					break
				}
			}
			a.more(page.NextToken, "images")
			return a.out(&f, page, func(w io.Writer) {
				fmt.Fprintln(w, "REPOSITORY\tTAGS\tDIGEST\tSTATUS\tCRITICAL\tHIGH\tMEDIUM\tLOW\tUNTRIAGED\tTOTAL\tPUSHED\tREASON")
				for _, im := range page.Images {
					tags := strings.Join(im.Tags, ",")
					if tags == "" {
						tags = "-"
					}
					n := im.Counts
					counts := fmt.Sprintf("%d\t%d\t%d\t%d\t%d\t%d", n.Critical, n.High, n.Medium, n.Low, n.Untriaged, n.Total)
					if im.ScanStatus != store.ScanComplete {
						// No completed scan: no counts, rather than
						// zeros that read as "clean".
						counts = "-\t-\t-\t-\t-\t-"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", im.Repository, tags, shortDigest(im.Digest), im.ScanStatus, counts, when(im.PushedAt), scanWhy(im))
				}
			})
		},
	}
	list.Flags().StringVar(&repository, "repository", "", "only this repository")
	list.Flags().StringVar(&tag, "tag", "", "only images with this tag")
	list.Flags().StringVar(&status, "status", "", "only images with this scan status (PENDING, SCANNING, COMPLETE, FAILED, UNSUPPORTED, INACTIVE)")
	list.Flags().IntVar(&limit, "limit", 1000, "show at most this many (0: all)")
	var rsRepo, rsDigest string
	rescan := &cobra.Command{
		Use:   "rescan [--repository R [--digest D]]",
		Short: "Re-evaluate stored images against the current database (a failed scan is scanned again)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rsDigest != "" && rsRepo == "" {
				return usageError{errors.New("--digest needs --repository")}
			}
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			added, err := c.Rescan(cmd.Context(), rsRepo, rsDigest)
			if err != nil {
				return err
			}
			if added {
				fmt.Fprintln(a.env.Err, "re-evaluation queued")
			} else {
				fmt.Fprintln(a.env.Err, "a re-evaluation of the same images is queued already")
			}
			return nil
		},
	}
	rescan.Flags().StringVar(&rsRepo, "repository", "", "only this repository (default: every image)")
	rescan.Flags().StringVar(&rsDigest, "digest", "", "only this image of the repository")
	return remoteGroup("images", "Images stored in a Vigil server", &f, a.withOutput(list), rescan)
}

func (a *app) repositoriesCmd() *cobra.Command {
	var f remoteFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List repositories with their image counts and rescan durations",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			rs, err := c.Repositories(cmd.Context())
			if err != nil {
				return err
			}
			if rs == nil {
				rs = []store.Repository{}
			}
			return a.out(&f, map[string]any{"repositories": rs}, func(w io.Writer) {
				fmt.Fprintln(w, "REPOSITORY	IMAGES	RESCAN DURATION	COUNTED FROM	CREATED")
				for _, r := range rs {
					fmt.Fprintf(w, "%s	%d	%s	%s	%s\n", r.Name, r.Images, r.RescanDuration, r.RescanBasis, when(r.CreatedAt))
				}
			})
		},
	}
	var duration, basis string
	set := &cobra.Command{
		Use:   "set REPOSITORY --rescan-duration LIFETIME|DAYS_14|DAYS_30|DAYS_60|DAYS_90|DAYS_180 [--basis PUSH|PULL]",
		Short: "Set how long a repository's images are re-evaluated after their push or last pull",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if duration == "" {
				return usageError{errors.New("--rescan-duration is required")}
			}
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			r, err := c.SetRescanDuration(cmd.Context(), args[0], strings.ToUpper(duration), strings.ToUpper(basis))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Err, "%s: rescan duration %s counted from %s\n", r.Name, r.RescanDuration, r.RescanBasis)
			return nil
		},
	}
	set.Flags().StringVar(&duration, "rescan-duration", "", "LIFETIME, or DAYS_14, DAYS_30, DAYS_60, DAYS_90, DAYS_180")
	set.Flags().StringVar(&basis, "basis", "", "PUSH (default) or PULL: count from the push or from the last pull")
	return remoteGroup("repositories", "Repositories of a Vigil server: rescan durations and tag mutability", &f,
		append([]*cobra.Command{list, set}, a.tagMutabilityCmds(&f)...)...)
}

// filterFlags build Inspector filter criteria from the command line.
type filterFlags struct {
	repository, tag, digest, severity, vulnerability, pkg, status []string
	filterJSON                                                    string
}

func (ff *filterFlags) register(fs *pflag.FlagSet) {
	fs.StringSliceVar(&ff.repository, "repository", nil, "repository name; a trailing * matches a prefix (repeatable)")
	fs.StringSliceVar(&ff.tag, "tag", nil, "image tag (repeatable)")
	fs.StringSliceVar(&ff.digest, "digest", nil, "image digest (repeatable)")
	fs.StringSliceVar(&ff.severity, "severity", nil, "CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNTRIAGED (repeatable)")
	fs.StringSliceVar(&ff.vulnerability, "vulnerability", nil, "vulnerability id, e.g. CVE-2024-6119 or GO-* (repeatable)")
	fs.StringSliceVar(&ff.pkg, "package", nil, "vulnerable package name (repeatable)")
	fs.StringSliceVar(&ff.status, "status", nil, "finding status: ACTIVE, SUPPRESSED or CLOSED (repeatable)")
	fs.StringVar(&ff.filterJSON, "filter-json", "", "Inspector filterCriteria as JSON, or @FILE to read it from a file; the other filter flags add to it")
}

// maxFilterJSON bounds --filter-json (the API's own bound on a body).
const maxFilterJSON = 1 << 20

// criteria are the filter criteria the flags say: values of one flag OR
// together, flags AND together.
func (ff *filterFlags) criteria() (store.FilterCriteria, error) {
	var fc store.FilterCriteria
	if src := ff.filterJSON; src != "" {
		data := []byte(src)
		if name, ok := strings.CutPrefix(src, "@"); ok {
			file, err := os.Open(name)
			if err != nil {
				return fc, fmt.Errorf("--filter-json: %w", err)
			}
			data, err = io.ReadAll(io.LimitReader(file, maxFilterJSON+1))
			file.Close()
			if err != nil {
				return fc, fmt.Errorf("--filter-json: %w", err)
			}
			if len(data) > maxFilterJSON {
				return fc, usageError{fmt.Errorf("--filter-json: %s is larger than %d bytes", name, maxFilterJSON)}
			}
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fc); err != nil {
			return fc, usageError{fmt.Errorf("--filter-json: not Inspector filter criteria: %w", err)}
		}
		if dec.More() {
			return fc, usageError{errors.New("--filter-json: data after the JSON object")}
		}
	}
	add := func(flag string, dst *[]store.StringFilter, values []string, upper bool) error {
		for _, v := range values {
			if upper {
				v = strings.ToUpper(v)
			}
			f := store.StringFilter{Comparison: "EQUALS", Value: v}
			if p, ok := strings.CutSuffix(v, "*"); ok {
				f = store.StringFilter{Comparison: "PREFIX", Value: p}
			}
			if f.Value == "" {
				return usageError{fmt.Errorf("--%s: empty value", flag)}
			}
			*dst = append(*dst, f)
		}
		return nil
	}
	for _, s := range []struct {
		flag   string
		dst    *[]store.StringFilter
		values []string
		upper  bool
	}{
		{"repository", &fc.EcrImageRepositoryName, ff.repository, false},
		{"tag", &fc.EcrImageTags, ff.tag, false},
		{"digest", &fc.EcrImageHash, ff.digest, false},
		{"severity", &fc.Severity, ff.severity, true},
		{"vulnerability", &fc.VulnerabilityID, ff.vulnerability, false},
		{"status", &fc.FindingStatus, ff.status, true},
	} {
		if err := add(s.flag, s.dst, s.values, s.upper); err != nil {
			return fc, err
		}
	}
	var names []store.StringFilter
	if err := add("package", &names, ff.pkg, false); err != nil {
		return fc, err
	}
	for i := range names {
		fc.VulnerablePackages = append(fc.VulnerablePackages, store.PackageFilter{Name: &names[i]})
	}
	return fc, nil
}

func (a *app) findingsCmd() *cobra.Command {
	var f remoteFlags
	return remoteGroup("findings", "Findings of the images in a Vigil server", &f,
		a.withOutput(a.findingsListCmd(&f)), a.withOutput(a.findingsGetCmd(&f)), a.withOutput(a.findingsAggregateCmd(&f)), a.findingsSuppressCmd(&f))
}

func (a *app) findingsListCmd(f *remoteFlags) *cobra.Command {
	var (
		ff          filterFlags
		sort, order string
		limit       int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List findings, most severe first, selected by filters",
		Long: "List findings. Each filter flag may be repeated (or given comma-separated values), which\n" +
			"matches any of its values; different flags must all match. --filter-json takes Inspector's\n" +
			"filterCriteria for everything else (scores, dates, fix availability…).",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fc, err := ff.criteria()
			if err != nil {
				return err
			}
			c, err := a.client(f)
			if err != nil {
				return err
			}
			req := apiclient.FindingsRequest{FilterCriteria: &fc}
			if sort != "" || order != "" {
				req.SortCriteria = &apiclient.SortCriteria{Field: strings.ToUpper(sort), SortOrder: strings.ToUpper(order)}
			}
			page := apiclient.FindingPage{Findings: []report.InspectorFinding{}}
			for {
				req.MaxResults = pageSize(limit, len(page.Findings))
				p, err := c.ListFindings(cmd.Context(), req)
				if err != nil {
					return err
				}
				page.Findings = append(page.Findings, p.Findings...)
				page.NextToken, req.NextToken = p.NextToken, p.NextToken
				if p.NextToken == "" || (limit > 0 && len(page.Findings) >= limit) {
					break
				}
			}
			a.more(page.NextToken, "findings")
			return a.out(f, page, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tSEVERITY\tSCORE\tSTATUS\tVULNERABILITY\tPACKAGE\tVERSION\tFIXED IN\tIMAGE\tREACHABLE")
				for _, fd := range page.Findings {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", findingID(fd.FindingARN), fd.Severity, scoreText(fd.InspectorScore),
						fd.Status, fd.PackageVulnerabilityDetails.VulnerabilityID, pkgName(fd), pkgVersion(fd), fixedIn(fd), imageOf(fd), reachable(fd))
				}
			})
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().StringVar(&sort, "sort", "", "sort by SEVERITY (default), INSPECTOR_SCORE, EPSS_SCORE, FIRST_OBSERVED_AT, LAST_OBSERVED_AT, FINDING_STATUS, ECR_IMAGE_PUSHED_AT, ECR_IMAGE_REPOSITORY_NAME or VULNERABILITY_ID")
	cmd.Flags().StringVar(&order, "order", "", "ASC or DESC (default DESC)")
	cmd.Flags().IntVar(&limit, "limit", 1000, "show at most this many (0: all)")
	return cmd
}

// reachable is "no" for a finding whose vulnerable code analysis showed
// is not in the image (findings get says why), else "-" (not known).
func reachable(f report.InspectorFinding) string {
	if f.NotReachable != "" {
		return "no"
	}
	return "-"
}

func findingID(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func scoreText(s *float64) string {
	if s == nil {
		return "-"
	}
	return strconv.FormatFloat(*s, 'f', 1, 64)
}

func pkgName(f report.InspectorFinding) string {
	if ps := f.PackageVulnerabilityDetails.VulnerablePackages; len(ps) > 0 {
		return ps[0].Name
	}
	return "-"
}

func pkgVersion(f report.InspectorFinding) string {
	ps := f.PackageVulnerabilityDetails.VulnerablePackages
	if len(ps) == 0 {
		return "-"
	}
	v := ps[0].Version
	if ps[0].Release != "" {
		v += "-" + ps[0].Release
	}
	if ps[0].Epoch != 0 {
		v = strconv.Itoa(ps[0].Epoch) + ":" + v
	}
	return v
}

func fixedIn(f report.InspectorFinding) string {
	if ps := f.PackageVulnerabilityDetails.VulnerablePackages; len(ps) > 0 && ps[0].FixedInVersion != "NotAvailable" && ps[0].FixedInVersion != "" {
		return ps[0].FixedInVersion
	}
	return "-"
}

func imageOf(f report.InspectorFinding) string {
	if len(f.Resources) == 0 {
		return "-"
	}
	im := f.Resources[0].Details.AWSECRContainerImage
	return im.RepositoryName + "@" + shortDigest(im.ImageHash)
}

func (a *app) findingsGetCmd(f *remoteFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one finding, by id or finding ARN",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(f)
			if err != nil {
				return err
			}
			fd, err := c.Finding(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.out(f, fd, func(w io.Writer) {
				d := fd.PackageVulnerabilityDetails
				rows := [][2]string{
					{"Finding", fd.FindingARN}, {"Title", fd.Title}, {"Severity", fd.Severity}, {"Score", scoreText(fd.InspectorScore)},
					{"Status", fd.Status}, {"Vulnerability", d.VulnerabilityID}, {"Related", strings.Join(d.RelatedVulnerabilities, ", ")},
					{"Package", pkgName(*fd) + " " + pkgVersion(*fd)}, {"Fixed in", fixedIn(*fd)}, {"Fix available", fd.FixAvailable},
					{"Exploit available", fd.ExploitAvailable}, {"Image", imageOf(*fd)},
					{"First observed", when(time.Time(fd.FirstObservedAt))}, {"Last observed", when(time.Time(fd.LastObservedAt))},
					{"Remediation", fd.Remediation.Recommendation.Text}, {"Advisory", d.SourceURL},
					{"Not reachable", fd.NotReachable},
				}
				if len(d.VulnerablePackages) > 0 && d.VulnerablePackages[0].FilePath != "" {
					rows = append(rows, [2]string{"File", d.VulnerablePackages[0].FilePath})
				}
				for _, r := range rows {
					if r[1] != "" {
						fmt.Fprintf(w, "%s:\t%s\n", r[0], r[1])
					}
				}
			})
		},
	}
}

// aggregations maps --by to Inspector's aggregation types.
var aggregations = map[string]string{
	"repository": store.AggRepository, "image": store.AggImage, "layer": store.AggLayer,
	"package": store.AggPackage, "title": store.AggTitle, "vulnerability": store.AggVulnerability, "type": store.AggType,
}

func (a *app) findingsAggregateCmd(f *remoteFlags) *cobra.Command {
	var (
		ff         filterFlags
		by, sortBy string
		limit      int
	)
	cmd := &cobra.Command{
		Use:   "aggregate --by repository|image|layer|package|title|vulnerability|type",
		Short: "Count active findings per repository, image, layer, package or vulnerability",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			typ, ok := aggregations[by]
			if !ok {
				return usageError{fmt.Errorf("--by %q: use repository, image, layer, package, title or type", by)}
			}
			fc, err := ff.criteria()
			if err != nil {
				return err
			}
			c, err := a.client(f)
			if err != nil {
				return err
			}
			req := apiclient.AggregationRequest{AggregationType: typ, FilterCriteria: &fc, SortBy: strings.ToUpper(sortBy)}
			page := apiclient.AggregationPage{AggregationType: typ, Responses: []store.Aggregate{}}
			for {
				req.MaxResults = pageSize(limit, len(page.Responses))
				p, err := c.AggregateFindings(cmd.Context(), req)
				if err != nil {
					return err
				}
				page.Responses = append(page.Responses, p.Responses...)
				page.NextToken, req.NextToken = p.NextToken, p.NextToken
				if p.NextToken == "" || (limit > 0 && len(page.Responses) >= limit) {
					break
				}
			}
			a.more(page.NextToken, "groups")
			return a.out(f, page, func(w io.Writer) {
				head, key := aggregateColumns(typ)
				fmt.Fprintln(w, head+"\tCRITICAL\tHIGH\tMEDIUM\tLOW\tUNTRIAGED\tTOTAL")
				for _, g := range page.Responses {
					n := g.Counts
					fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", key(g), n.Critical, n.High, n.Medium, n.Low, n.Untriaged, n.Total)
				}
			})
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().StringVar(&by, "by", "", "group by repository, image, layer, package, title, vulnerability or type (required)")
	cmd.Flags().StringVar(&sortBy, "sort-by", "", "order groups by CRITICAL, HIGH or ALL findings (default ALL)")
	cmd.Flags().IntVar(&limit, "limit", 1000, "show at most this many groups (0: all)")
	return cmd
}

// aggregateColumns are the key columns of an aggregation's table.
func aggregateColumns(typ string) (string, func(store.Aggregate) string) {
	switch typ {
	case store.AggRepository:
		return "REPOSITORY\tIMAGES", func(g store.Aggregate) string { return g.Repository + "\t" + strconv.Itoa(g.Images) }
	case store.AggImage:
		return "REPOSITORY\tTAGS\tDIGEST", func(g store.Aggregate) string {
			return g.Repository + "\t" + strings.Join(g.Tags, ",") + "\t" + shortDigest(g.ImageDigest)
		}
	case store.AggLayer:
		return "REPOSITORY\tDIGEST\tLAYER", func(g store.Aggregate) string {
			return g.Repository + "\t" + shortDigest(g.ImageDigest) + "\t" + shortDigest(g.LayerDiffID)
		}
	case store.AggPackage:
		return "PACKAGE\tIMAGES", func(g store.Aggregate) string { return g.PackageName + "\t" + strconv.Itoa(g.Images) }
	case store.AggVulnerability:
		return "VULNERABILITY\tIMAGES", func(g store.Aggregate) string { return g.VulnerabilityID + "\t" + strconv.Itoa(g.Images) }
	case store.AggTitle:
		return "VULNERABILITY\tIMAGES\tTITLE", func(g store.Aggregate) string {
			return g.VulnerabilityID + "\t" + strconv.Itoa(g.Images) + "\t" + g.Title
		}
	}
	return "TYPE", func(g store.Aggregate) string { return g.FindingType }
}

func (a *app) findingsSuppressCmd(f *remoteFlags) *cobra.Command {
	var (
		ff                         filterFlags
		name, reason, desc, expire string
	)
	cmd := &cobra.Command{
		Use:   "suppress --name NAME --reason TEXT FILTERS…",
		Short: "Create a suppression rule: findings it matches become SUPPRESSED",
		Long: "Create a suppression rule (an Inspector filter with action SUPPRESS) from the filter flags\n" +
			"and --filter-json. Matching findings, existing and future, are SUPPRESSED until the rule\n" +
			"is deleted (vigil suppressions delete ID) or expires.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || reason == "" {
				return usageError{errors.New("--name and --reason are required")}
			}
			fc, err := ff.criteria()
			if err != nil {
				return err
			}
			req := apiclient.SuppressionRequest{Name: name, Reason: reason, Description: desc, FilterCriteria: fc}
			if expire != "" {
				if req.ExpiresAt, err = parseExpiry(expire, time.Now()); err != nil {
					return usageError{err}
				}
			}
			c, err := a.client(f)
			if err != nil {
				return err
			}
			rule, err := c.CreateSuppression(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.out(f, rule, func(w io.Writer) {
				fmt.Fprintf(w, "created suppression rule %s (%s)\n", rule.ID, rule.Name)
			})
		},
	}
	ff.register(cmd.Flags())
	cmd.Flags().StringVar(&name, "name", "", "the rule's name (required, unique)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the findings are suppressed (required)")
	cmd.Flags().StringVar(&desc, "description", "", "a longer description")
	cmd.Flags().StringVar(&expire, "expires", "", "when the rule ends: an RFC 3339 time, a date (2026-12-31), or a duration (90d, 72h)")
	return cmd
}

// parseExpiry reads an RFC 3339 time, a date (midnight UTC), or a
// duration from now in days ("90d") or Go's units ("72h").
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 && n <= 36500 {
			return now.Add(time.Duration(n) * 24 * time.Hour).UTC().Truncate(time.Second), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--expires %q: want an RFC 3339 time, a date (2026-12-31) or a duration (90d, 72h)", s)
}

func (a *app) suppressionsCmd() *cobra.Command {
	var f remoteFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List suppression rules",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			rules, err := c.Suppressions(cmd.Context())
			if err != nil {
				return err
			}
			if rules == nil {
				rules = []store.Rule{}
			}
			return a.out(&f, map[string]any{"suppressions": rules}, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tEXPIRES\tCREATED BY\tFILTER\tREASON")
				for _, r := range rules {
					filter, _ := json.Marshal(r.Filter) // plain data: cannot fail
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, when(r.ExpiresAt), r.CreatedBy, filter, r.Reason)
				}
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a suppression rule; the findings it suppressed become ACTIVE again",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			if err := c.DeleteSuppression(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Err, "deleted suppression rule %s\n", args[0])
			return nil
		},
	}
	return remoteGroup("suppressions", "Suppression rules of a Vigil server", &f, list, del)
}

func (a *app) eventsCmd() *cobra.Command {
	var (
		f     remoteFlags
		after int64
		typ   string
		limit int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List events (EventBridge envelopes), oldest first",
		Long: "List events from the server's outbox, oldest first. The last sequence number is printed\n" +
			"on stderr: pass it as --after to see only what came since.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if after < 0 {
				return usageError{errors.New("--after must not be negative")}
			}
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			page := apiclient.EventPage{LastSeq: after}
			q := apiclient.EventQuery{After: after, DetailType: typ}
			for {
				q.MaxResults = pageSize(limit, len(page.Events))
				p, err := c.Events(cmd.Context(), q)
				if err != nil {
					return err
				}
				if len(p.Events) == 0 {
					break
				}
				page.Events = append(page.Events, p.Events...)
				page.LastSeq, q.After = p.LastSeq, p.LastSeq
				if limit > 0 && len(page.Events) >= limit {
					break
				}
			}
			if page.Events == nil {
				page.Events = []events.Envelope{}
			}
			fmt.Fprintf(a.env.Err, "last seq: %d\n", page.LastSeq)
			return a.out(&f, page, func(w io.Writer) {
				fmt.Fprintln(w, "TIME\tDETAIL-TYPE\tSOURCE\tRESOURCES")
				for _, e := range page.Events {
					res := strings.Join(e.Resources, ",")
					if res == "" {
						res = "-"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Time, e.DetailType, e.Source, res)
				}
			})
		},
	}
	list.Flags().Int64Var(&after, "after", 0, "only events after this sequence number")
	list.Flags().StringVar(&typ, "type", "", `only events of this detail-type ("Inspector2 Finding", "ECR Image Action", …)`)
	list.Flags().IntVar(&limit, "limit", 1000, "show at most this many (0: all)")
	return remoteGroup("events", "Events of a Vigil server", &f, a.withOutput(list))
}

func (a *app) tokensCmd() *cobra.Command {
	var (
		f    remoteFlags
		role string
	)
	create := &cobra.Command{
		Use:   "create NAME --role admin|pipeline|read-only",
		Short: "Create an API token and print its secret (shown only this once)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role != store.RoleAdmin && role != store.RolePipeline && role != store.RoleReadOnly {
				return usageError{fmt.Errorf("--role %q: use admin, pipeline or read-only", role)}
			}
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), args[0], role)
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(a.env.Out, t)
			}
			// The secret alone on stdout, so that it can be piped into
			// a file or a secret store.
			fmt.Fprintf(a.env.Err, "created %s token %s (%s); its secret is shown only now:\n", t.Token.Role, t.Token.ID, t.Token.Name)
			fmt.Fprintln(a.env.Out, t.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "", "admin, pipeline (push, read) or read-only (required)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			tokens, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			if tokens == nil {
				tokens = []store.Token{}
			}
			return a.out(&f, map[string]any{"tokens": tokens}, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tROLE\tCREATED\tLAST USED")
				for _, t := range tokens {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, when(t.CreatedAt), when(t.LastUsedAt))
				}
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an API token",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			if err := c.DeleteToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Err, "deleted token %s\n", args[0])
			return nil
		},
	}
	return remoteGroup("tokens", "API tokens of a Vigil server (admin only)", &f, create, list, del)
}
