package devkafka

import (
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/internal/kafkatest"
)

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
	kafkatest.Produce(t, c.Addr(), "t", "hello")
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
	if got := kafkatest.ReadTopic(t, c.Addr(), "t"); len(got) != 1 || string(got[0].Value) != "hello" {
		t.Fatalf("after the restart the topic holds %d messages: %v", len(got), got)
	}
}

// TestBrokersAndPartitions: several brokers on consecutive ports; auto-created topics get
// the default partition count.
func TestBrokersAndPartitions(t *testing.T) {
	c := ForTest(t, Options{Brokers: 3, Partitions: 4})
	if n := len(c.Addrs()); n != 3 {
		t.Fatalf("%d brokers", n)
	}
	client, err := sarama.NewClient(c.Addrs(), kafkatest.Config())
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
