package kafkasink

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/IBM/sarama"
	"github.com/buger/jsonparser"
)

// KeyFunc returns the Kafka message key of an event line (nil: no key, so a random
// partition).
type KeyFunc func(line []byte) []byte

// FieldKey keys lines by a top-level JSON field, as the engine reads the schema's key
// field: a string's unescaped text, or a number's or boolean's JSON text. Lines without
// the field (or that are not JSON objects) get no key.
func FieldKey(field string) KeyFunc {
	return func(line []byte) []byte {
		v, dt, _, err := jsonparser.Get(line, field)
		if err != nil {
			return nil
		}
		switch dt {
		case jsonparser.String:
			s, err := jsonparser.ParseString(v)
			if err != nil {
				return nil
			}
			return []byte(s)
		case jsonparser.Number, jsonparser.Boolean:
			return append([]byte(nil), v...)
		}
		return nil
	}
}

// LineWriter sends JSON-lines events to a topic, one message per line: the value is the
// line's bytes untouched (without its line terminator), the key comes from Key. Blank
// lines are skipped. With Rate > 0 it paces itself to that many lines per second.
// It is an io.Writer, so a generator writing JSON lines can write to Kafka unchanged.
// Not safe for concurrent use.
type LineWriter struct {
	P     *Producer
	Topic string
	Key   KeyFunc
	Rate  float64

	start   time.Time
	n       int64
	partial []byte
}

// Write sends every complete line of b; a trailing partial line waits for the next
// Write or Close.
func (w *LineWriter) Write(b []byte) (int, error) {
	total := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.partial = append(w.partial, b...)
			break
		}
		line := b[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		if err := w.WriteLine(line); err != nil {
			return total - len(b), err
		}
		b = b[i+1:]
	}
	return total, nil
}

// WriteLine sends one event (a trailing "\r" is dropped as part of the line terminator).
func (w *LineWriter) WriteLine(line []byte) error {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	if w.Topic == "" {
		return errors.New("kafka line writer: no topic")
	}
	if w.Rate > 0 {
		if w.n == 0 {
			w.start = time.Now()
		}
		due := w.start.Add(time.Duration(float64(w.n) / w.Rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
	}
	w.n++
	value := append([]byte(nil), line...)
	msg := &sarama.ProducerMessage{Topic: w.Topic, Value: sarama.ByteEncoder(value)}
	if w.Key != nil {
		if k := w.Key(value); k != nil {
			msg.Key = sarama.ByteEncoder(k)
		}
	}
	w.P.lines.Add(1)
	return w.P.send(msg)
}

// Sent returns how many lines have been handed to the producer.
func (w *LineWriter) Sent() int64 { return w.n }

// Close sends a trailing partial line and waits until every line is acknowledged. It
// does not close the Producer.
func (w *LineWriter) Close(ctx context.Context) error {
	if len(w.partial) > 0 {
		line := w.partial
		w.partial = nil
		if err := w.WriteLine(line); err != nil {
			return err
		}
	}
	return w.P.Flush(ctx)
}
