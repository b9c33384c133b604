package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/gate"
	"github.com/vigilsec/vigil/internal/store"
)

// Exit codes of `vigil gate wait` and `vigil gate check`.
const (
	// ExitRejected: the gate rejected the image.
	ExitRejected = 3
	// ExitTimedOut: no decision came within --timeout (the server's
	// own timeout decision, a rejection unless the policy approves on
	// timeout, ends with this code too).
	ExitTimedOut = 5
)

func (a *app) gateCmd() *cobra.Command {
	var f remoteFlags
	return remoteGroup("gate", "The deployment gate: approve or reject images for pipelines", &f,
		a.withOutput(a.gateWaitCmd(&f)), a.withOutput(a.gateCheckCmd(&f)), a.withOutput(a.gateDecisionsCmd(&f)), a.gatePoliciesCmd(&f))
}

func (a *app) gateWaitCmd(f *remoteFlags) *cobra.Command {
	var (
		in      gate.RequestInput
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait IMAGE --pipeline P [--stage S] [--action A] [--timeout 30m]",
		Short: "Ask the gate for a decision on an image and wait for it (for CI)",
		Long: "Register an approval request for IMAGE (REPOSITORY:TAG or REPOSITORY@DIGEST, with or\n" +
			"without the registry host), wait for the gate's decision, and print it with the findings\n" +
			"that caused it. The image may be pushed after the request: the decision comes when its\n" +
			"scan completes; a failed scan, an image Vigil cannot scan and a timeout are rejected\n" +
			"unless the repository's policy says otherwise.\n\n" +
			"A tag that exists already names the image it points to now; with --new-push the gate\n" +
			"waits for the tag's next push instead.\n\n" +
			"Exit status: 0 Approved; 3 Rejected; 5 no decision within --timeout (or the server's\n" +
			"timeout decision); 1 error; 2 bad command line.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Pipeline == "" {
				return usageError{errors.New("--pipeline is required")}
			}
			if timeout <= 0 || timeout > gate.MaxTimeout {
				return usageError{fmt.Errorf("--timeout %s: from 1s to %s", timeout, gate.MaxTimeout)}
			}
			c, err := a.client(f)
			if err != nil {
				return err
			}
			in.Image = args[0]
			in.TimeoutSeconds = int((timeout + time.Second - 1) / time.Second)
			ctx := cmd.Context()
			req, err := c.CreateGateRequest(ctx, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Err, "gate request %s for %s (pipeline %s): waiting up to %s\n", req.Request.ID, args[0], in.Pipeline, timeout)
			// The server decides at its deadline; wait a little longer
			// for that decision before giving up here.
			deadline := time.Now().Add(timeout + 15*time.Second)
			for req.Request.State != store.GateDecided {
				left := time.Until(deadline)
				if left <= 0 {
					return withCode(ExitTimedOut, fmt.Errorf("no decision on %s within %s", args[0], timeout))
				}
				wait := min(int(left/time.Second)+1, 30)
				next, err := c.WaitGateRequest(ctx, req.Request.ID, wait)
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					// A server restarting, a proxy timing out: the
					// request is stored; ask again.
					fmt.Fprintf(a.env.Err, "vigil: %v (asking again)\n", err)
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(2 * time.Second):
					}
					continue
				}
				req = next
			}
			return a.printDecision(f, req.Decision)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Pipeline, "pipeline", "", "the pipeline asking (required)")
	fl.StringVar(&in.Stage, "stage", "", "its stage")
	fl.StringVar(&in.Action, "action", "", "its action")
	fl.StringVar(&in.CallbackURL, "callback", "", "also POST the decision, signed with the request's token, to this URL")
	fl.BoolVar(&in.NewPush, "new-push", false, "wait for the tag's next push rather than judging the image it names now")
	fl.DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the scan")
	return cmd
}

