package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/patterns"
)

func newFmtCmd() *cobra.Command {
	var check, write bool
	cmd := &cobra.Command{
		Use:   "fmt RULE.yaml...",
		Short: "print rules in canonical form (--check: fail if a file is not; -w: rewrite files)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var unformatted []string
			for _, path := range args {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				r, err := patterns.Parse(path, data)
				if err != nil {
					return err
				}
				out := patterns.Format(r)
				switch {
				case check:
					if !bytes.Equal(out, data) {
						unformatted = append(unformatted, path)
					}
				case write:
					if !bytes.Equal(out, data) {
						if err := os.WriteFile(path, out, 0o644); err != nil {
							return err
						}
					}
				default:
					if len(args) > 1 {
						fmt.Fprintf(cmd.OutOrStdout(), "# %s\n", path)
					}
					cmd.OutOrStdout().Write(out)
				}
			}
			if len(unformatted) > 0 {
				for _, p := range unformatted {
					fmt.Fprintln(cmd.OutOrStdout(), p)
				}
				return &exitError{code: 1, err: errors.New("rules not in canonical form (cepd fmt -w fixes them)")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "list files that are not in canonical form and exit 1")
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite files in canonical form")
	return cmd
}
