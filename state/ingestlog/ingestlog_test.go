package ingestlog

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func recs(from, to int64) []Record {
	var out []Record
	for o := from; o <= to; o++ {
		out = append(out, Record{Offset: o, Value: []byte(fmt.Sprintf(`{"n":%d}`, o))})
	}
	return out
}

func replayed(t *testing.T, l *Log, after int64) []int64 {
	t.Helper()
	var got []int64
	err := l.Replay(after, 7, func(rs []Record) error {
		for _, r := range rs {
			if string(r.Value) != fmt.Sprintf(`{"n":%d}`, r.Offset) {
				t.Fatalf("record %d holds %q", r.Offset, r.Value)
			}
			got = append(got, r.Offset)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func span(from, to int64) []int64 {
	var out []int64
	for o := from; o <= to; o++ {
		out = append(out, o)
	}
	return out
}

// TestLog: appended records come back after a reopen, from any offset, across segments;
// Trim drops only segments a checkpoint covers whole.
func TestLog(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentBytes: 200, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 100; i += 10 {
		if err := l.Append(recs(i, i+9)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append(recs(50, 50)); err == nil {
		t.Fatal("an offset going back was appended")
	}
	if err := l.Append(append(recs(101, 102), recs(90, 90)...)); err == nil || l.Last() != 100 {
		t.Fatalf("a batch going back half way: %v, last %d (want an error and nothing written)", err, l.Last())
	}
	l.Close()
	l, err = Open(dir, Options{SegmentBytes: 200, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Last() != 100 || l.Segments() < 3 {
		t.Fatalf("last %d, %d segments", l.Last(), l.Segments())
	}
	for _, after := range []int64{0, 1, 37, 99, 100} {
		if got := replayed(t, l, after); fmt.Sprint(got) != fmt.Sprint(span(after+1, 100)) {
			t.Errorf("replay after %d: %v", after, got)
		}
	}
	n := l.Segments()
	if err := l.Trim(55); err != nil {
		t.Fatal(err)
	}
	if l.Segments() >= n {
		t.Errorf("trim dropped nothing: %d segments", l.Segments())
	}
	if got := replayed(t, l, 55); fmt.Sprint(got) != fmt.Sprint(span(56, 100)) {
		t.Errorf("replay after a trim: %v", got)
	}
	if err := l.Append(recs(101, 105)); err != nil {
		t.Fatal(err)
	}
	if got := replayed(t, l, 100); fmt.Sprint(got) != fmt.Sprint(span(101, 105)) {
		t.Errorf("appended after reopening: %v", got)
	}
}

// TestTornTail: a record cut short at the end (a crash mid-write) is cut off at Open and
// the log goes on; damage before the last segment is an error.
func TestTornTail(t *testing.T) {
	for _, cut := range []int{1, 5, 16, 20} {
		dir := t.TempDir()
		l, _ := Open(dir, Options{NoSync: true})
		l.Append(recs(1, 3))
		l.Close()
		seg := filepath.Join(dir, fmt.Sprintf("%020d.log", 1))
		st, _ := os.Stat(seg)
		if err := os.Truncate(seg, st.Size()-int64(cut)); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{NoSync: true})
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if got := replayed(t, l, 0); fmt.Sprint(got) != "[1 2]" || l.Last() != 2 {
			t.Errorf("cut %d: replayed %v, last %d", cut, got, l.Last())
		}
		if err := l.Append(recs(3, 4)); err != nil {
			t.Fatal(err)
		}
		if got := replayed(t, l, 0); fmt.Sprint(got) != "[1 2 3 4]" {
			t.Errorf("cut %d: after appending again %v", cut, got)
		}
		l.Close()
	}

	dir := t.TempDir()
	l, _ := Open(dir, Options{SegmentBytes: 10, NoSync: true})
	l.Append(recs(1, 1))
	l.Append(recs(2, 2)) // a second segment
	l.Close()
	first := filepath.Join(dir, fmt.Sprintf("%020d.log", 1))
	b, _ := os.ReadFile(first)
	b[len(b)-1] ^= 0xff
	os.WriteFile(first, b, 0o644)
	if _, err := Open(dir, Options{NoSync: true}); err == nil {
		t.Error("a damaged segment before the last one opened")
	}
}

// FuzzOpen: whatever the last segment holds, Open and Replay neither panic nor return
// records beyond the intact prefix, and the log takes appends after it.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	l, _ := Open(dir, Options{NoSync: true})
	l.Append(recs(1, 3))
	l.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.log", 1)))
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.log", 1)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{NoSync: true})
		if err != nil {
			return
		}
		defer l.Close()
		_ = l.Replay(-1<<62, 3, func(rs []Record) error {
			for _, r := range rs {
				if r.Offset > l.Last() {
					t.Fatalf("replayed offset %d beyond the last %d", r.Offset, l.Last())
				}
			}
			return nil
		})
		if l.Last() < 1<<62 {
			if err := l.Append([]Record{{Offset: l.Last() + 1, Value: []byte("{}")}}); err != nil {
				t.Fatalf("append after open: %v", err)
			}
		}
	})
}

// BenchmarkAppend: one request's events appended, synced or not.
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []bool{true, false} {
		for _, n := range []int{1, 100} {
			b.Run(fmt.Sprintf("sync=%v/events=%d", sync, n), func(b *testing.B) {
				l, err := Open(b.TempDir(), Options{NoSync: !sync})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				batch := recs(1, int64(n))
				for i := range batch {
					batch[i].Value = make([]byte, 300) // a typical event
				}
				b.SetBytes(int64(300 * n))
				for i := 0; i < b.N; i++ {
					for j := range batch {
						batch[j].Offset = int64(i*n + j + 1)
					}
					if err := l.Append(batch); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkConcurrentRequests: clients sending one event a request, 16 at a time, as REST
// ingest does: offsets and writes in one order under a lock, then each waits for its
// records to be synced. "group" syncs outside the lock (concurrent requests share an
// fsync); "serial" holds the lock through the fsync.
func BenchmarkConcurrentRequests(b *testing.B) {
	for _, group := range []bool{true, false} {
		b.Run(fmt.Sprintf("group=%v", group), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var mu sync.Mutex
			next := int64(0)
			val := make([]byte, 300)
			b.SetParallelism(8) // 16 clients on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.Lock()
					next++
					err := l.Write([]Record{{Offset: next, Value: val}})
					if err == nil && !group {
						err = l.Sync()
					}
					mu.Unlock()
					if err == nil && group {
						err = l.Sync()
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
