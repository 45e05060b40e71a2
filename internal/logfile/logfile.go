package logfile

import (
	"errors"
	"os"
)

// Open opens the log at path for reading and returns it with its size. A log that does
// not exist is empty: a nil file, size 0 and no error. On an error the file is closed.
func Open(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
