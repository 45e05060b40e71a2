package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/rules"
)

func newExplainCmd() *cobra.Command {
	var schemaPath string
	cmd := &cobra.Command{
		Use:   "explain RULE",
		Short: "print a rule's pattern and its compiled NFA (states and edges)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if schemaPath == "" {
				schemaPath = filepath.Join(filepath.Dir(path), "schema.yaml")
			}
			schema, err := event.LoadSchema(schemaPath)
			if err != nil {
				return err
			}
			h, err := loadDirData(filepath.Dir(path))
			if err != nil {
				return err
			}
			env, err := rules.NewEnv(schema, rules.EnvOptions{Data: h})
			if err != nil {
				return err
			}
			c, err := compileFile(path, env, rules.NewRegistry())
			if err != nil {
				return err
			}
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
