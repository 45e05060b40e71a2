package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/patterns"
)

func newFmtCmd() *cobra.Command {
	var check, write bool
	cmd := &cobra.Command{
		Use:   "fmt DIR|RULE.yaml...",
		Short: "print rules in canonical form (--check: fail if a file is not; -w: rewrite files)",
		Long: `fmt prints rules in canonical form. A directory means every rule file under it;
the schema (schema.yaml) and rule tests (NAME.test.yaml) are not rules and are skipped,
also when named. Every problem of every file is reported; with --check the files not in
canonical form are listed and the exit status is 1.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := ruleFiles(args)
			if err != nil {
				return err
			}
			var unformatted []string
			var problems []error
			for _, path := range files {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				r, err := patterns.Parse(path, data)
				if err != nil {
					problems = append(problems, err)
					continue
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
					if len(files) > 1 {
						fmt.Fprintf(cmd.OutOrStdout(), "# %s\n", path)
					}
					cmd.OutOrStdout().Write(out)
				}
			}
			for _, p := range unformatted {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			if len(problems) > 0 {
				return errors.Join(problems...)
			}
			if len(unformatted) > 0 {
				return &exitError{code: 1, err: errors.New("rules not in canonical form (cepd fmt -w fixes them)")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "list files that are not in canonical form and exit 1")
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite files in canonical form")
	return cmd
}

// ruleFiles expands the arguments of cepd fmt: a directory into the rule files under it
// (patterns.IsRuleFile; hidden directories skipped), a file into itself if it is a rule
// file.
func ruleFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if patterns.IsRuleFile(filepath.Base(a)) {
				out = append(out, a)
			}
			continue
		}
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != a && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if patterns.IsRuleFile(d.Name()) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
