package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"oras.land/oras-go/v2/registry/remote/retry"
)

// DefaultStallTimeout is how long a registry connection may make no
// progress — no response headers, no body bytes read or written — before
// tierpack gives up on it (and retries). Large transfers are fine: only
// silence counts.
const DefaultStallTimeout = 60 * time.Second

// MaxStalls is how many stalled requests one client (one opened registry
// target, so one command) tolerates. Each stall is retried, by the
// transport and by the whole-blob retries above it, and these budgets
// multiply: without a bound a registry that never answers would hold a
// command for 16 stall timeouts. After MaxStalls stalls every further
// request fails at once with a *StallBudgetError, so a command loses at
// most about MaxStalls × the stall timeout to a silent registry.
const MaxStalls = 2

// NewHTTPClient returns the client tierpack talks to registries with:
// oras-go's retrying transport (exponential backoff on 5xx, 429 and
// network errors) over a transport that cuts stalled connections.
func NewHTTPClient(stall time.Duration) *http.Client {
	return newHTTPClient(stall, nil)
}

// newHTTPClient is NewHTTPClient with a TLS configuration (nil: Go's
// defaults).
func newHTTPClient(stall time.Duration, tc *tls.Config) *http.Client {
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: stall, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = stall
	base.ResponseHeaderTimeout = stall
	base.MaxIdleConnsPerHost = 16
	if tc != nil {
		base.TLSClientConfig = tc
	}
	rt := retry.NewTransport(&stallGuard{base: base, stall: stall, budget: &stallBudget{max: MaxStalls}})
	rt.Policy = func() retry.Policy { return requestPolicy }
	return &http.Client{Transport: rt}
}

// requestPolicy retries single requests the transport can replay (5xx,
// 429, 408, resets, timeouts) a few times, quickly: whole-blob retries
// above it (pkg/artifact) cover what it cannot replay, so the two budgets
// multiply and each stays small.
var requestPolicy retry.Policy = &retryAfterPolicy{GenericPolicy: retry.GenericPolicy{
	Retryable: retry.DefaultPredicate,
	Backoff:   retry.DefaultBackoff,
	MinWait:   100 * time.Millisecond,
	MaxWait:   2 * time.Second,
	MaxRetry:  3,
}}

// MaxRetryAfter is the longest a registry's Retry-After is waited out; a
// longer one ends the request with the registry's answer (429 or 503).
const MaxRetryAfter = 5 * time.Minute

// retryAfterPolicy is the generic policy, except that a registry's
// Retry-After (on 429 and 503; seconds or an HTTP date) is obeyed in full,
// up to MaxRetryAfter: oras-go caps it at MaxWait and reads seconds only,
// so a registry asking for a minute (ghcr's rate limit) would get a retry
// every 2 s, a storm that keeps the limit hit.
type retryAfterPolicy struct {
	retry.GenericPolicy
	now func() time.Time // nil: time.Now
}

// Retry implements retry.Policy.
func (p *retryAfterPolicy) Retry(attempt int, resp *http.Response, err error) (time.Duration, error) {
	d, rerr := p.GenericPolicy.Retry(attempt, resp, err)
	if d < 0 || rerr != nil {
		return d, rerr
	}
	now := time.Now
	if p.now != nil {
		now = p.now
	}
	if wait, ok := RetryAfter(resp, now()); ok {
		if wait > MaxRetryAfter {
			return -1, nil // give the caller the registry's answer
		}
		return max(wait, p.MinWait), nil
	}
	return d, nil
}

// RetryAfter reads a 429 or 503 response's Retry-After: delay-seconds or
// an HTTP date, as RFC 9110 allows; ok is false when there is none.
func RetryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second)+1)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// stallGuard cancels a request whose body transfer goes silent for longer
// than stall, in either direction, and counts the stalls against budget.
type stallGuard struct {
	base   http.RoundTripper
	stall  time.Duration
	budget *stallBudget
}

// stallBudget counts the stalls of one client.
type stallBudget struct {
	mu   sync.Mutex
	max  int
	seen int
}

// add records a stall and reports whether the budget still allows more.
func (b *stallBudget) add() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen++
	return b.seen < b.max
}

func (b *stallBudget) spent() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen >= b.max
}

// StallBudgetError is returned for every request once a client has seen
// MaxStalls stalls: the registry is not answering, and retrying only
// waits another stall timeout each time.
type StallBudgetError struct {
	// Stalls is how many requests stalled; Stall is the timeout that cut each.
	Stalls int
	Stall  time.Duration
	// Op is the request refused.
	Op string
}

// Error says what happened and what to do.
func (e *StallBudgetError) Error() string {
	return fmt.Sprintf("%s: not sent: %d registry requests already went silent for %s each, so tierpack gave up on this registry "+
		"(check that it is up and reachable; set TIERPACK_STALL_TIMEOUT to wait longer for a slow one)", e.Op, e.Stalls, e.Stall)
}

func (s *stallGuard) stalled(op string) error {
	if s.budget.add() {
		return &StallError{Stall: s.stall, Op: op}
	}
	return &StallBudgetError{Stalls: s.budget.max, Stall: s.stall, Op: op}
}

// isHeaderTimeout reports whether err is net/http's ResponseHeaderTimeout
// (or the dial or TLS timeout): a registry that accepted the request and
// said nothing.
func isHeaderTimeout(ctx context.Context, err error) bool {
	var ne net.Error
	return ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout()
}

func (s *stallGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	op := req.Method + " " + req.URL.Path
	if s.budget.spent() {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &StallBudgetError{Stalls: s.budget.max, Stall: s.stall, Op: op}
	}
	outer := req.Context()
	ctx, cancel := context.WithCancel(outer)
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
		if w.hasFired() || isHeaderTimeout(outer, err) {
			return nil, s.stalled(op)
		}
		return nil, err
	}
	w.kick()
	resp.Body = &watchedReadCloser{ReadCloser: resp.Body, w: w, done: cancel, guard: s}
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
	// guard, on a response body, counts a stall against its budget.
	guard   *stallGuard
	counted bool
}

func (r *watchedReadCloser) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.w.kick()
	}
	if err != nil && err != io.EOF && r.w.hasFired() {
		if r.guard != nil && !r.counted {
			r.counted = true
			return n, r.guard.stalled("transfer")
		}
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
