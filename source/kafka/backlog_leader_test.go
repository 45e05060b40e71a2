package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/kafkatest"
)

// TestQuestionFollowsLeaderMove: after the partition's leader moves to another broker,
// the claim's backlog question (asked on the source's question client) finds the new
// leader, and the partition, read to its end, turns idle again. Before, the question
// client kept asking the old leader (its metadata is refreshed every 10 minutes), each
// answer was NotLeaderForPartition, and the partition kept a backlog: it never turned
// idle, and the other partitions' keys waited for its next event to close their windows.
func TestQuestionFollowsLeaderMove(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Brokers: 2, Partitions: 1, Topics: []string{"ev"}})
	pc := kafkatest.Config()
	pc.Producer.Partitioner = sarama.NewManualPartitioner
	pc.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(kc.Addrs(), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	send := func(i int) {
		t.Helper()
		v := fmt.Sprintf(`{"event_id":"e%d","card_id":"c1","ts":%d,"type":"login","channel":"web"}`, i, 1_700_000_000_000+int64(i)*1000)
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "ev", Partition: 0, Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	eng := idleSource(t, time.Second, Config{Brokers: kc.Addrs(), Topics: []string{"ev"}, BacklogCheck: 100 * time.Millisecond})
	part := func() engine.PartitionStats { p, _ := onlyPartition(eng); return p }
	waitFor(t, "the record", func() bool { return part().Events == 1 })
	waitFor(t, "the partition to turn idle", func() bool { p := part(); return p.Idle && !p.Backlog })
	for i := 1; i <= 3; i++ {
		to := 1 - kc.Kfake().LeaderFor("ev", 0)
		if err := kc.Kfake().MoveTopicPartition("ev", 0, to); err != nil {
			t.Fatal(err)
		}
		send(i)
		waitFor(t, "the record after the move", func() bool { p := part(); return p.Events == uint64(i+1) && !p.Idle })
		waitFor(t, "the partition to turn idle on its new leader", func() bool { p := part(); return p.Idle && !p.Backlog })
	}
}
