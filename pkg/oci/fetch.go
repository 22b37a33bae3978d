package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
	c, _ := ctx.Value(cacheKey{}).(*cache.Cache)
	if c != nil {
		if data, err := c.Get(d); err == nil {
			return data, nil
		}
	}
	var data []byte
	err := Retry(ctx, 0, func() (err error) {
		data, err = content.FetchAll(ctx, src, d)
		return err
	})
	if err == nil && c != nil {
		_ = c.PutBytes(d, data) // a cache that cannot be written is only slower
	}
	return data, err
}

type cacheKey struct{}

// WithCache returns a context whose FetchAll reads — the manifests, tier
// records, signatures and bundles that decide a tier, all read whole and
// by digest — go through the content-addressed cache c (nil: none). A
// cached entry is checked against its digest as it is read, so the cache
// saves requests without being trusted: a verdict is as fresh as the
// referrer listings, which are always asked of the registry.
func WithCache(ctx context.Context, c *cache.Cache) context.Context {
	if c == nil {
		return ctx
	}
	return context.WithValue(ctx, cacheKey{}, c)
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
// cache.PutReader): then nothing unverified is ever kept. put is called
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
