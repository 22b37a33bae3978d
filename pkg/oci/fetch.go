package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/home"
)

// MaxManifestSize bounds a manifest or index tierpack reads whole (4 MiB,
// the limit registries commonly enforce).
const MaxManifestSize = 4 << 20

// ErrTooLarge is wrapped when content is larger than the caller reads.
var ErrTooLarge = errors.New("too large")

// FetchOptions tune FetchTo and FetchFile. The zero value is ready to use.
type FetchOptions struct {
	// Progress, if set, is told about the blob.
	Progress Progress
	// Attempts bounds tries; zero means DefaultAttempts.
	Attempts int
}

// FetchAll reads the content d describes from src whole, refusing it
// before any byte is read when d says it is larger than limit (zero means
// MaxManifestSize), verifying size and digest, and retrying transient
// failures. When ctx carries a cache (WithCache), content is read from
// it by digest when it is there, and kept there once fetched.
func FetchAll(ctx context.Context, src content.Fetcher, d ocispec.Descriptor, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxManifestSize
	}
	if d.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d tierpack reads: %w", d.Digest, d.Size, limit, ErrTooLarge)
	}
	rc, _ := ctx.Value(readsKey{}).(*reads)
	if rc != nil {
		if data, ok := rc.remembered(d); ok {
			return data, nil
		}
		if rc.cache != nil {
			if data, err := rc.cache.Get(d); err == nil {
				rc.remember(d, data)
				return data, nil
			}
		}
	}
	var data []byte
	err := Retry(ctx, 0, func() (err error) {
		data, err = content.FetchAll(ctx, src, d)
		return err
	})
	if err == nil && rc != nil {
		rc.remember(d, data)
		if rc.cache != nil {
			_ = rc.cache.PutBytes(d, data) // a cache that cannot be written is only slower
		}
	}
	return data, err
}

// maxRemembered bounds what one verification keeps in memory.
const maxRemembered = 16 << 20

// remembered is content this verification read already (verified then:
// FetchAll and the cache check digests).
func (rc *reads) remembered(d ocispec.Descriptor) ([]byte, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	b, ok := rc.mem[d.Digest]
	return b, ok && int64(len(b)) == d.Size
}

// remember keeps data for the rest of the verification, within
// maxRemembered.
func (rc *reads) remember(d ocispec.Descriptor, data []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.memSize+len(data) > maxRemembered {
		return
	}
	if rc.mem == nil {
		rc.mem = map[digest.Digest][]byte{}
	}
	if _, ok := rc.mem[d.Digest]; !ok {
		rc.mem[d.Digest], rc.memSize = data, rc.memSize+len(data)
	}
}

type readsKey struct{}

// reads is what WithCache puts in a context.
type reads struct {
	cache *cache.Cache
	mu    sync.Mutex
	// listings are the referrer candidates of each subject listed so
	// far, by store and subject digest.
	listings map[listingKey][]candidate
	// mem is content read whole in this verification, by digest.
	mem     map[digest.Digest][]byte
	memSize int
}

type listingKey struct {
	store   any
	subject digest.Digest
}

// WithCache returns a context for one verification — the reads that
// decide a tier. Its FetchAll reads (manifests, tier records, signatures
// and bundles, all read whole and by digest) go through the
// content-addressed cache c, and ResolveDigest answers from it; a cached
// entry is checked against its digest as it is read, so the cache saves
// requests without being trusted. Referrer listings are made once per
// subject for the life of the context and always asked of the store:
// a verdict is as fresh as they are. c nil: no cache, listings are still
// made once.
func WithCache(ctx context.Context, c *cache.Cache) context.Context {
	return context.WithValue(ctx, readsKey{}, &reads{cache: c, listings: map[listingKey][]candidate{}})
}

