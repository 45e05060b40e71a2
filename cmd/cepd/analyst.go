package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/alerts/analyst"
	"github.com/cepd/cepd/alerts/analyst/redislog"
	"github.com/cepd/cepd/internal/metrics"
	"github.com/cepd/cepd/internal/run"
)

// analystLogFile is the analysts' log beside a rule directory (a hidden file: not a rule).
const analystLogFile = ".analyst.jsonl"

// openAnalyst opens the analysts' suppressions and feedback where the rules are kept: in
// Redis (shared by the instances) when client is set, else in the rule directory. The
// book syncs with the log every second until ctx ends (other instances' actions);
// close releases the file.
func openAnalyst(ctx context.Context, rulesDir string, client redis.UniversalClient, prefix string) (*analyst.Book, *alerts.Suppressions, func(), error) {
	var log analyst.Log
	closeLog := func() {}
	if client != nil {
		log = redislog.New(client, prefix+":analyst")
	} else {
		fl, err := analyst.OpenFileLog(filepath.Join(rulesDir, analystLogFile))
		if err != nil {
			return nil, nil, nil, err
		}
		log, closeLog = fl, func() { fl.Close() }
	}
	sup := alerts.NewSuppressions(nil)
	book, err := analyst.Open(ctx, log, sup, nil)
	if err != nil {
		closeLog()
		return nil, nil, nil, fmt.Errorf("analyst log: %w", err)
	}
	go run.Every(ctx, time.Second, func() {
		if err := book.Sync(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("analyst log: sync failed (suppressions and feedback of other instances wait)", "err", err)
		}
	})
	return book, sup, closeLog, nil
}

// feedbackMetrics reads the analysts' feedback per rule for the metrics.
func feedbackMetrics(book *analyst.Book) func() []metrics.RuleFeedback {
	return func() []metrics.RuleFeedback {
		var out []metrics.RuleFeedback
		for _, p := range book.Precision("", false) {
			out = append(out, metrics.RuleFeedback{Rule: p.RuleID, Fraud: p.Fraud, FalsePositive: p.FalsePositive})
		}
		return out
	}
}
