// Package faultproxy injects registry faults in front of a real registry,
// for tests: error statuses, connections reset in the middle of an upload
// or a download, and stalls. It wraps the registry's http.Handler
// (registrytest.WithHandlerWrapper), so everything it does not break is
// served by the real registry.
//
// Faults are rules tried in order; each matches requests by method and a
// path pattern and fires a fixed number of times, so a test is
// deterministic: "the first 2 blob uploads get 503", "the first download of
// a blob is cut after 64 KiB".
package faultproxy

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Kind is what a rule does to a request.
type Kind int

// The faults.
const (
	// Status answers with Rule.Status (e.g. 500, 503, 429) without reaching
	// the registry.
	Status Kind = iota
	// ResetUpload reads Rule.After bytes of the request body, then drops
	// the connection.
	ResetUpload
	// ResetDownload lets the registry answer, passes Rule.After bytes of the
	// response body, then drops the connection.
	ResetDownload
	// Stall holds the request for Rule.Stall before passing it on, or, with
	// After > 0, after After bytes of the response body. A hold before the
	// request body is read lasts the full Stall even if the client gives
	// up (net/http notices a client leaving only once the body is read), so
	// keep Stall short there.
	Stall
	// Drip lets the registry answer, passes Rule.After bytes of the
	// response body at full speed, then one byte every Rule.Stall: a
	// connection that never goes silent long enough to be cut as stalled,
	// and never finishes either.
	Drip
	// Corrupt lets the registry answer and flips the bits of the response
	// body's byte at offset After: content that no longer matches its
	// digest, as a hostile or broken registry serves it.
	Corrupt
)

// Rule is one fault.
type Rule struct {
	Kind Kind
	// Method matches the request method; empty matches any.
	Method string
	// Path is a regular expression on the URL path; empty matches any.
	Path string
	// Times is how many matching requests the rule breaks; 0 means every one.
	Times int
	// Status for Kind Status; RetryAfter, if set, is sent as Retry-After.
	Status     int
	RetryAfter string
	// After is a byte count for the reset, stall and drip kinds.
	After int64
	// Stall is how long Stall holds, and the pause between Drip's bytes.
	Stall time.Duration

	re    *regexp.Regexp
	fired int
}

// Path patterns for the registry API's requests.
const (
	BlobUpload = `^/v2/.+/blobs/uploads/`
	Blob       = `^/v2/.+/blobs/sha256:`
	Manifest   = `^/v2/.+/manifests/`
)

// Proxy applies rules to requests on their way to a handler.
type Proxy struct {
	mu    sync.Mutex
	rules []*Rule
	hits  map[int]int
}

// New returns a Proxy with the given rules.
func New(rules ...Rule) *Proxy {
	p := &Proxy{hits: map[int]int{}}
	p.Set(rules...)
	return p
}

// Set replaces the rules.
func (p *Proxy) Set(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
	p.hits = map[int]int{}
	for i := range rules {
		r := rules[i]
		if r.Path != "" {
			r.re = regexp.MustCompile(r.Path)
		}
		p.rules = append(p.rules, &r)
	}
}

// Fired returns how many times rule i (in the order given) fired.
func (p *Proxy) Fired(i int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i < len(p.rules) {
		return p.rules[i].fired
	}
	return 0
}

func (p *Proxy) match(req *http.Request) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if r.Method != "" && r.Method != req.Method {
			continue
		}
		if r.re != nil && !r.re.MatchString(req.URL.Path) {
			continue
		}
		if r.Times > 0 && r.fired >= r.Times {
			continue
		}
		r.fired++
		c := *r
		return &c
	}
	return nil
}

// Wrap returns next with the faults in front of it.
func (p *Proxy) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r := p.match(req)
		if r == nil {
			next.ServeHTTP(w, req)
			return
		}
		switch r.Kind {
		case Status:
			if r.RetryAfter != "" {
				w.Header().Set("Retry-After", r.RetryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(r.Status)
			io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"fault injected: status `+strconv.Itoa(r.Status)+`"}]}`)
		case ResetUpload:
			if req.Body != nil {
				io.CopyN(io.Discard, req.Body, r.After)
			}
			drop(w)
		case ResetDownload:
			next.ServeHTTP(&cutWriter{ResponseWriter: w, left: r.After}, req)
		case Corrupt:
			next.ServeHTTP(&corruptWriter{ResponseWriter: w, at: r.After}, req)
		case Drip:
			next.ServeHTTP(&dripWriter{ResponseWriter: w, left: r.After, every: r.Stall, ctxDone: req.Context().Done()}, req)
		case Stall:
			if r.After > 0 {
				next.ServeHTTP(&cutWriter{ResponseWriter: w, left: r.After, stall: r.Stall, ctxDone: req.Context().Done()}, req)
				return
			}
			select {
			case <-time.After(r.Stall):
			case <-req.Context().Done():
				return
			}
			next.ServeHTTP(w, req)
		}
	})
}

// drop closes the client connection without an HTTP response.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http drops the connection
}

// cutWriter passes left bytes of the body, then drops the connection (or
// stalls first).
type cutWriter struct {
	http.ResponseWriter
	left    int64
	stall   time.Duration
	ctxDone <-chan struct{}
	cut     bool
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if c.cut {
		return 0, io.ErrClosedPipe
	}
	if int64(len(b)) <= c.left {
		c.left -= int64(len(b))
		return c.ResponseWriter.Write(b)
	}
	n, _ := c.ResponseWriter.Write(b[:c.left])
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	c.cut = true
	if c.stall > 0 {
		select {
		case <-time.After(c.stall):
		case <-c.ctxDone:
		}
	}
	drop(c.ResponseWriter)
	return n, io.ErrClosedPipe
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// corruptWriter flips the byte at offset at of the body.
type corruptWriter struct {
	http.ResponseWriter
	at, off int64
}

func (c *corruptWriter) Write(b []byte) (int, error) {
	if i := c.at - c.off; i >= 0 && i < int64(len(b)) {
		b = append([]byte{}, b...)
		b[i] ^= 0xff
	}
	c.off += int64(len(b))
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *corruptWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// dripWriter passes left bytes of the body, then one byte every every,
// until the client goes away.
type dripWriter struct {
	http.ResponseWriter
	left    int64
	every   time.Duration
	ctxDone <-chan struct{}
}

func (d *dripWriter) Write(b []byte) (int, error) {
	n := 0
	if d.left > 0 {
		k := min(int64(len(b)), d.left)
		m, err := d.ResponseWriter.Write(b[:k])
		n += m
		d.left -= int64(m)
		if err != nil || m == len(b) {
			return n, err
		}
		b = b[m:]
	}
	f, _ := d.ResponseWriter.(http.Flusher)
	for len(b) > 0 {
		if f != nil {
			f.Flush()
		}
		select {
		case <-time.After(d.every):
		case <-d.ctxDone:
			return n, io.ErrClosedPipe
		}
		m, err := d.ResponseWriter.Write(b[:1])
		n += m
		if err != nil {
			return n, err
		}
		b = b[1:]
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (d *dripWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
