//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package state

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// dirLock holds the data directory's LOCK file, created with O_EXCL and removed on
// release. A process killed while holding it leaves the file behind: remove it by hand
// once sure no cepd uses the directory.
type dirLock struct{ path string }

func lockDir(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		b, _ := os.ReadFile(path)
		return nil, fmt.Errorf("%w: %s exists (pid %s); remove it if no cepd is using the directory", ErrLocked, path, strings.TrimSpace(string(b)))
	}
	if err != nil {
		return nil, fmt.Errorf("state: lock file: %w", err)
	}
	_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("state: lock file: %w", err)
	}
	return &dirLock{path: path}, nil
}

func (l *dirLock) release() error { return os.Remove(l.path) }
