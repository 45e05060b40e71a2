package kafkatest_test

import (
	"maps"
	"testing"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/kafkatest"
)

// TestOffsets: on a topic of three partitions, the end offsets count the messages
// produced; the last stable offsets are the end offsets until a transaction is open,
// then stay where the open transaction began while the end offsets move past it.
func TestOffsets(t *testing.T) {
	c := devkafka.ForTest(t, devkafka.Options{Partitions: 3, Topics: []string{"t"}})
	addr := c.Addr()
	if ends := kafkatest.EndOffsets(t, addr, "t"); len(ends) != 3 || sum(ends) != 0 {
		t.Fatalf("end offsets of an empty topic: %v, want three zeros", ends)
	}
	kafkatest.Produce(t, addr, "t", "a", "b", "c", "d", "e", "f", "g")
	ends := kafkatest.EndOffsets(t, addr, "t")
	if len(ends) != 3 || sum(ends) != 7 {
		t.Fatalf("end offsets after 7 messages: %v, want 3 partitions summing to 7", ends)
	}
	if got := int64(len(kafkatest.ReadTopic(t, addr, "t"))); got != sum(ends) {
		t.Fatalf("read %d messages, end offsets sum to %d", got, sum(ends))
	}
	if stable := kafkatest.StableOffsets(t, addr, "t"); !maps.Equal(stable, ends) {
		t.Fatalf("stable offsets %v with no transaction open, want the end offsets %v", stable, ends)
	}

	conf := kafkatest.Config()
	conf.Producer.Idempotent = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Transaction.ID = "kafkatest"
	conf.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{addr}, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	part, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("open")})
	if err != nil {
		t.Fatal(err)
	}
	open := kafkatest.EndOffsets(t, addr, "t")
	if open[part] <= ends[part] {
		t.Fatalf("end offset of partition %d: %d after a transactional message, want past %d", part, open[part], ends[part])
	}
	if stable := kafkatest.StableOffsets(t, addr, "t"); !maps.Equal(stable, ends) {
		t.Fatalf("stable offsets %v with a transaction open on partition %d, want %v (end offsets %v)", stable, part, ends, open)
	}
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