// memoized is list's answer for subject in store, made once per
// WithCache context (every time without one).
func memoized(ctx context.Context, store any, subject ocispec.Descriptor, list func() ([]candidate, error)) ([]candidate, error) {
	rc, _ := ctx.Value(readsKey{}).(*reads)
	if rc == nil || reflect.ValueOf(store).Kind() != reflect.Pointer {
		return list()
	}
	key := listingKey{store: store, subject: subject.Digest}
	rc.mu.Lock()
	got, ok := rc.listings[key]
	rc.mu.Unlock()
	if ok {
		return slices.Clone(got), nil
	}
	got, err := list()
	if err != nil {
		return nil, err
	}
	rc.mu.Lock()
	rc.listings[key] = got
	rc.mu.Unlock()
	return slices.Clone(got), nil
}

// ResolveDigest resolves a digest in store, from the WithCache context's
// cache when it holds that manifest (its media type read from it), else
// from store.
func ResolveDigest(ctx context.Context, store content.Resolver, d digest.Digest) (ocispec.Descriptor, error) {
	rc, _ := ctx.Value(readsKey{}).(*reads)
	cached := rc != nil && rc.cache != nil
	if cached {
		if data, err := rc.cache.GetByDigest(d); err == nil {
			var m struct {
				MediaType string `json:"mediaType"`
			}
			if json.Unmarshal(data, &m) == nil && m.MediaType != "" {
				return ocispec.Descriptor{MediaType: m.MediaType, Digest: d, Size: int64(len(data))}, nil
			}
		}
	}
	desc, err := store.Resolve(ctx, d.String())
	if err == nil && desc.Size <= MaxManifestSize && cached {
		if f, ok := store.(content.Fetcher); ok {
			// Kept, so that the next verification asks nothing.
			FetchAll(ctx, f, desc, MaxManifestSize)
		}
	}
	return desc, err
}

// FetchJSON reads the content d describes with FetchAll and decodes it
// into v.
func FetchJSON(ctx context.Context, src content.Fetcher, d ocispec.Descriptor, limit int64, v any) error {
	data, err := FetchAll(ctx, src, d, limit)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s is not valid JSON: %v", d.Digest, err)
	}
	return nil
}

// FetchTo streams the content d describes from src to put, trying again on
// transient failures. The reader put gets yields exactly d's content and
// fails — instead of ending — if what arrived does not match d, so put must
// read it to the end and write atomically (home.WriteAtomic,
// cache.PutVerified): then nothing unverified is ever kept. put is called
// afresh for each attempt.
func FetchTo(ctx context.Context, src content.Fetcher, d ocispec.Descriptor, opts FetchOptions, put func(r io.Reader) error) (err error) {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("invalid digest %q: %w", d.Digest, err)
	}
	if p := opts.Progress; p != nil {
		p.Start(d, false)
		defer func() { p.Done(d, err) }()
	}
	return Retry(ctx, opts.Attempts, func() error {
		rc, err := src.Fetch(ctx, d)
		if err != nil {
			return err
		}
		defer rc.Close()
		var r io.Reader = rc
		if opts.Progress != nil {
			r = opts.Progress.Wrap(d, r)
		}
		return put(&verifyingReader{vr: content.NewVerifyReader(r, d)})
	})
}

// FetchFile downloads the content d describes from src to path with
// FetchTo: path appears, complete and verified, or is left as it was.
func FetchFile(ctx context.Context, src content.Fetcher, d ocispec.Descriptor, path string, opts FetchOptions) error {
	return FetchTo(ctx, src, d, opts, func(r io.Reader) error {
		return home.WriteAtomic(path, 0o644, func(w io.Writer) error {
			_, err := io.Copy(w, r)
			return err
		})
	})
}

// verifyingReader reads through a VerifyReader and reports a mismatch in
// place of the final io.EOF, so a plain io.Copy notices it.
type verifyingReader struct {
	vr *content.VerifyReader
}

// Read reads, and verifies at the end.
func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.vr.Read(p)
	if err == io.EOF {
		if verr := v.vr.Verify(); verr != nil {
			return n, verr
		}
	}
	return n, err
}