// printDecision prints a decision and ends with its exit code.
func (a *app) printDecision(f *remoteFlags, d *store.GateDecision) error {
	if d == nil {
		return errors.New("the request is decided but the server gave no decision")
	}
	if f.json {
		if err := writeJSON(a.env.Out, d); err != nil {
			return err
		}
	} else {
		tw := newTable(a.env.Out)
		fmt.Fprintf(a.env.Out, "%s: %s@%s\n%s\n", d.Decision, d.Repository, d.Digest, d.Reason)
		printGateFindings(tw, d.Findings)
		if err := tw.flush(); err != nil {
			return err
		}
	}
	return decisionExit(d.Decision, d.Trigger, d.Reason)
}

func decisionExit(decision, trigger, reason string) error {
	switch {
	case decision == store.Approved:
		return nil
	case trigger == gate.TriggerTimeout:
		return withCode(ExitTimedOut, errors.New(reason))
	default:
		return withCode(ExitRejected, errors.New(reason))
	}
}

type table struct {
	w   io.Writer
	buf bytes.Buffer
	any bool
}

func newTable(w io.Writer) *table { return &table{w: w} }

func (t *table) flush() error {
	if !t.any {
		return nil
	}
	_, err := t.w.Write(t.buf.Bytes())
	return err
}

func printGateFindings(t *table, fs []store.GateFinding) {
	if len(fs) == 0 {
		return
	}
	t.any = true
	tw := tabWriter(&t.buf)
	fmt.Fprintln(tw, "SEVERITY\tSCORE\tVULNERABILITY\tPACKAGE\tVERSION\tFIXED IN\tKEV\tRULE")
	for _, g := range fs {
		score := "-"
		if g.Score != nil {
			score = fmt.Sprintf("%.1f", *g.Score)
		}
		kev := ""
		if g.KnownExploited {
			kev = "yes"
		}
		fixed := g.FixedInVersion
		if fixed == "" {
			fixed = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Severity, score, g.VulnerabilityID, g.PackageName, g.PackageVersion, fixed, kev, g.Rule)
	}
	tw.Flush()
}

func (a *app) gateCheckCmd(f *remoteFlags) *cobra.Command {
	var o apiclient.CheckOptions
	cmd := &cobra.Command{
		Use:   "check IMAGE",
		Short: "Judge an image now from its stored findings (for admission control)",
		Long: "Judge IMAGE at once by its repository's policy, from its stored findings; nothing is\n" +
			"stored. An image not scanned yet is rejected; an index is judged by every image it holds,\n" +
			"or with --platform by its image for that platform. --stage names the stage a policy's\n" +
			"newFindingsOnly compares with (the last image approved for it); --db-version V matches the\n" +
			"image's stored inventory again against that kept database version, to reproduce a\n" +
			"decision made with it. Exit status: 0 Approved, 3 Rejected.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(f)
			if err != nil {
				return err
			}
			res, err := c.GateCheckWith(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if f.json {
				if err := writeJSON(a.env.Out, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.env.Out, "%s: %s@%s\n%s\n", res.Decision, res.Repository, res.Digest, res.Reason)
				if res.DBVersion != "" {
					fmt.Fprintf(a.env.Out, "database version %s\n", res.DBVersion)
				}
				if res.BaselineDigest != "" {
					fmt.Fprintf(a.env.Out, "compared with %s@%s\n", res.Repository, res.BaselineDigest)
				}
				t := newTable(a.env.Out)
				printGateFindings(t, res.Findings)
				if err := t.flush(); err != nil {
					return err
				}
			}
			if res.Decision == store.Approved {
				return nil
			}
			return withCode(ExitRejected, errors.New(res.Reason))
		},
	}
	cmd.Flags().StringVar(&o.Platform, "platform", "", "of an image index, judge only the image for this platform (os/arch[/variant])")
	cmd.Flags().StringVar(&o.Stage, "stage", "", "the stage the image is judged for (newFindingsOnly compares with the last image approved for it)")
	cmd.Flags().StringVar(&o.DBVersion, "db-version", "", "judge findings matched again against this kept database version (as decisions and `vigil db status` name it)")
	return cmd
}

