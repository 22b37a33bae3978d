package registrytest

import (
	"io"
	"log"
	"net"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// NewGGCR starts go-containerregistry's registry (pkg/registry, the one
// crane and cosign test against) for the test, with the referrers API
// turned on and blobs stored on disk under StorageDir (sha256/HEX); manifests live in
// memory. It returns the same *Registry as New — Host, URL, Ref, Stats,
// Requests, Close — and is stopped with t.Cleanup.
//
// It is a second, independent implementation of the distribution API with
// its own quirks, which is the point: its referrers API reports each
// referrer's config media type as its artifactType (for an OCI 1.1
// artifact, application/vnd.oci.empty.v1+json), ignores the artifactType
// filter, and never answers a push with an OCI-Subject header, so clients
// also write the referrers tag schema.
//
// Of the options WithHandlerWrapper, WithDebugLog (every request is logged
// to t.Log), WithTLS and WithMutualTLS apply, as for New; WithBasicAuth,
// WithConfig and WithAddr are Distribution's and fail the test.
func NewGGCR(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.users) > 0 || len(o.configs) > 0 || o.addr != "" {
		t.Fatalf("registrytest: NewGGCR: WithBasicAuth, WithConfig and WithAddr configure Distribution; use New")
	}
	reg := &Registry{tb: t, StorageDir: t.TempDir(), debug: o.debugLog}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("registrytest: listen: %v", err)
	}
	_, reg.port, _ = net.SplitHostPort(ln.Addr().String())
	reg.Host = "127.0.0.1:" + reg.port
	reg.URL = "http://" + reg.Host

	logger := log.New(io.Discard, "", 0)
	if o.debugLog {
		logger = log.New(logWriter{reg}, "ggcr: ", 0)
	}
	reg.serve(t, ln, reg.record(ggcr.New(
		ggcr.Logger(logger),
		ggcr.WithReferrersSupport(true),
		ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(reg.StorageDir)),
	)), o)
	return reg
}
