//go:build unix

package target

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockWait bounds how long opening a layout waits for another writer.
var lockWait = 60 * time.Second

// lockDir takes an flock on dir/.tierpack.lock: exclusive for writers, shared
// for readers. oci.Store rewrites index.json whole, so two writers at once
// would lose each other's tags.
func lockDir(dir string, exclusive bool) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".tierpack.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	// Wait a bounded time for another process (or another open in this
	// one) to finish, rather than forever.
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s is locked by another tierpack command that is still writing to it; waited %s (try again when it is done)", dir, lockWait)
			}
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
