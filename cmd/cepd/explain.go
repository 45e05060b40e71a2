package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newExplainCmd() *cobra.Command {
	var schemaPath string
	cmd := &cobra.Command{
		Use:   "explain RULE",
		Short: "print a rule's pattern and its compiled NFA (states and edges)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRuleSet(args[0], schemaPath)
			if err != nil {
				return err
			}
			if len(rs.Rules) != 1 {
				return fmt.Errorf("explain: %s holds %d rules: name one rule file", args[0], len(rs.Rules))
			}
			c := rs.Rules[0]
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "rule %s (version %s)\n\npattern:\n%s\nnfa:\n%s", c.Rule.ID, c.Version, indent(c.Rule.Pattern.String()), indent(c.Program.String()))
			return nil
		},
	}
	cmd.Flags().StringVar(&schemaPath, "schema", "", "event schema file (default: schema.yaml beside the rule)")
	return cmd
}

func indent(s string) string {
	out := []byte{}
	start := true
	for i := 0; i < len(s); i++ {
		if start && s[i] != '\n' {
			out = append(out, "  "...)
		}
		out = append(out, s[i])
		start = s[i] == '\n'
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return string(out)
}
