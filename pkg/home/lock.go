package home

import (
	"errors"
	"time"
)

// DefaultLockWait bounds how long Lock waits for another holder.
const DefaultLockWait = 60 * time.Second

// ErrLocked is wrapped when Lock gave up waiting for another holder.
var ErrLocked = errors.New("locked by another tierpack command")

// LockOptions tune Lock. The zero value takes an exclusive lock and waits
// up to DefaultLockWait.
type LockOptions struct {
	// Shared takes a shared (reader) lock, which many may hold at once but
	// not while anyone holds the exclusive one.
	Shared bool
	// Wait bounds the wait for another holder; zero means DefaultLockWait,
	// a negative value means do not wait.
	Wait time.Duration
	// What names what the lock protects in errors (e.g. the folder of an
	// OCI layout); empty means the lock file.
	What string
	// Busy, when set, is what the error says when the wait gives up, e.g.
	// "another pull is writing DIR".
	Busy string
}

// lockPoll is how often a waiting Lock tries again.
const lockPoll = 25 * time.Millisecond

func (o LockOptions) wait() time.Duration {
	switch {
	case o.Wait == 0:
		return DefaultLockWait
	case o.Wait < 0:
		return 0
	}
	return o.Wait
}
