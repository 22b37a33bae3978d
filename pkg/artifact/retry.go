package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"oras.land/oras-go/v2/registry/remote/errcode"
)

// DefaultAttempts is how many times a blob transfer is tried before a push
// or pull gives up. The HTTP client underneath already retries requests it
// can replay; this covers what it cannot: a connection reset or stall in
// the middle of a body, which needs a fresh upload session or download.
const DefaultAttempts = 4

// retryBackoff is the wait before attempt n (1-based retries).
func retryBackoff(n int) time.Duration {
	d := 250 * time.Millisecond << (n - 1)
	if d > 4*time.Second {
		d = 4 * time.Second
	}
	return d
}

// transient reports whether err is worth another attempt: network
// failures, stalls, truncated bodies, and registry answers 408, 429 and 5xx.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var er *errcode.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode == http.StatusRequestTimeout || er.StatusCode == http.StatusTooManyRequests || er.StatusCode >= 500
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection reset", "broken pipe", "EOF", "server closed", "stalled", "made no progress", "unexpected status code 5"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// withRetry runs fn up to attempts times while it fails transiently.
func withRetry(ctx context.Context, attempts int, fn func() error) error {
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var err error
	for i := 1; i <= attempts; i++ {
		if err = fn(); err == nil || !transient(err) {
			return err
		}
		if i == attempts {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retryBackoff(i)):
		}
	}
	return &RetryError{Attempts: attempts, Err: err}
}

// RetryError is returned when a transfer kept failing.
type RetryError struct {
	Attempts int
	Err      error
}

// Error says how often it was tried.
func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempts; the registry or the network keeps failing — try again later)", e.Err, e.Attempts)
}

// Unwrap returns the last error.
func (e *RetryError) Unwrap() error { return e.Err }
