package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// newLogger returns the process logger: level debug, info, warn or error; format text
// (logfmt-like key=value) or json (one object per line, for log shippers).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// setUpCommand runs before every subcommand: it applies the --config file of a command
// that has one (so that log settings in it count too), then sets the default logger.
func setUpCommand(cmd *cobra.Command, level, format *string) error {
	if f := cmd.Flags().Lookup("config"); f != nil && f.Value.String() != "" {
		if err := applyConfigFile(cmd.Flags(), f.Value.String()); err != nil {
			return err
		}
	}
	log, err := newLogger(cmd.ErrOrStderr(), *level, *format)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	return nil
}
