package cli

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/scan"
)

// baselineFlags compare a scan with an earlier report.
type baselineFlags struct {
	path    string
	newOnly bool
}

func (b *baselineFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&b.path, "baseline", "", "an earlier `vigil scan --format json` report: mark each finding new or unchanged against it and list those fixed since (same vulnerability id or alias, same package name)")
	fl.BoolVar(&b.newOnly, "new-only", false, "with --baseline, --fail-on and --max-* count only new findings")
}

// read reads the baseline report, before anything is scanned, so that a
// wrong file fails at once; nil without --baseline.
func (b *baselineFlags) read() (*scan.Baseline, error) {
	if b.path == "" {
		if b.newOnly {
			return nil, usageError{errors.New("--new-only needs --baseline REPORT.json")}
		}
		return nil, nil
	}
	return report.ReadBaseline(b.path)
}

// counted are the findings thresholds count: with --new-only, the new
// ones.
func (b *baselineFlags) counted(fs []*scan.Finding) []*scan.Finding {
	if b.newOnly {
		return scan.NewOnly(fs)
	}
	return fs
}
