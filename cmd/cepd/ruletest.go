package main

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/rules/ruletest"
)

func newTestCmd() *cobra.Command {
	var (
		schemaPath, run string
		verbose         bool
	)
	cmd := &cobra.Command{
		Use:   "test [DIR|FILE...]",
		Short: "run the rule tests (NAME.test.yaml beside NAME.yaml) and print N passed, M failed",
		Long: `test runs rule test files: named cases of events and the alerts they must (and
must not) raise, written in NAME.test.yaml beside the rule NAME.yaml. A directory means
every test file under it (rules without tests are listed); a rule file means its test file.
The rules run through the production compiler and matcher, as in cepd replay. A failed
case shows the expected alert, the closest alert raised and what differs. Exit status 1
when a case fails. The format is described in the README ("Testing rules").`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			o := ruletest.Options{SchemaPath: schemaPath}
			if run != "" {
				re, err := regexp.Compile(run)
				if err != nil {
					return fmt.Errorf("--run: %w", err)
				}
				o.Run = re
			}
			rep, err := ruletest.RunPaths(cmd.Context(), args, o)
			if err != nil {
				return err
			}
			rep.Write(cmd.OutOrStdout(), verbose)
			if rep.Failed() > 0 {
				return &exitError{code: 1, err: errors.New(fmt.Sprint(rep.Failed(), " failed"))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&schemaPath, "schema", "", "event schema file (default: schema.yaml beside each test file)")
	cmd.Flags().StringVar(&run, "run", "", "run only the cases whose name matches this regular expression")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print a line for every case that passed")
	return cmd
}
