//go:build unix

package home

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// CanLock reports whether Lock excludes other processes on this system
// (flock). Where it cannot, a holder of the exclusive lock cannot assume it
// is alone, e.g. to remove what looks like another process's leftovers.
const CanLock = true

// Lock takes an flock on the file path (created, with its folder, if
// missing), exclusive
// unless opts.Shared, and holds it until the returned Closer is closed or
// the process exits — a killed holder never leaves a stale lock. While
// another process (or another Lock in this one) holds it, Lock tries again
// until opts.Wait has passed, then fails with an error wrapping ErrLocked
// that says what to do; cancelling ctx stops the wait. Where flock is
// unavailable (not unix) Lock does nothing.
func Lock(ctx context.Context, path string, opts LockOptions) (io.Closer, error) {
	what := opts.What
	if what == "" {
		what = path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("locking %s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", what, err)
	}
	return flockWait(ctx, f, what, opts)
}

// LockFolder is Lock on the folder dir itself rather than a file in it, so
// nothing is left behind: pulls swapping their output into dir hold it.
func LockFolder(ctx context.Context, dir string, opts LockOptions) (io.Closer, error) {
	what := opts.What
	if what == "" {
		what = dir
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", what, err)
	}
	return flockWait(ctx, f, what, opts)
}

func flockWait(ctx context.Context, f *os.File, what string, opts LockOptions) (io.Closer, error) {
	how := syscall.LOCK_EX
	if opts.Shared {
		how = syscall.LOCK_SH
	}
	wait := opts.wait()
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", what, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			if opts.Busy != "" {
				return nil, fmt.Errorf("%s (%w); waited %s: try again when it is done", opts.Busy, ErrLocked, wait)
			}
			return nil, fmt.Errorf("%s is %w that is still writing to it; waited %s (try again when it is done)", what, ErrLocked, wait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock on %s: %w", what, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
