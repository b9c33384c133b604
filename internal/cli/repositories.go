package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/apiclient"
	"github.com/vigilsec/vigil/internal/mutability"
)

// tagMutabilityCmds read and set a repository's imageTagMutability, as
// `aws ecr put-image-tag-mutability` and `describe-repositories` do.
func (a *app) tagMutabilityCmds(f *remoteFlags) []*cobra.Command {
	var excludes []string
	set := &cobra.Command{
		Use:   "set-tag-mutability REPOSITORY MUTABLE|IMMUTABLE|IMMUTABLE_WITH_EXCLUSION|MUTABLE_WITH_EXCLUSION [--exclude PATTERN]…",
		Short: "Make a repository's tags immutable (a push moving a tag to another image is refused), or mutable again",
		Long: "Set a repository's imageTagMutability, as ECR's PutImageTagMutability does. In an IMMUTABLE\n" +
			"repository a push that would move an existing tag to another manifest is refused; pushing the\n" +
			"same manifest again is not. --exclude names a WILDCARD filter (* matches any characters):\n" +
			"with IMMUTABLE_WITH_EXCLUSION the tags it matches stay mutable, with MUTABLE_WITH_EXCLUSION\n" +
			"only they are immutable. Needs an admin token.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := apiclient.TagMutability{RepositoryName: args[0], Mutability: strings.ToUpper(args[1])}
			for _, e := range excludes {
				m.Filters = append(m.Filters, mutability.Filter{Filter: e, FilterType: mutability.FilterWildcard})
			}
			if err := (mutability.Setting{Mutability: m.Mutability, Filters: m.Filters}).Validate(); err != nil {
				return usageError{err}
			}
			c, err := a.client(f)
			if err != nil {
				return err
			}
			got, err := c.PutTagMutability(cmd.Context(), m)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Err, "%s: %s\n", got.RepositoryName, describeMutability(got))
			return nil
		},
	}
	set.Flags().StringArrayVar(&excludes, "exclude", nil, "WILDCARD exclusion filter, e.g. 'dev-*' (repeatable, at most 5)")
	get := &cobra.Command{
		Use:   "get-tag-mutability REPOSITORY",
		Short: "Show a repository's imageTagMutability",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(f)
			if err != nil {
				return err
			}
			got, err := c.TagMutability(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.out(f, got, func(w io.Writer) {
				fmt.Fprintf(w, "%s\t%s\n", got.RepositoryName, describeMutability(got))
			})
		},
	}
	var policy string
	preview := &cobra.Command{
		Use:   "preview REPOSITORY --policy JSON|@FILE",
		Short: "Name the images an ECR lifecycle policy would expire now, expiring nothing",
		Long: "Evaluate an ECR lifecycle policy (the JSON of `aws ecr put-lifecycle-policy`) against the\n" +
			"repository's images as ECR does, and list the images it would expire with the rule that\n" +
			"expires each. --json prints GetLifecyclePolicyPreview's answer.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, got, err := a.previewLifecycle(cmd.Context(), f, args[0], policy)
			if err != nil {
				return err
			}
			return a.out(f, got, func(w io.Writer) {
				fmt.Fprintln(w, "DIGEST\tTAGS\tPUSHED\tRULE")
				for _, r := range got.PreviewResults {
					tags := strings.Join(r.ImageTags, ",")
					if tags == "" {
						tags = "-"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", r.ImageDigest, tags, when(r.ImagePushedAt), r.AppliedRulePriority)
				}
				fmt.Fprintf(w, "%d image(s) would expire\n", got.Summary.ExpiringImageTotalCount)
			})
		},
	}
	preview.Flags().StringVar(&policy, "policy", "", "the lifecycle policy JSON, or @FILE to read it from a file (@- for standard input)")
	lifecycle := &cobra.Command{Use: "lifecycle", Short: "ECR lifecycle policies", Args: exactArgs(0), RunE: func(cmd *cobra.Command, _ []string) error {
		return usageError{fmt.Errorf("%s needs a subcommand\n%s", cmd.Name(), cmd.UsageString())}
	}}
	var applyPolicy string
	apply := &cobra.Command{
		Use:   "apply REPOSITORY --policy JSON|@FILE",
		Short: "Expire now the images an ECR lifecycle policy names (as preview lists them)",
		Long: "Preview the policy, then delete each image it names through the registry (DELETE by digest),\n" +
			"so that the registry's checks apply: an image an index still lists is refused and kept. The\n" +
			"deleted images' tags go with them, and their findings leave the store. Needs an admin token.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, got, err := a.previewLifecycle(cmd.Context(), f, args[0], applyPolicy)
			if err != nil {
				return err
			}
			var failed []error
			expired := 0
			for _, r := range got.PreviewResults {
				if err := c.DeleteManifest(cmd.Context(), args[0], r.ImageDigest); err != nil {
					failed = append(failed, fmt.Errorf("%s@%s: %w", args[0], r.ImageDigest, err))
					continue
				}
				expired++
				fmt.Fprintf(a.env.Err, "expired %s@%s (rule %d)\n", args[0], r.ImageDigest, r.AppliedRulePriority)
			}
			fmt.Fprintf(a.env.Err, "%d of %d image(s) expired\n", expired, len(got.PreviewResults))
			return errors.Join(failed...)
		},
	}
	apply.Flags().StringVar(&applyPolicy, "policy", "", "the lifecycle policy JSON, or @FILE to read it from a file (@- for standard input)")
	lifecycle.AddCommand(preview, apply)
	return []*cobra.Command{set, get, lifecycle}
}

func describeMutability(m *apiclient.TagMutability) string {
	if len(m.Filters) == 0 {
		return m.Mutability
	}
	var fs []string
	for _, f := range m.Filters {
		fs = append(fs, f.Filter)
	}
	return m.Mutability + " (excluding " + strings.Join(fs, ", ") + ")"
}

// previewLifecycle reads a --policy argument and asks the server which
// images of repository it would expire; preview prints the answer and
// apply deletes what it names, through the same client.
func (a *app) previewLifecycle(ctx context.Context, f *remoteFlags, repository, policy string) (*apiclient.Client, *apiclient.LifecyclePreview, error) {
	text, err := a.jsonArg("policy", policy)
	if err != nil {
		return nil, nil, err
	}
	c, err := a.client(f)
	if err != nil {
		return nil, nil, err
	}
	got, err := c.PreviewLifecyclePolicy(ctx, repository, string(text))
	if err != nil {
		return nil, nil, err
	}
	return c, got, nil
}
