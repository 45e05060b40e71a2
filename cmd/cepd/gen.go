package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/internal/workload"
)

// genOptions are cepd gen's flags.
type genOptions struct {
	cfg      workload.Config
	out      string
	start    string
	scenario []string
	kconn    kafkaConn
	topic    string
	keyField string
	rate     int
}

func newGenCmd() *cobra.Command {
	o := genOptions{cfg: workload.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "gen [--seed S] [--cards N] [--events M] [--out FILE]",
		Short: "write a deterministic synthetic card-event stream with labelled fraud, as JSON lines",
		Long: `gen writes a synthetic stream of card and online-banking events in the shape of the
PaySim and Sparkov generators, matching testdata/fraud/schema.yaml: cardholders with home
cities and spending habits, merchants with categories and MCCs, log-normal amounts, a
daily rhythm, card-present and online purchases, authorisations captured minutes later
(auth_id links them), reversals, refunds, ATM withdrawals, logins, transfers, password
resets, new devices and trips abroad. Fraud scenarios, one per rule of testdata/fraud,
are injected at --fraud-rate of the events; each of their events carries
"label": "<scenario>" (the rule id). The same flags always give the same bytes.

Events are mostly in event-time order; --late-rate of them are written late, by less
than --max-lateness: run the engine with at least that out-of-orderness.`,
		Example: `  cepd gen --seed 1 --cards 100000 --events 1000000 > events.jsonl
  cepd gen --events 20000 --fraud-rate 0.05 --scenario card-testing --scenario atm-cashout`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	o.flags(cmd)
	return cmd
}

func (o *genOptions) flags(cmd *cobra.Command) {
	d := workload.DefaultConfig()
	f := cmd.Flags()
	f.Uint64Var(&o.cfg.Seed, "seed", d.Seed, "random seed: the same seed and flags give the same bytes")
	f.IntVar(&o.cfg.Cards, "cards", d.Cards, "number of cards (cardholders)")
	f.Int64Var(&o.cfg.Events, "events", d.Events, "number of events to write")
	f.StringVar(&o.out, "out", "", "write to this file instead of stdout")
	f.StringVar(&o.start, "start", d.Start.Format(time.RFC3339), "event time of the stream's start (RFC 3339)")
	f.Float64Var(&o.cfg.FraudRate, "fraud-rate", d.FraudRate, "share of events belonging to injected fraud scenarios")
	f.Float64Var(&o.cfg.LateRate, "late-rate", d.LateRate, "share of events written late (out of event-time order)")
	f.DurationVar(&o.cfg.MaxLateness, "max-lateness", d.MaxLateness, "how late a late event can be (set the engine's out-of-orderness to at least this)")
	f.Float64Var(&o.cfg.ActivitiesPerCardPerDay, "activity", d.ActivitiesPerCardPerDay, "activities per card per day (sets the event-time span)")
	addKafkaConnFlags(f, &o.kconn)
	f.StringVar(&o.topic, "topic", "events", "with --kafka-brokers: the topic to write to")
	f.StringVar(&o.keyField, "key-field", "card_id", "with --kafka-brokers: the JSON field whose value keys each message")
	f.IntVar(&o.rate, "rate", 0, "with --kafka-brokers: events per second (0: as fast as possible)")
	f.StringSliceVar(&o.scenario, "scenario", nil, fmt.Sprintf("inject only these fraud scenarios (repeatable; default all: %v)", workload.ScenarioNames()))
}

// run writes the stream to stdout, --out or Kafka.
func (o *genOptions) run(cmd *cobra.Command) error {
	t, err := time.Parse(time.RFC3339, o.start)
	if err != nil {
		return fmt.Errorf("--start: %w", err)
	}
	o.cfg.Start = t.UTC()
	o.cfg.Scenarios = o.scenario
	g, err := workload.New(o.cfg)
	if err != nil {
		return err
	}
	var w io.Writer = cmd.OutOrStdout()
	var file *os.File
	if o.out != "" && o.out != "-" {
		if file, err = os.Create(o.out); err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	var closeK func(context.Context) error
	if len(o.kconn.brokers) > 0 { // to Kafka: the same bytes, one message per line
		kw, c, err := openEventWriter(&o.kconn, o.topic, o.keyField, float64(o.rate))
		if err != nil {
			return err
		}
		w, closeK = kw, c
	}
	began := time.Now()
	if _, err := g.WriteTo(w); err != nil { // buffered inside
		return err
	}
	if closeK != nil {
		if err := closeK(cmd.Context()); err != nil {
			return err
		}
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return err
		}
	}
	s := g.Stats()
	slog.Info("generated", "events", s.Events, "labelled", s.Labelled, "late", s.Late,
		"first", s.First.Format(time.RFC3339), "last", s.Last.Format(time.RFC3339),
		"took", time.Since(began).Round(time.Millisecond))
	for _, sc := range s.Scenarios {
		slog.Debug("scenario", "name", sc.Name, "instances", sc.Instances, "events", sc.Events)
	}
	return nil
}