func (a *app) gateDecisionsCmd(f *remoteFlags) *cobra.Command {
	var image, request string
	var limit int
	cmd := &cobra.Command{
		Use:   "decisions [--image IMAGE] [--request ID]",
		Short: "List gate decisions, newest first",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := apiclient.DecisionQuery{RequestID: request}
			if image != "" {
				ref, err := gate.ParseReference(image)
				if err != nil {
					return usageError{err}
				}
				q.Repository, q.Digest = ref.Repository, ref.Digest
			}
			c, err := a.client(f)
			if err != nil {
				return err
			}
			var all []store.GateDecision
			for limit <= 0 || len(all) < limit {
				q.MaxResults = pageSize(limit, len(all))
				page, err := c.GateDecisions(cmd.Context(), q)
				if err != nil {
					return err
				}
				all = append(all, page.Decisions...)
				if page.NextToken == "" {
					break
				}
				q.NextToken = page.NextToken
			}
			return a.out(f, map[string]any{"decisions": all}, func(w io.Writer) {
				fmt.Fprintln(w, "DECIDED\tDECISION\tIMAGE\tPOLICY\tTRIGGER\tFINDINGS\tDB VERSION\tREASON")
				for _, d := range all {
					v := d.DBVersion
					if v == "" {
						v = "-"
					}
					fmt.Fprintf(w, "%s\t%s\t%s@%s\t%s\t%s\t%d\t%s\t%s\n", when(d.DecidedAt), d.Decision, d.Repository, shortDigest(d.Digest), d.Policy, d.Trigger, len(d.Findings), v, d.Reason)
				}
			})
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "only decisions on this image's repository (and digest, if given)")
	cmd.Flags().StringVar(&request, "request", "", "only decisions on this request")
	cmd.Flags().IntVar(&limit, "limit", 100, "show at most this many (0: all)")
	return cmd
}

