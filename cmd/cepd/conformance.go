package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/nfa/conformance"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
)

func newConformanceCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "conformance PATH...",
		Short: "run Flink CEP conformance cases (files or directories) through the real compiler and matcher",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cases, err := conformance.Load(args...)
			if err != nil {
				return err
			}
			env, err := rules.NewDynamicEnv()
			if err != nil {
				return err
			}
			compile := func(_ *event.Schema, p *patterns.Pattern) (*nfa.Program, error) {
				c, err := rules.Compile(&patterns.Rule{ID: "conformance", Pattern: *p, Timeouts: true, Severity: patterns.DefaultSeverity}, env, nil)
				if err != nil {
					return nil, err
				}
				return c.Program, nil
			}
			out := cmd.OutOrStdout()
			passed, failed := 0, 0
			for _, c := range cases {
				o := conformance.Run(c, compile)
				if o.Pass {
					passed++
					if verbose {
						fmt.Fprintf(out, "ok   %s\n", c.ID)
					}
					continue
				}
				failed++
				fmt.Fprintf(out, "FAIL %s (%s, %s)\n%s", c.ID, c.Source, c.File, o.Detail)
				if o.Detail == "" || o.Detail[len(o.Detail)-1] != '\n' {
					fmt.Fprintln(out)
				}
			}
			fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return &exitError{code: 1, err: errors.New("conformance failures")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also list passing cases")
	return cmd
}
