package state_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/state"
)

// killCheckpoint is checkpoint i of the kill -9 test: a deterministic function of i, so
// that the state after any prefix can be recomputed.
func killCheckpoint(i int) *state.Checkpoint {
	cp := &state.Checkpoint{Partition: 0, Epoch: 1, Offset: int64(i), Watermark: int64(i) * 7, RuleSet: "rs"}
	for j := range 40 {
		cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: fmt.Sprint("k", (i*7+j)%300),
			Data: []byte(fmt.Sprintf("%d/%d/%s", i, j, strings.Repeat("z", (i*j)%3000)))})
	}
	cp.Deletes = []string{fmt.Sprint("k", (i*13)%300)}
	return cp
}

func killModel(n int) kv {
	m := kv{}
	for i := 0; i <= n; i++ {
		cp := killCheckpoint(i)
		for _, u := range cp.Upserts {
			m[u.Key] = string(u.Data)
		}
		for _, k := range cp.Deletes {
			delete(m, k)
		}
	}
	return m
}

const killDirEnv = "CEPD_STATE_KILL_HELPER_DIR"

// TestFileStoreKillHelper is the process TestFileStoreKill9 kills: it restores the
// partition and saves checkpoints from the next offset on, forever. It does nothing in
// an ordinary test run.
func TestFileStoreKillHelper(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		return
	}
	s, err := state.OpenDir(dir, state.FileOptions{CompactMinBytes: 256 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	got, meta := loadAll(t, s, 0)
	next := 0
	if meta.Found {
		if want := killModel(int(meta.Offset)); !reflect.DeepEqual(got, want) {
			fmt.Fprintf(os.Stderr, "restored state at offset %d differs\n", meta.Offset)
			os.Exit(4)
		}
		next = int(meta.Offset) + 1
	}
	for i := next; ; i++ {
		if err := s.Save(bg, killCheckpoint(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(5)
		}
		if i == next {
			fmt.Println("saving") // the test's kill timer starts now, not at the process start
		}
	}
}

// TestFileStoreKill9 kills a process that is saving checkpoints (with fsync and
// compaction) at arbitrary moments; each restart must find the directory unlocked and
// the state of exactly some checkpoint, and carry on from it.
func TestFileStoreKill9(t *testing.T) {
	dir := t.TempDir()
	last := -1
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreKillHelper$")
		cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the first save (a loaded machine may take longer than the kill delay
		// just to start the process), then kill at a varied moment after it.
		saving := make(chan struct{})
		go func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			if strings.HasPrefix(line, "saving") {
				close(saving)
			}
			_, _ = io.Copy(io.Discard, stdout)
		}()
		select {
		case <-saving:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: the helper saved nothing in 60 s: %s", round, stderr.String())
		}
		time.Sleep(time.Duration(20+round*37) * time.Millisecond)
		cmd.Process.Kill()
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
			t.Fatalf("round %d: helper ended by itself (%v): %s", round, err, stderr.String())
		}
		s, err := state.OpenDir(dir, state.FileOptions{Warn: func(_ int, err error) { t.Logf("round %d: %v", round, err) }})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		got, meta := loadAll(t, s, 0)
		s.Close()
		if !meta.Found || int(meta.Offset) < last {
			t.Fatalf("round %d: meta %+v after offset %d", round, meta, last)
		}
		if want := killModel(int(meta.Offset)); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: state at offset %d differs from the model", round, meta.Offset)
		}
		t.Logf("round %d: killed after checkpoint %d", round, meta.Offset)
		last = int(meta.Offset)
	}
}
