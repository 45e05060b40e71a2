package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProcessesKill9Restore (issue 10): one cepd process consuming a paced stream from 6
// partitions with checkpoints in Redis is killed with SIGKILL again and again, each time
// at a different moment (before its group join completes, while it restores, while it
// reads the backlog), and a new one is started at once, without waiting for the group to
// settle. The idle timeout is shorter than the time a new instance waits for the killed
// one's session to expire, so every restore happens on an engine whose idle timer has
// long run out: a restored partition that is counted idle before its backlog is read
// has its keys' windows closed by the other partitions' time, and the trailing
// `not: followed_by` rule (auth-no-capture) then alerts for authorisations whose capture
// is still unread. At the end the alerts topic must hold exactly the replay's alerts.
//
// Each run is independent (its own broker, Redis and kill schedule); CEPD_RESTORE_RUNS
// sets how many (default 3), CEPD_KILL_SEED repeats a schedule.
func TestProcessesKill9Restore(t *testing.T) {
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("CEPD_RESTORE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CEPD_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("kill schedule seed %d (CEPD_KILL_SEED=%d repeats it), %d runs", seed, seed, runs)
	rng := rand.New(rand.NewPCG(seed, 0))
	w := processWorkload(t, 24000, 6)
	failed := 0
	for i := range runs {
		ok := t.Run(fmt.Sprintf("run%d", i), func(t *testing.T) {
			e := newProcEnv(t, 0, false)
			e.w = w
			restoreRun(t, e, rng)
		})
		if !ok {
			failed++
		}
	}
	t.Logf("%d of %d runs failed", failed, runs)
}

// restoreRun is one run of TestProcessesKill9Restore: 4 kills, each 0.4–4.4s after the
// instance started (the session timeout is 3s, so some instances are killed before they
// hold any partition, others while they restore or catch up).
func restoreRun(t *testing.T, e *procEnv, rng *rand.Rand) {
	start := time.Now()
	const group, kills = "restore", 4
	flags := []string{"--idle-timeout", "1s", "--kafka-commit-interval", "500ms", "--kafka-rebalance-timeout", "4s"}
	logs := []string{}
	startOne := func(i int) *cepdProc {
		name := fmt.Sprintf("cepd-run%d", i)
		logs = append(logs, name)
		return e.startCepd(name, "data", "cepd", group, flags...)
	}
	p := startOne(0)
	seen := map[string]bool{}
	e.waitGroup(group, "the first instance holds every partition", 30*time.Second, soleNewOwner(seen))
	prod := e.produce(1600)
	prod.waitSent(t, 500)
	var schedule []string
	for i := 1; i <= kills; i++ {
		d := 400*time.Millisecond + time.Duration(rng.Int64N(int64(4*time.Second)))
		time.Sleep(d)
		p.kill9()
		schedule = append(schedule, fmt.Sprintf("%v (%d sent)", d.Round(10*time.Millisecond), prod.sent.Load()))
		p = startOne(i)
	}
	t.Logf("killed %v after each start", schedule)
	if prod.sent.Load() >= int64(len(e.w.lines)) {
		t.Errorf("the producer was done before the last kill: the kills were not all mid-stream")
	}
	// kfake keeps a member killed between its JoinGroup and SyncGroup in a Stable group
	// for good (Kafka would expire its session); a new member's join evicts it, after
	// the rebalance timeout. So when the group does not settle, one more kill and start.
	for extra := 0; ; extra++ {
		if e.settled(group, 15*time.Second) {
			break
		}
		if extra == 2 {
			state, ms := e.groupMembers(group)
			t.Fatalf("the group does not settle with one member holding every partition: %s %+v", state, ms)
		}
		state, ms := e.groupMembers(group)
		t.Logf("group %s %+v after 15s: one more kill -9 and start", state, ms)
		p.kill9()
		p = startOne(kills + 1 + extra)
	}
	prod.wait(t)
	e.waitConsumed(group, 60*time.Second)
	if err := p.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
	restores := 0
	for _, name := range logs {
		b, _ := os.ReadFile(e.dir + "/" + name + ".log")
		restores += strings.Count(string(b), "partition restored from its checkpoint")
	}
	dups := e.check()
	t.Logf("%d kills, %d partition restores: %d alerts as the replay, %d delivered twice; %v",
		kills, restores, len(e.w.want), dups, time.Since(start).Round(time.Millisecond))
}

// settled reports whether, within timeout, the group is stable with one member holding
// all 6 partitions.
func (e *procEnv) settled(group string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if state, ms := e.groupMembers(group); state == "Stable" && len(ms) == 1 && len(ms[0].parts) == 6 {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
