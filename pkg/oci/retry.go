package oci

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

// DefaultAttempts is how many times a transfer is tried before it fails.
const DefaultAttempts = 4

// retryBackoff is the wait before retry n (1-based): 250ms doubling to 4s.
func retryBackoff(n int) time.Duration {
	d := 250 * time.Millisecond << (n - 1)
	if d > 4*time.Second {
		d = 4 * time.Second
	}
	return d
}

// Transient reports whether err is worth another attempt: network
// failures, stalls, truncated bodies, and registry answers 408, 429 and 5xx.
// Cancellation, "not found", "denied", digest mismatches and the like are
// not: trying again would give the same answer.
func Transient(err error) bool {
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

// Retry runs fn up to attempts times (zero means DefaultAttempts) while it
// fails transiently, waiting longer after each failure. When every attempt
// failed it returns a *RetryError; a permanent error is returned as it is.
func Retry(ctx context.Context, attempts int, fn func() error) error {
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var err error
	for i := 1; i <= attempts; i++ {
		if err = fn(); err == nil || !Transient(err) {
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

// RetryError is returned when a transfer kept failing transiently.
type RetryError struct {
	// Attempts is how many times it was tried.
	Attempts int
	// Err is the last failure.
	Err error
}

// Error says how often it was tried and what to do.
func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempts; the registry or the network keeps failing — try again later)", e.Err, e.Attempts)
}

// Unwrap returns the last failure.
func (e *RetryError) Unwrap() error { return e.Err }
