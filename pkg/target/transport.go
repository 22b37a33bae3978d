package target

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"oras.land/oras-go/v2/registry/remote/retry"
)

// DefaultStallTimeout is how long a registry connection may make no
// progress — no response headers, no body bytes read or written — before
// tierpack gives up on it (and retries). Large transfers are fine: only
// silence counts.
const DefaultStallTimeout = 60 * time.Second

// NewHTTPClient returns the client tierpack talks to registries with:
// oras-go's retrying transport (exponential backoff on 5xx, 429 and
// network errors) over a transport that cuts stalled connections.
func NewHTTPClient(stall time.Duration) *http.Client {
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: stall, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = stall
	base.ResponseHeaderTimeout = stall
	base.MaxIdleConnsPerHost = 16
	rt := retry.NewTransport(&stallGuard{base: base, stall: stall})
	rt.Policy = func() retry.Policy { return requestPolicy }
	return &http.Client{Transport: rt}
}

// requestPolicy retries single requests the transport can replay (5xx,
// 429, 408, resets, timeouts) a few times, quickly: whole-blob retries
// above it (pkg/artifact) cover what it cannot replay, so the two budgets
// multiply and each stays small.
var requestPolicy retry.Policy = &retry.GenericPolicy{
	Retryable: retry.DefaultPredicate,
	Backoff:   retry.DefaultBackoff,
	MinWait:   100 * time.Millisecond,
	MaxWait:   2 * time.Second,
	MaxRetry:  3,
}

// stallGuard cancels a request whose body transfer goes silent for longer
// than stall, in either direction.
type stallGuard struct {
	base  http.RoundTripper
	stall time.Duration
}

func (s *stallGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := &watchdog{stall: s.stall}
	w.timer = time.AfterFunc(s.stall, func() { w.fire(); cancel() })
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watchedReadCloser{ReadCloser: req.Body, w: w}
	}
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		w.stop()
		cancel()
		if w.hasFired() {
			return nil, &StallError{Stall: s.stall, Op: req.Method + " " + req.URL.Path}
		}
		return nil, err
	}
	w.kick()
	resp.Body = &watchedReadCloser{ReadCloser: resp.Body, w: w, done: cancel}
	return resp, nil
}

// StallError reports a registry connection that went silent.
type StallError struct {
	Stall time.Duration
	Op    string
}

// Error says what stalled and for how long.
func (e *StallError) Error() string {
	return fmt.Sprintf("%s: the registry connection made no progress for %s and was cut (set TIERPACK_STALL_TIMEOUT to wait longer)", e.Op, e.Stall)
}

// Timeout marks the error as a timeout, so retry policies retry it.
func (e *StallError) Timeout() bool { return true }

// Temporary marks the error as transient.
func (e *StallError) Temporary() bool { return true }

type watchdog struct {
	mu      sync.Mutex
	timer   *time.Timer
	stall   time.Duration
	stopped bool
	fired   bool
}

func (w *watchdog) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fired = true
}

func (w *watchdog) hasFired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

func (w *watchdog) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.timer.Reset(w.stall)
	}
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

type watchedReadCloser struct {
	io.ReadCloser
	w    *watchdog
	done context.CancelFunc
}

func (r *watchedReadCloser) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.w.kick()
	}
	if err != nil && err != io.EOF && r.w.hasFired() {
		err = &StallError{Stall: r.w.stall, Op: "transfer"}
	}
	return n, err
}

func (r *watchedReadCloser) Close() error {
	err := r.ReadCloser.Close()
	if r.done != nil {
		r.w.stop()
		r.done()
	}
	return err
}
