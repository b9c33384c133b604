package cli

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// withOutput gives a command that prints a report --output FILE (-o): the
// report goes to FILE, written beside it and renamed into place, instead
// of standard output. A verdict the command returns as an exit status
// (Rejected, findings over a threshold) still leaves the report written;
// an error does not.
func (a *app) withOutput(cmd *cobra.Command) *cobra.Command {
	var output string
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the report to this file instead of standard output")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if output == "" || output == "-" {
			return run(c, args)
		}
		stdout := a.env.Out
		defer func() { a.env.Out = stdout }()
		var verdict error
		err := writeOutput(stdout, output, func(w io.Writer) error {
			a.env.Out = w
			err := run(c, args)
			var ee *exitError
			if errors.As(err, &ee) {
				verdict = err
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		return verdict
	}
	return cmd
}
