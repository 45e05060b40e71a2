package devkafka

import (
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.Producer.Return.Successes = true
	c.Consumer.MaxWaitTime = 20 * time.Millisecond
	return c
}

func produce(t *testing.T, addr, topic, value string) {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(value)}); err != nil {
		t.Fatal(err)
	}
}

func consumeOne(t *testing.T, addr, topic string) string {
	t.Helper()
	c, err := sarama.NewConsumer([]string{addr}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		return string(m.Value)
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	return ""
}

// TestRestartKeepsData: a cluster on loopback, seeded topics with the asked partition
// count, and a restart on the same port with the same data directory keeps the records.
func TestRestartKeepsData(t *testing.T) {
	o := Options{Partitions: 1, Topics: []string{"t"}, DataDir: t.TempDir()}
	c, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Addr(), "127.0.0.1:") {
		t.Fatalf("listening on %s, want loopback", c.Addr())
	}
	produce(t, c.Addr(), "t", "hello")
	port := c.Port()
	c.Close()
	c, err = StartAgain(o, port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Port() != port {
		t.Fatalf("restarted on port %d, want %d", c.Port(), port)
	}
	if got := consumeOne(t, c.Addr(), "t"); got != "hello" {
		t.Fatalf("after the restart the topic holds %q", got)
	}
}

// TestBrokersAndPartitions: several brokers on consecutive ports; auto-created topics get
// the default partition count.
func TestBrokersAndPartitions(t *testing.T) {
	c := ForTest(t, Options{Brokers: 3, Partitions: 4})
	if n := len(c.Addrs()); n != 3 {
		t.Fatalf("%d brokers", n)
	}
	client, err := sarama.NewClient(c.Addrs(), saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions("auto")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 4 {
		t.Fatalf("auto-created topic has %d partitions, want 4", len(parts))
	}
}
