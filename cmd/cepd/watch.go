package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// watchRules calls reload when the files of the rules directory change (polled every
// interval) or on SIGHUP. reload compiles the whole new rule set and swaps it in, or
// rejects it with its errors and keeps the running one.
func watchRules(ctx context.Context, dir string, interval time.Duration, reload func(context.Context) error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	last := dirFingerprint(dir)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-hup:
			forced = true
		}
		fp := dirFingerprint(dir)
		if fp == last && !forced {
			continue
		}
		last = fp
		if err := reload(ctx); err != nil {
			slog.Error("rules not reloaded: the new rule set does not compile; the running rules stay", "dir", dir, "errors", err.Error())
			continue
		}
		slog.Info("rules reloaded from disk", "dir", dir)
	}
}

// dirFingerprint summarises the names, sizes and modification times of a directory's
// rule files.
func dirFingerprint(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "error:" + err.Error()
	}
	var parts []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s|%d|%d", e.Name(), info.Size(), info.ModTime().UnixNano()))
	}
	sort.Strings(parts)
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