func (a *app) gatePoliciesCmd(f *remoteFlags) *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List gate policies",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(f)
			if err != nil {
				return err
			}
			ps, err := c.GatePolicies(cmd.Context())
			if err != nil {
				return err
			}
			return a.out(f, ps, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tREPOSITORY\tCRITICAL\tHIGH\tMEDIUM\tLOW\tUNTRIAGED\tFIXABLE ONLY\tREACHABLE ONLY\tNEW ONLY\tKEV\tMAX SCORE\tON FAILURE\tON TIMEOUT")
				rows := ps.Policies
				if ps.BuiltinDefault != nil {
					rows = append(rows, *ps.BuiltinDefault)
				}
				for _, p := range rows {
					repo := p.Repository
					if repo == "" {
						repo = "(default)"
					}
					score := "-"
					if p.MaxScore != nil {
						score = fmt.Sprint(*p.MaxScore)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%v\t%v\t%v\t%s\t%s\t%s\n", p.Name, repo, maxStr(p.MaxCritical), maxStr(p.MaxHigh),
						maxStr(p.MaxMedium), maxStr(p.MaxLow), maxStr(p.MaxUntriaged), p.FixableOnly, p.ReachableOnly, p.NewFindingsOnly, p.RejectKnownExploited, score, p.OnScanFailure, p.OnTimeout)
				}
			})
		},
	}
	var (
		file                     string
		p                        store.GatePolicy
		crit, high, med, low, un int
		maxScore                 float64
	)
	put := &cobra.Command{
		Use:   "put NAME [--repository R] [--max-critical N] … | put --file POLICY.json",
		Short: "Create or replace a gate policy",
		RunE: func(cmd *cobra.Command, args []string) error {
			pol := p
			if file != "" {
				data, err := a.jsonArg("file", "@"+file)
				if err != nil {
					return err
				}
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.DisallowUnknownFields()
				pol = store.GatePolicy{}
				if err := dec.Decode(&pol); err != nil {
					return fmt.Errorf("--file %s: %w", file, err)
				}
				if len(args) == 1 && pol.Name == "" {
					pol.Name = args[0]
				}
			} else {
				if len(args) != 1 {
					return usageError{errors.New("put takes the policy's NAME (or --file)")}
				}
				pol.Name = args[0]
				fl := cmd.Flags()
				set := func(flag string, v int) *int {
					if fl.Changed(flag) {
						return &v
					}
					return nil
				}
				pol.MaxCritical, pol.MaxHigh, pol.MaxMedium = set("max-critical", crit), set("max-high", high), set("max-medium", med)
				pol.MaxLow, pol.MaxUntriaged = set("max-low", low), set("max-untriaged", un)
				if fl.Changed("max-score") {
					pol.MaxScore = &maxScore
				}
			}
			if err := gate.ValidatePolicy(&pol); err != nil {
				return usageError{err}
			}
			c, err := a.client(f)
			if err != nil {
				return err
			}
			stored, err := c.PutGatePolicy(cmd.Context(), pol)
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(a.env.Out, stored)
			}
			fmt.Fprintf(a.env.Err, "gate policy %s stored\n", stored.Name)
			return nil
		},
	}
	fl := put.Flags()
	fl.StringVar(&file, "file", "", "the whole policy as JSON")
	fl.StringVar(&p.Repository, "repository", "", `the repositories it covers: a name, a prefix ending in "*", or "" for the default policy`)
	fl.IntVar(&crit, "max-critical", 0, "most CRITICAL findings allowed (unset: any)")
	fl.IntVar(&high, "max-high", 0, "most HIGH findings allowed (unset: any)")
	fl.IntVar(&med, "max-medium", 0, "most MEDIUM findings allowed (unset: any)")
	fl.IntVar(&low, "max-low", 0, "most LOW findings allowed (unset: any)")
	fl.IntVar(&un, "max-untriaged", 0, "most UNTRIAGED findings allowed (unset: any)")
	fl.Float64Var(&maxScore, "max-score", 0, "reject any finding scored above this")
	fl.BoolVar(&p.FixableOnly, "fixable-only", false, "count only findings with a fix available")
	fl.BoolVar(&p.ReachableOnly, "reachable-only", false, "leave out findings whose vulnerable code is not reachable in the image")
	fl.BoolVar(&p.RejectKnownExploited, "reject-kev", false, "reject any finding in CISA's Known Exploited Vulnerabilities catalog")
	fl.BoolVar(&p.CountSuppressed, "count-suppressed", false, "count SUPPRESSED findings too")
	fl.BoolVar(&p.NewFindingsOnly, "new-findings-only", false, "count only findings the last image of the repository approved for the same stage did not have (same vulnerability id, same package name)")
	fl.BoolVar(&p.AllowPartialCoverage, "allow-partial-coverage", false, "approve on its findings an image whose scan could not assess all of it (its release or an ecosystem without advisories, a wanted file not read)")
	fl.StringVar(&p.OnScanFailure, "on-scan-failure", "REJECT", "REJECT or APPROVE when the scan fails")
	fl.StringVar(&p.OnUnsupported, "on-unsupported", "REJECT", "REJECT or APPROVE when Vigil cannot scan the image")
	fl.StringVar(&p.OnTimeout, "on-timeout", "REJECT", "REJECT or APPROVE when no scan result comes in time")
	fl.IntVar(&p.TimeoutSeconds, "timeout-seconds", 0, "how long requests wait for a scan (0: the server's default)")
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a gate policy",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(f)
			if err != nil {
				return err
			}
			if err := c.DeleteGatePolicy(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Err, "deleted gate policy %s\n", args[0])
			return nil
		},
	}
	cmd := &cobra.Command{Use: "policies", Short: "Gate policies", Args: exactArgs(0), RunE: func(cmd *cobra.Command, _ []string) error {
		return usageError{fmt.Errorf("policies needs a subcommand\n%s", cmd.UsageString())}
	}}
	cmd.AddCommand(list, put, del)
	return cmd
}

func maxStr(p *int) string {
	if p == nil {
		return "any"
	}
	return fmt.Sprint(*p)
}

func tabWriter(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 4, 2, ' ', 0) }
