package target

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/tierpack/tierpack/internal/faultproxy"
	"github.com/tierpack/tierpack/internal/registrytest"
)

// TestParseRedactsPassword: a reference with USER:PASSWORD@ in front is
// refused, and neither the message nor anything it wraps shows the
// password.
func TestParseRedactsPassword(t *testing.T) {
	for _, in := range []string{
		"alice:s3cret@registry.example.com/org/app:1.0.0",
		"alice:s3cret@localhost:5000/app",
		"alice:s3cret@app:1.0.0",
		"oci:alice:s3cret@layout",
	} {
		_, err := Parse(in)
		if !errors.Is(err, ErrInvalidReference) {
			t.Errorf("Parse(%q) = %v, want ErrInvalidReference", in, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Parse(%q) error shows the password: %v", in, err)
		}
		var cir *CredentialsInRefError
		if !strings.Contains(err.Error(), "alice:***@") || !errors.As(err, &cir) {
			t.Errorf("Parse(%q) error = %v, want the redacted reference and what to do", in, err)
		}
	}
	// A digest is not userinfo.
	if got := Redact("app@sha256:" + sixtyFour); got != "app@sha256:"+sixtyFour {
		t.Errorf("Redact(digest reference) = %q", got)
	}
}

// TestOpenRemovesIngestLeftovers: a partial blob that a killed push left in
// an OCI layout's ingest folder is removed by the next writer, and a reader
// leaves it alone.
func TestOpenRemovesIngestLeftovers(t *testing.T) {
	dir := t.TempDir()
	ref := Ref{Kind: Layout, Path: dir, Tag: "x"}
	a, err := Open(context.Background(), ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	left := filepath.Join(dir, "ingest", sixtyFour+"_123456")
	if err := os.MkdirAll(filepath.Dir(left), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(left, bytes.Repeat([]byte("x"), 1<<20), 0o644)
	r, err := Open(context.Background(), ref, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := os.Stat(left); err != nil {
		t.Fatalf("a reader removed the ingest folder's content: %v", err)
	}
	w, err := Open(context.Background(), ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if entries, _ := os.ReadDir(filepath.Dir(left)); len(entries) != 0 {
		t.Fatalf("ingest still holds %d leftover(s) after a writer opened the layout", len(entries))
	}
}

// TestHeaderStallsAreBounded: a registry that accepts every blob request
// and never answers costs a command about MaxStalls stall timeouts, not
// one per retry of every layer (oras-go's 4 request attempts times the 4
// whole-blob attempts of pkg/oci: 16 stall timeouts).
func TestHeaderStallsAreBounded(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	const stall = 500 * time.Millisecond
	ref, err := Parse(reg.Host + "/stall/app:1")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := Open(context.Background(), ref, Options{StallTimeout: stall, Credentials: credentials.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Set(faultproxy.Rule{Kind: faultproxy.Stall, Method: "GET", Path: faultproxy.Blob, Stall: time.Minute})
	blob := []byte("content")
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	start := time.Now()
	var last error
	// The whole-blob retries of pkg/oci, as a caller makes them.
	for range 4 {
		_, last = tg.Store.Fetch(context.Background(), desc)
		if last == nil {
			t.Fatal("a fetch through a stalled registry succeeded")
		}
	}
	took := time.Since(start)
	var be *StallBudgetError
	if !errors.As(last, &be) {
		t.Fatalf("last error = %v, want a *StallBudgetError", last)
	}
	if !strings.Contains(last.Error(), "TIERPACK_STALL_TIMEOUT") {
		t.Errorf("error does not say what to do: %v", last)
	}
	// MaxStalls stalls, plus oras-go's backoff between its request retries.
	if limit := MaxStalls*stall + 3*time.Second; took > limit {
		t.Errorf("4 fetches took %s, want at most %s", took, limit)
	}
	t.Logf("4 fetches gave up after %s (%d stalls of %s)", took.Round(time.Millisecond), proxy.Fired(0), stall)
	if n := proxy.Fired(0); n != MaxStalls {
		t.Errorf("the registry saw %d stalled requests, want %d", n, MaxStalls)
	}
}

// A registry's Retry-After is obeyed, in seconds or as an HTTP date, up to
// MaxRetryAfter: ghcr's "Retry-After: 60" is a wait of a minute, not a
// retry every 2 s.
func TestRetryAfterIsObeyed(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	resp := func(status int, v string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": []string{v}}}
	}
	p := requestPolicy.(*retryAfterPolicy)
	at := *p
	at.now = func() time.Time { return now }
	for _, tc := range []struct {
		resp *http.Response
		want time.Duration
	}{
		{resp(429, "60"), time.Minute},
		{resp(503, now.Add(90*time.Second).Format(http.TimeFormat)), 90 * time.Second},
		{resp(429, now.Add(-time.Minute).Format(http.TimeFormat)), p.MinWait},
		{resp(429, "3600"), -1}, // longer than MaxRetryAfter: the 429 is the answer
	} {
		if got, err := at.Retry(0, tc.resp, nil); err != nil || got != tc.want {
			t.Errorf("Retry-After %q: wait %s, %v; want %s", tc.resp.Header.Get("Retry-After"), got, err, tc.want)
		}
	}

	// Through the real transport: one 429 with Retry-After: 2 is waited
	// out once, then the request succeeds; no retry storm.
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	ref, err := Parse(reg.Host + "/retry/app:1")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := Open(context.Background(), ref, Options{Credentials: credentials.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("content")
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	if err := tg.Store.Push(context.Background(), desc, bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	proxy.Set(faultproxy.Rule{Kind: faultproxy.Status, Status: 429, RetryAfter: "2", Method: "GET", Path: faultproxy.Blob, Times: 1})
	start := time.Now()
	rc, err := tg.Store.Fetch(context.Background(), desc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if took := time.Since(start); took < 2*time.Second || proxy.Fired(0) != 1 {
		t.Errorf("fetch after a 429 with Retry-After: 2 took %s with %d refused request(s)", took, proxy.Fired(0))
	}
}
