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
// TestRepartitionKill9's last forwarder stops making progress. First it makes the last
// forwarder print every goroutine's stack (SIGQUIT with GOTRACEBACK=all); then it logs
// each source partition's end and the offset the forwarder's transactions committed,
// each repartition partition's end and last stable offset (an open transaction holds a
// read_committed reader there), and the forwarder group's state, members and claims.
func stallReport(t *testing.T, addr string, last *exec.Cmd) {
	t.Helper()
	if last != nil && last.Process != nil {
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
	group, topic := RepartitionGroup(repGroup), RepartitionTopic(repGroup, "device_id")
	t.Logf("stall report: source ends %v, committed by the forwarder %v; repartition ends %v, last stable %v",
		kafkatest.EndOffsets(t, addr, "events"), kafkatest.GroupOffsets(t, addr, group, "events"),
		kafkatest.EndOffsets(t, addr, topic), kafkatest.StableOffsets(t, addr, topic))
	admin, err := sarama.NewClusterAdmin([]string{addr}, kafkatest.Config())
	if err != nil {
		t.Logf("stall report: %v", err)
		return
	}
	defer admin.Close()
	descs, err := admin.DescribeConsumerGroups([]string{group})
	var b strings.Builder
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
	t.Logf("stall report (describe err %v):%s", err, b.String())
}
