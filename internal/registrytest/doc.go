// Package registrytest runs a real CNCF Distribution registry in-process for
// tests.
//
// It is not a fake: [New] builds the same HTTP application that the
// `registry` binary serves (handlers.NewApp from
// github.com/distribution/distribution/v3) from a configuration assembled in
// code, and serves it on 127.0.0.1 with a random port over plain HTTP. Blobs
// and manifests are stored by Distribution's "filesystem" storage driver in a
// per-test temporary directory, deletes are enabled, and the registry is shut
// down by t.Cleanup. Everything a client sees — upload sessions, digest
// verification, manifest validation, 401 challenges, error bodies — is
// Distribution's own behaviour.
//
// [NewGGCR] starts a second, independent implementation instead:
// go-containerregistry's registry (pkg/registry) with the referrers API on
// and blobs on disk, whose referrers API reports a referrer's config media
// type as its artifactType. It returns the same *Registry.
//
// On top of the registry the package adds test conveniences only:
//
//   - request counters ([Registry.Stats], [Registry.Requests]) so tests can
//     assert on what reached the registry, e.g. "no blob upload was started";
//   - htpasswd basic auth ([WithBasicAuth]) to exercise the real challenge flow;
//   - HTTPS with a certificate from a CA generated for the test ([WithTLS]),
//     and client-certificate verification ([WithMutualTLS]);
//   - a hook to put a handler in front of the registry ([WithHandlerWrapper]),
//     e.g. a fault-injection proxy;
//   - silencing of Distribution's logrus logging, which otherwise writes
//     several lines per request to stderr (see [New]).
//
// A typical test:
//
//	reg := registrytest.New(t)
//	repo, _ := remote.NewRepository(reg.Host + "/demo/app")
//	repo.PlainHTTP = true
//	// ... push with oras-go or the tierpack CLI against reg.Ref("demo/app", "v1")
//	if got := reg.Stats().BlobUploadsStarted; got != 0 {
//		t.Fatalf("expected no blob uploads, got %d", got)
//	}
package registrytest
