package kafkatest

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Config returns the client configuration of the helpers: Kafka 2.8, producers that
// report successes, and consumers that wait at most 20 ms for data.
func Config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.ClientID = "cepd-test"
	c.Producer.Return.Successes = true
	c.Consumer.MaxWaitTime = 20 * time.Millisecond
	return c
}

// Produce sends each value to topic, one message each, in order, and returns when the
// broker has acknowledged them all.
func Produce(t testing.TB, addr, topic string, values ...string) {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, Config())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, v := range values {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatal(err)
		}
	}
}

// ReadTopic reads every message of topic up to its current end, partition by partition;
// it fails the test when a partition's messages do not come within 20 s.
func ReadTopic(t testing.TB, addr, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	client, parts := topicClient(t, addr, topic)
	defer client.Close()
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var out []*sarama.ConsumerMessage
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(20 * time.Second)
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				out = append(out, m)
				done = m.Offset >= end-1
			case <-timeout:
				t.Fatalf("%s/%d: read %d messages, timed out before offset %d", topic, p, len(out), end)
			}
		}
		pc.Close()
	}
	return out
}

// ReadQuiet reads every partition of topic from its oldest message, with isolation iso
// (sarama.ReadCommitted leaves out aborted transactions and control records), until no
// message has come for quiet. It returns the messages in the order they came: each
// partition's in offset order, the partitions interleaved.
func ReadQuiet(t testing.TB, addr, topic string, iso sarama.IsolationLevel, quiet time.Duration) []*sarama.ConsumerMessage {
	t.Helper()
	c := Config()
	c.Consumer.IsolationLevel = iso
	c.Consumer.MaxWaitTime = 50 * time.Millisecond
	cons, err := sarama.NewConsumer([]string{addr}, c)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	parts, err := cons.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *sarama.ConsumerMessage, 1024)
	for _, p := range parts {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				got <- m
			}
		}()
	}
	var out []*sarama.ConsumerMessage
	for {
		select {
		case m := <-got:
			out = append(out, m)
		case <-time.After(quiet):
			return out
		}
	}
}

// topicClient returns a client of the broker at addr and the partitions of topic.
func topicClient(t testing.TB, addr, topic string) (sarama.Client, []int32) {
	t.Helper()
	client, err := sarama.NewClient([]string{addr}, Config())
	if err != nil {
		t.Fatal(err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	return client, parts
}

// partitionOffsets returns an offset of each partition of topic on the broker at addr,
// as offset reads it through a client of the broker (ok false: the partition has none).
func partitionOffsets(t testing.TB, addr, topic string, offset func(c sarama.Client, p int32) (o int64, ok bool, err error)) map[int32]int64 {
	t.Helper()
	client, parts := topicClient(t, addr, topic)
	defer client.Close()
	out := map[int32]int64{}
	for _, p := range parts {
		o, ok, err := offset(client, p)
		if err != nil {
			t.Fatalf("partition %d of %s: %v", p, topic, err)
		}
		if ok {
			out[p] = o
		}
	}
	return out
}

// EndOffsets returns each partition's end offset.
func EndOffsets(t testing.TB, addr, topic string) map[int32]int64 {
	t.Helper()
	return partitionOffsets(t, addr, topic, func(c sarama.Client, p int32) (int64, bool, error) {
		o, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		return o, true, err
	})
}

// StableOffsets returns each partition's last stable offset: where a read_committed
// reader stops while a transaction is open.
func StableOffsets(t testing.TB, addr, topic string) map[int32]int64 {
	t.Helper()
	return partitionOffsets(t, addr, topic, func(c sarama.Client, p int32) (int64, bool, error) {
		b, err := c.Leader(topic, p)
		if err != nil {
			return 0, false, err
		}
		req := sarama.NewOffsetRequest(c.Config().Version)
		req.IsolationLevel = sarama.ReadCommitted
		req.AddBlock(topic, p, sarama.OffsetNewest, 1)
		resp, err := b.GetAvailableOffsets(req)
		if err != nil {
			return 0, false, err
		}
		if blk := resp.GetBlock(topic, p); blk != nil && blk.Err == sarama.ErrNoError {
			return blk.Offset, true, nil
		}
		return 0, false, nil
	})
}

// GroupOffsets returns the offsets group has committed on topic's partitions (-1, or no
// entry: none).
func GroupOffsets(t testing.TB, addr, group, topic string) map[int32]int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{addr}, Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		out[p] = b.Offset
	}
	return out
}

// Headers returns a message's headers as a map.
func Headers(m *sarama.ConsumerMessage) map[string]string {
	h := map[string]string{}
	for _, rh := range m.Headers {
		h[string(rh.Key)] = string(rh.Value)
	}
	return h
}
