// Command cepd is the cepd rule engine: it serves rules against event streams, replays
// files through them, checks conformance with Flink CEP, and explains compiled patterns.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	// cepd's heap is mostly long-lived matcher state: collecting it at 100% growth spends a
	// third of the CPU scanning it. Default to 400% unless the operator set GOGC (use
	// GOMEMLIMIT to cap memory instead).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetArgs(defaultToServe(os.Args[1:]))
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "cepd:", err)
		os.Exit(exitCode(err))
	}
}

// defaultToServe makes "cepd" and "cepd --flags" mean "cepd serve ...".
func defaultToServe(args []string) []string {
	if len(args) == 0 {
		return []string{"serve"}
	}
	switch a := args[0]; {
	case a == "-h" || a == "--help" || a == "help" || a == "--version":
		return args
	case len(a) > 0 && a[0] == '-':
		return append([]string{"serve"}, args...)
	}
	return args
}

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

func newRootCmd() *cobra.Command {
	var logLevel, logFormat string
	root := &cobra.Command{
		Use:           "cepd",
		Short:         "complex-event-processing and fraud-rule engine (Flink CEP semantics, CEL conditions)",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return setUpCommand(cmd, &logLevel, &logFormat)
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format: text (key=value) or json (one object per line)")
	root.AddCommand(newServeCmd(), newConformanceCmd(), newReplayCmd(), newExplainCmd(), newBenchCmd(), newGenCmd(), newFmtCmd(), newProduceCmd(), newTestCmd())
	return root
}
