//go:build !unix

package home

import (
	"context"
	"io"
)

// CanLock reports whether Lock excludes other processes on this system:
// not here (no flock), so no holder may assume it is alone.
const CanLock = false

// Lock does nothing where flock is unavailable: concurrent writers of one
// file may then lose each other's changes (see the unix Lock).
func Lock(context.Context, string, LockOptions) (io.Closer, error) { return nopCloser{}, nil }

// nopCloser is the lock where there is none.
type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// LockFolder does nothing where flock is unavailable.
func LockFolder(context.Context, string, LockOptions) (io.Closer, error) { return nopCloser{}, nil }
