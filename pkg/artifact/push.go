package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	"github.com/tierpack/tierpack/sdk"
)

// DefaultConcurrency is how many blobs move at once.
const DefaultConcurrency = 4

// PushOptions tune Push. The zero value is ready to use.
type PushOptions struct {
	// Concurrency bounds parallel blob uploads; zero means DefaultConcurrency.
	Concurrency int
	// Progress, if set, is told about each blob.
	Progress Progress
	// Attempts bounds tries per blob; zero means DefaultAttempts.
	Attempts int
}

// Progress receives transfer events. Implementations must be safe for
// concurrent use.
type Progress interface {
	// Start is called before a blob moves; skipped reports a blob the
	// target already had.
	Start(desc ocispec.Descriptor, skipped bool)
	// Wrap may wrap the blob's reader to count bytes.
	Wrap(desc ocispec.Descriptor, r io.Reader) io.Reader
	// Done is called when the blob has moved or failed.
	Done(desc ocispec.Descriptor, err error)
}

// PushResult reports what Push did.
type PushResult struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	// Uploaded and Skipped count blobs (manifests included).
	Uploaded      int   `json:"uploaded"`
	Skipped       int   `json:"skipped"`
	BytesUploaded int64 `json:"bytesUploaded"`
}

// Push copies the packed artifact to dst and tags it, uploading only what
// dst lacks. The tag is written last: until every blob and child manifest is
// in place, the tag is not touched.
func (p *Packed) Push(ctx context.Context, dst oras.Target, tag string, opts PushOptions) (PushResult, error) {
	return PushBlobs(ctx, dst, p.Blobs, tag, opts)
}

// PushBlobs pushes blobs in order (the last one is the root manifest) and
// tags the root. Blobs before the last are pushed concurrently, except that
// manifests go after all non-manifest blobs.
func PushBlobs(ctx context.Context, dst oras.Target, blobs []Blob, tag string, opts PushOptions) (PushResult, error) {
	if len(blobs) == 0 {
		return PushResult{}, errors.New("nothing to push")
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	root := blobs[len(blobs)-1]
	var res PushResult
	var uploaded, skipped atomic.Int64
	var bytes atomic.Int64

	pushOne := func(ctx context.Context, b Blob) error {
		exists, err := dst.Exists(ctx, b.Desc)
		if err != nil {
			return fmt.Errorf("checking %s: %w", b.Desc.Digest, err)
		}
		if opts.Progress != nil {
			opts.Progress.Start(b.Desc, exists)
		}
		if exists {
			skipped.Add(1)
			if opts.Progress != nil {
				opts.Progress.Done(b.Desc, nil)
			}
			return nil
		}
		err = withRetry(ctx, opts.Attempts, func() error {
			rc, err := b.Open()
			if err != nil {
				return err
			}
			defer rc.Close()
			var r io.Reader = rc
			if opts.Progress != nil {
				r = opts.Progress.Wrap(b.Desc, r)
			}
			err = dst.Push(ctx, b.Desc, r)
			if errors.Is(err, errdef.ErrAlreadyExists) {
				return nil
			}
			return err
		})
		if opts.Progress != nil {
			opts.Progress.Done(b.Desc, err)
		}
		if err != nil {
			return fmt.Errorf("uploading %s (%s): %w", b.Desc.Digest, b.Desc.MediaType, err)
		}
		uploaded.Add(1)
		bytes.Add(b.Desc.Size)
		return nil
	}

	var leaves, manifests []Blob
	for _, b := range blobs[:len(blobs)-1] {
		if isManifest(b.Desc.MediaType) {
			manifests = append(manifests, b)
		} else {
			leaves = append(leaves, b)
		}
	}
	for _, group := range [][]Blob{leaves, manifests} {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(conc)
		for _, b := range group {
			g.Go(func() error { return pushOne(gctx, b) })
		}
		if err := g.Wait(); err != nil {
			return res, err
		}
	}

	// The root manifest, tagged in one request where the target can.
	exists, err := dst.Exists(ctx, root.Desc)
	if err != nil {
		return res, fmt.Errorf("checking manifest %s: %w", root.Desc.Digest, err)
	}
	switch {
	case exists:
		skipped.Add(1)
		if tag != "" {
			if err := withRetry(ctx, opts.Attempts, func() error { return dst.Tag(ctx, root.Desc, tag) }); err != nil {
				return res, fmt.Errorf("tagging %s as %q: %w", root.Desc.Digest, tag, err)
			}
		}
	case tag != "":
		err = withRetry(ctx, opts.Attempts, func() error {
			if rp, ok := dst.(registry.ReferencePusher); ok {
				rc, err := root.Open()
				if err != nil {
					return err
				}
				defer rc.Close()
				return rp.PushReference(ctx, root.Desc, rc, tag)
			}
			return pushThenTag(ctx, dst, root, tag)
		})
		if err != nil {
			return res, fmt.Errorf("pushing manifest %s as %q: %w", root.Desc.Digest, tag, err)
		}
		uploaded.Add(1)
		bytes.Add(root.Desc.Size)
	default:
		if err := withRetry(ctx, opts.Attempts, func() error { return pushThenTag(ctx, dst, root, "") }); err != nil {
			return res, fmt.Errorf("pushing manifest %s: %w", root.Desc.Digest, err)
		}
		uploaded.Add(1)
		bytes.Add(root.Desc.Size)
	}
	res = PushResult{
		Digest: root.Desc.Digest.String(), MediaType: root.Desc.MediaType, Size: root.Desc.Size,
		Uploaded: int(uploaded.Load()), Skipped: int(skipped.Load()), BytesUploaded: bytes.Load(),
	}
	return res, nil
}

func pushThenTag(ctx context.Context, dst oras.Target, b Blob, tag string) error {
	rc, err := b.Open()
	if err != nil {
		return err
	}
	err = dst.Push(ctx, b.Desc, rc)
	rc.Close()
	if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return err
	}
	if tag == "" {
		return nil
	}
	return dst.Tag(ctx, b.Desc, tag)
}

func isManifest(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		sdk.MediaTypeDockerManifest,
		sdk.MediaTypeDockerManifestList:
		return true
	}
	return false
}
