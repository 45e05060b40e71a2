package kafka

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/internal/kafkatest"
)

// stallReport logs what tells a stuck forwarder from a stuck broker when
// TestRepartitionKill9's last forwarder stops making progress: each source partition's end
// and the offset its transactions committed, each repartition partition's end and last
// stable offset (an open transaction holds a read_committed reader there), and the
// forwarder group's state, members and claims. Then it makes the last forwarder print
// every goroutine's stack (SIGQUIT with GOTRACEBACK=all) before the test kills it.
func stallReport(t *testing.T, addr string, last *exec.Cmd) {
	t.Helper()
	client, err := sarama.NewClient([]string{addr}, kafkatest.Config())
	if err != nil {
		t.Logf("stall report: %v", err)
		return
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Logf("stall report: %v", err)
		return
	}
	group := RepartitionGroup(repGroup)
	var b strings.Builder
	committed, err := admin.ListConsumerGroupOffsets(group, nil)
	fmt.Fprintf(&b, "source partitions (end, committed by the forwarder; err %v):", err)
	for p := range int32(4) {
		end, err := client.GetOffset("events", p, sarama.OffsetNewest)
		off := int64(-2)
		if committed != nil {
			if blk := committed.GetBlock("events", p); blk != nil {
				off = blk.Offset
			}
		}
		fmt.Fprintf(&b, " %d: %d, %d (%v);", p, end, off, err)
	}
	topic := RepartitionTopic(repGroup, "device_id")
	parts, _ := client.Partitions(topic)
	fmt.Fprintf(&b, "\nrepartition partitions (end, last stable):")
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		lso, lerr := lastStable(client, topic, p)
		fmt.Fprintf(&b, " %d: %d, %d (%v, %v);", p, end, lso, err, lerr)
	}
	descs, err := admin.DescribeConsumerGroups([]string{group})
	for _, d := range descs {
		fmt.Fprintf(&b, "\ngroup %s: state %s, %d members", d.GroupId, d.State, len(d.Members))
		for id, m := range d.Members {
			a, aerr := m.GetMemberAssignment()
			var claims any = aerr
			if a != nil {
				claims = a.Topics
			}
			fmt.Fprintf(&b, "\n  %s (%s): %v", id, m.ClientHost, claims)
		}
	}
	t.Logf("stall report (describe err %v):\n%s", err, b.String())
	if last == nil || last.Process == nil {
		return
	}
	t.Logf("the last forwarder's goroutines follow (SIGQUIT)")
	_ = last.Process.Signal(syscall.SIGQUIT)
	exited := make(chan struct{})
	go func() {
		_ = last.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
}

// lastStable asks partition p's leader for its last stable offset: the end a
// read_committed reader may read to.
func lastStable(client sarama.Client, topic string, p int32) (int64, error) {
	b, err := client.Leader(topic, p)
	if err != nil {
		return 0, err
	}
	req := sarama.NewOffsetRequest(client.Config().Version)
	req.IsolationLevel = sarama.ReadCommitted
	req.AddBlock(topic, p, sarama.OffsetNewest, 1)
	resp, err := b.GetAvailableOffsets(req)
	if err != nil {
		return 0, err
	}
	blk := resp.GetBlock(topic, p)
	switch {
	case blk == nil:
		return 0, fmt.Errorf("no answer for the partition")
	case blk.Err != sarama.ErrNoError:
		return 0, blk.Err
	case len(blk.Offsets) == 1: // version 0
		return blk.Offsets[0], nil
	}
	return blk.Offset, nil
}
