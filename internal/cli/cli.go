// Package cli is Vigil's command line: it parses arguments, loads the
// configuration once and runs the subcommand with it. It is the one place
// where errors become exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/config"
)

// Env is what a command may touch of the process it runs in.
type Env struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	Getenv func(string) string
	// IsTerminal reports whether Err is a terminal (progress is shown
	// only then).
	IsTerminal bool
	// OutIsTerminal reports whether Out is a terminal (where a command's
	// default format is for a person rather than a program).
	OutIsTerminal bool
}

// Exit codes. 0 is success; commands document their own non-zero codes
// beyond these.
const (
	ExitOK    = 0
	ExitError = 1 // the command failed: bad input, unreadable image, …
	ExitUsage = 2 // the command line is wrong
)

// ExitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode makes err end the process with code.
func withCode(code int, err error) error { return &exitError{code, err} }

// app is what every subcommand shares.
type app struct {
	env    Env
	cfg    config.Config
	log    *slog.Logger
	config string // --config
	debug  bool
	quiet  bool // -q: no progress, no warnings; the report only
}

// Main runs the vigil command line with args (without the program name)
// and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	a := &app{env: env}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(env.In)
	root.SetOut(env.Out)
	root.SetErr(env.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(env.Err, "vigil: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsage(err) {
		return ExitUsage
	}
	return ExitError
}

type usageError struct{ error }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "vigil",
		Short:         "Container-image security: inventory, vulnerabilities, events and a deployment gate",
		Version:       Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.load(cmd)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&a.config, "config", "", "configuration file (default $VIGIL_CONFIG, then ~/.config/vigil/config.yaml)")
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "log debug messages")
	root.PersistentFlags().BoolVarP(&a.quiet, "quiet", "q", false, "print no progress, warnings or notices on standard error: the report, and errors, only")
	root.PersistentFlags().String("cache-dir", "", "directory for the vulnerability database and layer cache (default: the user cache directory + /vigil)")
	root.AddCommand(a.sbomCmd(), a.scanCmd(), a.dbCmd(), a.serveCmd(), a.workerCmd())
	root.AddCommand(a.remoteCmds()...)
	return root
}

// load reads the configuration once, then applies the flags that override it.
func (a *app) load(cmd *cobra.Command) error {
	cfg, err := config.Load(a.config, a.env.Getenv)
	if err != nil {
		return err
	}
	if f := cmd.Flags().Lookup("cache-dir"); f != nil && f.Changed {
		cfg.CacheDir = f.Value.String()
	}
	a.cfg = cfg
	level := slog.LevelInfo
	if a.debug {
		level = slog.LevelDebug
	}
	if a.quiet {
		level = slog.LevelError
		// Progress is drawn only on a terminal.
		a.env.IsTerminal = false
	}
	a.log = slog.New(slog.NewTextHandler(a.env.Err, &slog.HandlerOptions{Level: level}))
	return nil
}

// Version is the module version the binary was built from, or "devel".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
