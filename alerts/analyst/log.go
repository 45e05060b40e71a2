package analyst

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cepd/cepd/alerts"
)

// Actions of an Entry.
const (
	ActionSuppress   = "suppress"
	ActionUnsuppress = "unsuppress"
	ActionFeedback   = "feedback"
)

// Entry is one analyst action, as the log keeps it.
type Entry struct {
	// Seq is the entry's position in the log (1, 2, …), set when read back.
	Seq    int64     `json:"seq,omitempty"`
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Action string    `json:"action"`
	// Suppression is the suppression made (suppress).
	Suppression *alerts.Suppression `json:"suppression,omitempty"`
	// ID is the suppression ended (unsuppress); Reason why.
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Feedback is the feedback given (feedback).
	Feedback *Feedback `json:"feedback,omitempty"`
}

// Log is an append-only log of entries.
type Log interface {
	// Append adds e at the end of the log, durably before it returns. Safe for
	// concurrent use; an error means e may or may not have been appended.
	Append(ctx context.Context, e Entry) error
	// Read calls fn, in log order, for every entry after position after (0: all), with
	// its Seq set. An entry that cannot be decoded is skipped (its Seq is used up).
	Read(ctx context.Context, after int64, fn func(Entry)) error
}

// FileLog is a Log in one JSON-lines file (fsynced per append). One process per file.
type FileLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenFileLog opens (creating) the log file at path.
func OpenFileLog(path string) (*FileLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("analyst log: %w", err)
	}
	return &FileLog{path: path, f: f}, nil
}

// Close closes the file.
func (l *FileLog) Close() error { return l.f.Close() }

// Append implements Log.
func (l *FileLog) Append(_ context.Context, e Entry) error {
	e.Seq = 0
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("analyst log: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("analyst log: append: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("analyst log: sync: %w", err)
	}
	return nil
}

// Read implements Log. A torn last line (a crash mid-append) is not read, and not
// counted; a line longer than 64 KiB (cepd bounds its entries far below) is skipped.
func (l *FileLog) Read(_ context.Context, after int64, fn func(Entry)) error {
	f, err := os.Open(l.path)
	if err != nil {
		return fmt.Errorf("analyst log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var seq int64
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) { // too long: skip it whole
				_, err = r.ReadSlice('\n')
			}
			if err == nil {
				seq++
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("analyst log: %w", err)
		}
		seq++
		if seq <= after {
			continue
		}
		var e Entry
		if json.Unmarshal(line, &e) == nil {
			e.Seq = seq
			fn(e)
		}
	}
}
