package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vigilsec/vigil/internal/scan"
)

// exitCodeHelp is the exit status paragraph of --exit-code.
const exitCodeHelp = "With --exit-code N, as Trivy has it: N when any finding remains in the report after\n" +
	"ignores, VEX and --ignore-unfixed, among the --severity set when one is given (all severities,\n" +
	"UNTRIAGED included, when not). When several hold, 3 (--fail-on, --max-*) comes first, then\n" +
	"--exit-code's N, then 6; --exit-code counts as a threshold for 6."

// registerExitCode adds --exit-code.
func registerExitCode(fl *pflag.FlagSet, n *int) {
	fl.IntVar(n, "exit-code", 0, "exit with this status when any finding of the --severity set (all, without it) remains after ignores, as Trivy does (0: never; --fail-on and --max-* come first)")
}

// checkExitCodeFlag refuses an --exit-code no process can exit with, or
// one that would read as Vigil's own statuses.
func checkExitCodeFlag(n int) error {
	if n < 0 || n > 125 {
		return usageError{fmt.Errorf("--exit-code %d: want 0 (off) to 125", n)}
	}
	return nil
}

// exitCodeViolation is the error --exit-code n makes of the findings
// that remain, or nil.
func exitCodeViolation(n int, severities []string, findings []*scan.Finding) error {
	if n == 0 || len(findings) == 0 {
		return nil
	}
	of := ""
	if len(severities) > 0 {
		of = " of severity " + strings.Join(severities, ",")
	}
	return withCode(n, fmt.Errorf("%d findings%s remain (--exit-code %d)", len(findings), of, n))
}
