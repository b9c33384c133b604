package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/bus"
	"github.com/vigilsec/vigil/internal/store"
)

// maxArgFile bounds a JSON document read from @FILE.
const maxArgFile = 8 << 20

// jsonArg reads a JSON argument given inline or as @FILE ("@-" for
// standard input).
func (a *app) jsonArg(flag, v string) (json.RawMessage, error) {
	if v == "" {
		return nil, usageError{fmt.Errorf("--%s is required", flag)}
	}
	data := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var r io.Reader
		if name == "-" {
			r = a.env.In
		} else {
			f, err := os.Open(name)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", flag, err)
			}
			defer f.Close()
			r = f
		}
		var err error
		if data, err = io.ReadAll(io.LimitReader(r, maxArgFile+1)); err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		if len(data) > maxArgFile {
			return nil, fmt.Errorf("--%s %s: larger than %d bytes", flag, v, maxArgFile)
		}
	}
	data = bytes.TrimSpace(data)
	if !json.Valid(data) {
		return nil, usageError{fmt.Errorf("--%s is not JSON", flag)}
	}
	return data, nil
}

func (a *app) rulesCmd() *cobra.Command {
	var f remoteFlags
	return remoteGroup("rules", "Event rules: EventBridge patterns and the targets they deliver to", &f,
		a.rulesTestCmd(), a.rulesListCmd(&f), a.rulesGetCmd(&f), a.rulesPutCmd(&f), a.rulesDeleteCmd(&f))
}

// rulesTestCmd answers like `aws events test-event-pattern`, locally.
func (a *app) rulesTestCmd() *cobra.Command {
	var patternArg, eventArg string
	cmd := &cobra.Command{
		Use:   "test --pattern JSON --event JSON",
		Short: `Say whether an event matches a pattern: prints {"Result": true} or {"Result": false}`,
		Long: "Test an EventBridge event pattern against an event, as `aws events test-event-pattern` does,\n" +
			"without a server. Each argument is JSON, or @FILE to read it from a file (@- for standard input).\n" +
			"An invalid pattern exits 1 with an error naming the operator and the path at fault.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.jsonArg("pattern", patternArg)
			if err != nil {
				return err
			}
			ev, err := a.jsonArg("event", eventArg)
			if err != nil {
				return err
			}
			ok, err := bus.TestPattern(p, ev)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Out, "{\"Result\": %v}\n", ok)
			return nil
		},
	}
	cmd.Flags().StringVar(&patternArg, "pattern", "", "the event pattern (JSON or @FILE)")
	cmd.Flags().StringVar(&eventArg, "event", "", "the event (JSON or @FILE)")
	return cmd
}

func (a *app) rulesListCmd(f *remoteFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List event rules and their targets",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(f)
			if err != nil {
				return err
			}
			rules, err := c.Rules(cmd.Context())
			if err != nil {
				return err
			}
			if rules == nil {
				rules = []store.EventRule{}
			}
			return a.out(f, map[string]any{"Rules": rules}, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tSTATE\tMANAGED BY\tTARGETS\tPATTERN")
				for _, r := range rules {
					var ts []string
					for _, t := range r.Targets {
						s := t.ID + ":" + t.Type
						if t.URL != "" {
							s += " " + t.URL
						}
						ts = append(ts, s)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.State, r.ManagedBy, strings.Join(ts, ", "), compactJSON(r.EventPattern))
				}
			})
		},
	}
}

func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

func (a *app) rulesGetCmd(f *remoteFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show one event rule as JSON",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(f)
			if err != nil {
				return err
			}
			r, err := c.Rule(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeJSON(a.env.Out, r)
		},
	}
}

