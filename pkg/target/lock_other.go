//go:build !unix

package target

import "io"

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// lockDir is a no-op where flock is unavailable.
func lockDir(string, bool) (io.Closer, error) { return nopCloser{}, nil }
