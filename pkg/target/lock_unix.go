//go:build unix

package target

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

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
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return f, nil
}