func (a *app) rulesPutCmd(f *remoteFlags) *cobra.Command {
	var (
		file, patternArg, desc, state string
		webhooks                      []string
		secret                        string
		gateTarget, logTarget         bool
		maxAttempts, maxAge           int
	)
	cmd := &cobra.Command{
		Use:   "put NAME --pattern JSON [--webhook URL]… [--gate] [--log] | put --file RULE.json",
		Short: "Create or replace an event rule",
		Long: "Create or replace an event rule. Either give the whole rule as JSON (--file, in the API's\n" +
			"shape: Name, EventPattern, State, Description, Targets with Id, Type, Url, Secret,\n" +
			"InputTransformer, RetryPolicy; EventPattern may be a string holding the pattern, as in\n" +
			"EventBridge's PutRule), or a pattern and targets as flags. A webhook without a\n" +
			"secret gets one from the server, printed this once: receivers check the Vigil-Signature\n" +
			"header with it.",
		RunE: func(cmd *cobra.Command, args []string) error {
			var r store.EventRule
			if file != "" {
				data, err := a.jsonArg("file", "@"+file)
				if err != nil {
					return err
				}
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&r); err != nil {
					return fmt.Errorf("--file %s: %w", file, err)
				}
				if len(args) == 1 && r.Name == "" {
					r.Name = args[0]
				}
				if len(args) > 1 || (len(args) == 1 && args[0] != r.Name) {
					return usageError{fmt.Errorf("the rule's name is %q in %s", r.Name, file)}
				}
			} else {
				if len(args) != 1 {
					return usageError{errors.New("put takes the rule's NAME (or --file)")}
				}
				p, err := a.jsonArg("pattern", patternArg)
				if err != nil {
					return err
				}
				r = store.EventRule{Name: args[0], EventPattern: p, Description: desc, State: state}
				var policy *store.RetryPolicy
				if cmd.Flags().Changed("max-attempts") || cmd.Flags().Changed("max-age") {
					policy = &store.RetryPolicy{MaximumEventAgeInSeconds: maxAge}
					if cmd.Flags().Changed("max-attempts") {
						policy.MaximumRetryAttempts = &maxAttempts
					}
				}
				for i, u := range webhooks {
					r.Targets = append(r.Targets, store.Target{ID: "webhook-" + strconv.Itoa(i+1), Type: store.TargetWebhook, URL: u, Secret: secret, RetryPolicy: policy})
				}
				if gateTarget {
					r.Targets = append(r.Targets, store.Target{ID: "gate", Type: store.TargetGate, RetryPolicy: policy})
				}
				if logTarget {
					r.Targets = append(r.Targets, store.Target{ID: "log", Type: store.TargetLog, RetryPolicy: policy})
				}
			}
			if err := bus.Normalize(&r); err != nil {
				return usageError{err}
			}
			if err := bus.Validate(&r); err != nil {
				return usageError{err}
			}
			c, err := a.client(f)
			if err != nil {
				return err
			}
			res, err := c.PutRule(cmd.Context(), r)
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(a.env.Out, res)
			}
			fmt.Fprintf(a.env.Err, "rule %s stored with %d target(s)\n", res.Name, len(res.Targets))
			for id, s := range res.NewSecrets {
				fmt.Fprintf(a.env.Out, "secret of webhook target %s (shown only now): %s\n", id, s)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "file", "", "the whole rule as JSON")
	fl.StringVar(&patternArg, "pattern", "", "the event pattern (JSON or @FILE)")
	fl.StringVar(&desc, "description", "", "what the rule is for")
	fl.StringVar(&state, "state", "ENABLED", "ENABLED or DISABLED")
	fl.StringArrayVar(&webhooks, "webhook", nil, "deliver to this URL, signed (repeatable)")
	fl.StringVar(&secret, "secret", "", "the webhooks' signing secret (default: one made by the server)")
	fl.BoolVar(&gateTarget, "gate", false, "deliver to the deployment gate")
	fl.BoolVar(&logTarget, "log", false, "write matching events to the server's log")
	fl.IntVar(&maxAttempts, "max-attempts", 185, "retry policy: most retries (0 to 185)")
	fl.IntVar(&maxAge, "max-age", 86400, "retry policy: most seconds to keep trying (60 to 86400)")
	return cmd
}

func (a *app) rulesDeleteCmd(f *remoteFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an event rule",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(f)
			if err != nil {
				return err
			}
			if err := c.DeleteRule(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Err, "deleted rule %s\n", args[0])
			return nil
		},
	}
}

func (a *app) deliveriesCmd() *cobra.Command {
	var f remoteFlags
	var state, rule string
	var limit int
	list := &cobra.Command{
		Use:   "list [--state dead] [--rule NAME]",
		Short: "List event deliveries, newest first; --state dead is the dead-letter list",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			var all []store.Delivery
			var before int64
			for limit <= 0 || len(all) < limit {
				page, err := c.Deliveries(cmd.Context(), apiclient.DeliveryQuery{State: state, Rule: rule, Before: before, MaxResults: pageSize(limit, len(all))})
				if err != nil {
					return err
				}
				all = append(all, page.Deliveries...)
				if page.NextBefore == 0 {
					break
				}
				before = page.NextBefore
			}
			for i := range all {
				all[i].Envelope = nil
			}
			return a.out(&f, map[string]any{"deliveries": all}, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tSTATE\tRULE\tTARGET\tEVENT\tATTEMPTS\tNEXT\tLAST ERROR")
				for _, d := range all {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.State, d.Rule, d.Target, d.EventID, d.Attempts, when(d.NextAttemptAt), d.LastError)
				}
			})
		},
	}
	list.Flags().StringVar(&state, "state", "", "pending, delivered or dead")
	list.Flags().StringVar(&rule, "rule", "", "only this rule's deliveries")
	list.Flags().IntVar(&limit, "limit", 1000, "show at most this many (0: all)")
	var redriveRule string
	var all bool
	redrive := &cobra.Command{
		Use:   "redrive [ID…] [--rule NAME] [--all]",
		Short: "Deliver dead-lettered events again",
		RunE: func(cmd *cobra.Command, args []string) error {
			var ids []int64
			for _, s := range args {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usageError{fmt.Errorf("delivery id %q is not a number", s)}
				}
				ids = append(ids, id)
			}
			if len(ids) == 0 && redriveRule == "" && !all {
				return usageError{errors.New("say what to redrive: delivery ids, --rule NAME or --all")}
			}
			c, err := a.client(&f)
			if err != nil {
				return err
			}
			n, err := c.Redrive(cmd.Context(), ids, redriveRule, all)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Out, "%d deliveries redriven\n", n)
			return nil
		},
	}
	redrive.Flags().StringVar(&redriveRule, "rule", "", "every dead delivery of this rule")
	redrive.Flags().BoolVar(&all, "all", false, "every dead delivery")
	return remoteGroup("deliveries", "Deliveries of events to rule targets, and the dead-letter list", &f, list, redrive)
}
