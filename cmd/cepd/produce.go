package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/alerts/kafkasink"
	"github.com/cepd/cepd/event"
)

type produceOptions struct {
	conn       kafkaConn
	events     string
	topic      string
	keyField   string
	schemaPath string
	rate       float64
}

func newProduceCmd() *cobra.Command {
	o := &produceOptions{}
	cmd := &cobra.Command{
		Use:   "produce --events FILE --kafka-brokers HOST:PORT --topic events (--schema FILE | --key-field NAME)",
		Short: "send a JSON-lines event file to a Kafka topic, keyed by the schema's key, at full speed or a fixed rate",
		Long: `produce sends each line of a JSON-lines file to a Kafka topic as one message: the
value is the line's bytes untouched, the key is the event's key field (from --schema, or
--key-field), so each key's events land on one partition in file order, as cepd expects.
With --rate it sends that many events per second; otherwise as fast as the brokers take
them. It returns once every event has been acknowledged (acks=all, idempotent).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProduce(cmd.Context(), o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	addKafkaConnFlags(f, &o.conn)
	f.StringVar(&o.events, "events", "", "JSON-lines event file, - for stdin (required)")
	f.StringVar(&o.topic, "topic", "events", "topic to send the events to")
	f.StringVar(&o.schemaPath, "schema", "", "event schema file: its key field keys the messages")
	f.StringVar(&o.keyField, "key-field", "", "top-level field that keys the messages (instead of --schema)")
	f.Float64Var(&o.rate, "rate", 0, "events per second (0: as fast as possible)")
	_ = cmd.MarkFlagRequired("events")
	_ = cmd.MarkFlagRequired("kafka-brokers")
	return cmd
}

func runProduce(ctx context.Context, o *produceOptions, stderr io.Writer) error {
	keyField := o.keyField
	if keyField == "" {
		if o.schemaPath == "" {
			return errors.New("--schema or --key-field is needed to key the events")
		}
		s, err := event.LoadSchema(o.schemaPath)
		if err != nil {
			return err
		}
		keyField = s.KeyField
	}
	var r io.Reader = os.Stdin
	if o.events != "-" {
		f, err := os.Open(o.events)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	w, closeW, err := openEventWriter(&o.conn, o.topic, keyField, o.rate)
	if err != nil {
		return err
	}
	start := time.Now()
	_, err = produceLines(ctx, r, w)
	if cerr := closeW(ctx); err == nil {
		err = cerr
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stderr, "produced %d events to %s in %.2fs (%.0f events/s)\n", w.Sent(), o.topic, secs, float64(w.Sent())/secs)
	return err
}

// openEventWriter connects a producer and returns a writer that sends JSON lines to
// topic, keyed by keyField and paced at rate events/s (0: unpaced). closeFn waits until
// every line is acknowledged and closes the producer. gen --kafka-brokers writes its
// generated lines through it, so Kafka gets the same bytes as a file would.
func openEventWriter(conn *kafkaConn, topic, keyField string, rate float64) (w *kafkasink.LineWriter, closeFn func(context.Context) error, err error) {
	base, err := conn.saramaConfig()
	if err != nil {
		return nil, nil, err
	}
	// Retried by sarama in order for about a minute: a redelivery after that could
	// reorder a key's events.
	p, err := kafkasink.New(kafkasink.Config{Brokers: conn.brokers, Base: base, Retries: 600})
	if err != nil {
		return nil, nil, err
	}
	w = &kafkasink.LineWriter{P: p, Topic: topic, Key: kafkasink.FieldKey(keyField), Rate: rate}
	closeFn = func(ctx context.Context) error {
		err := w.Close(ctx)
		if cerr := p.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return w, closeFn, nil
}

// produceLines copies r's lines to w until r ends or ctx does; it returns the number of
// lines read.
func produceLines(ctx context.Context, r io.Reader, w *kafkasink.LineWriter) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var n int64
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		n++
		if err := w.WriteLine(sc.Bytes()); err != nil {
			return n, err
		}
		if n%1_000_000 == 0 {
			slog.Debug("produced", "events", n)
		}
	}
	return n, sc.Err()
}
