package alerts

import (
	"fmt"
	"os"
)

// DefaultFileTail is how much of the end of an alerts file OpenFile reads back.
const DefaultFileTail = 16 << 20

// File appends alerts as JSON lines to a file (cepd serve's --alerts-out), except the
// alerts its tail already held when it was opened: a restart that derives them again
// (from the ingest log, the demo stream) does not write them twice. Safe for concurrent
// use.
type File struct {
	f     *os.File
	lines *JSONLines
	out   Sink
}

// OpenFile opens (creating it) the alerts file at path, reads the alerts in its last
// tail bytes back, and ends a last line a crash cut short, so that the next alert starts
// a line of its own.
func OpenFile(path string, tail int64) (*File, error) {
	recent, err := ReadTail(path, tail)
	if err != nil {
		return nil, fmt.Errorf("alerts file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("alerts file: %w", err)
	}
	if err := endLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("alerts file %s: %w", path, err)
	}
	lines := NewJSONLines(f)
	return &File{f: f, lines: lines, out: Except(IDs(recent), lines)}, nil
}

// Alert appends a unless the file held it when opened.
func (f *File) Alert(a *Alert) { f.out.Alert(a) }

// Failures returns how many writes failed and the first error.
func (f *File) Failures() (int, error) { return f.lines.Failures() }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// endLine appends a newline to f unless it is empty or ends with one.
func endLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		_, err = f.Write([]byte{'\n'})
	}
	return err
}
