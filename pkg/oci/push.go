package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
)

// DefaultConcurrency is how many blobs move at once.
const DefaultConcurrency = 4

// ErrNothingToPush is returned by PushBlobs for an empty list.
var ErrNothingToPush = errors.New("nothing to push")

// Progress receives transfer events. Implementations must be safe for
// concurrent use.
type Progress interface {
	// Start is called before a blob moves; skipped reports a blob the
	// target already had (or, for a pull, a blob the cache had).
	Start(desc ocispec.Descriptor, skipped bool)
	// Wrap may wrap the blob's reader to count bytes.
	Wrap(desc ocispec.Descriptor, r io.Reader) io.Reader
	// Done is called when the blob has moved or failed.
	Done(desc ocispec.Descriptor, err error)
}

// PushOptions tune PushBlobs and PushBlob. The zero value is ready to use.
type PushOptions struct {
	// Concurrency bounds parallel blob uploads; zero means
	// DefaultConcurrency.
	Concurrency int
	// Progress, if set, is told about each blob.
	Progress Progress
	// Attempts bounds tries per blob; zero means DefaultAttempts.
	Attempts int
	// RootMissing says the caller knows the root manifest is not at the
	// destination (its tag was just found missing there): it is pushed
	// without asking first. Pushing a manifest the registry has is
	// harmless, so this only saves a request.
	RootMissing bool
}

// PushResult reports what PushBlobs did.
type PushResult struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	// Uploaded and Skipped count blobs (manifests included).
	Uploaded      int   `json:"uploaded"`
	Skipped       int   `json:"skipped"`
	BytesUploaded int64 `json:"bytesUploaded"`
}

// PushBlobs pushes blobs to dst — the last one is the root manifest — and
// tags the root with tag (none when empty). Configs and layers go first,
// concurrently; then child manifests, concurrently; then the root, tagged
// in the same request where dst can do that. Blobs dst already has are
// skipped; each upload is retried on transient errors.
func PushBlobs(ctx context.Context, dst oras.Target, blobs []Blob, tag string, opts PushOptions) (PushResult, error) {
	if len(blobs) == 0 {
		return PushResult{}, ErrNothingToPush
	}
	p := &pusher{dst: dst, opts: opts}
	root := blobs[len(blobs)-1]
	var leaves, manifests []Blob
	for _, b := range blobs[:len(blobs)-1] {
		if IsManifest(b.Desc.MediaType) {
			manifests = append(manifests, b)
		} else {
			leaves = append(leaves, b)
		}
	}
	for _, group := range [][]Blob{leaves, manifests} {
		if err := p.pushAll(ctx, group); err != nil {
			return PushResult{}, err
		}
	}
	if err := p.pushRoot(ctx, dst, root, tag); err != nil {
		return PushResult{}, err
	}
	return PushResult{
		Digest: root.Desc.Digest.String(), MediaType: root.Desc.MediaType, Size: root.Desc.Size,
		Uploaded: int(p.uploaded.Load()), Skipped: int(p.skipped.Load()), BytesUploaded: p.bytes.Load(),
	}, nil
}

// PushBlob pushes b to dst unless dst has it already, retrying transient
// failures; skipped reports that dst had it. It does not tag.
func PushBlob(ctx context.Context, dst content.Storage, b Blob, opts PushOptions) (skipped bool, err error) {
	p := &pusher{dst: dst, opts: opts}
	err = p.push(ctx, b)
	return p.skipped.Load() > 0, err
}

// PushBytes pushes data, described by desc, unless dst has it already.
func PushBytes(ctx context.Context, dst content.Storage, desc ocispec.Descriptor, data []byte) error {
	_, err := PushBlob(ctx, dst, Blob{Desc: desc, Data: data}, PushOptions{})
	return err
}

// PushJSON marshals v, pushes it as mediaType unless dst has it, and
// returns its descriptor: for manifests and configs rewritten in place
// (promotion), which are not tagged.
func PushJSON(ctx context.Context, dst content.Storage, mediaType string, v any) (ocispec.Descriptor, error) {
	b, err := JSONBlob(mediaType, v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, err := PushBlob(ctx, dst, b, PushOptions{}); err != nil {
		return ocispec.Descriptor{}, err
	}
	return b.Desc, nil
}

// pusher pushes blobs to one target and counts what it did.
type pusher struct {
	dst                      content.Storage
	opts                     PushOptions
	uploaded, skipped, bytes atomic.Int64
}

// pushAll pushes blobs concurrently and waits for all of them.
func (p *pusher) pushAll(ctx context.Context, blobs []Blob) error {
	conc := p.opts.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for _, b := range blobs {
		g.Go(func() error { return p.push(gctx, b) })
	}
	return g.Wait()
}

// push uploads one blob unless the target has it.
func (p *pusher) push(ctx context.Context, b Blob) (err error) {
	exists, err := p.dst.Exists(ctx, b.Desc)
	if err != nil {
		return fmt.Errorf("checking %s: %w", b.Desc.Digest, err)
	}
	progress := p.opts.Progress
	if progress != nil {
		progress.Start(b.Desc, exists)
		defer func() { progress.Done(b.Desc, err) }()
	}
	if exists {
		p.skipped.Add(1)
		return nil
	}
	err = Retry(ctx, p.opts.Attempts, func() error {
		rc, err := b.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		var r io.Reader = rc
		if progress != nil {
			r = progress.Wrap(b.Desc, r)
		}
		return ignoreExists(p.dst.Push(ctx, b.Desc, r))
	})
	if err != nil {
		return fmt.Errorf("uploading %s (%s): %w", b.Desc.Digest, b.Desc.MediaType, err)
	}
	p.uploaded.Add(1)
	p.bytes.Add(b.Desc.Size)
	return nil
}

// pushRoot pushes the root manifest and then tags it: in one request where
// the target can (a registry's PUT /manifests/TAG).
func (p *pusher) pushRoot(ctx context.Context, dst oras.Target, root Blob, tag string) error {
	exists := false
	if !p.opts.RootMissing {
		var err error
		if exists, err = dst.Exists(ctx, root.Desc); err != nil {
			return fmt.Errorf("checking manifest %s: %w", root.Desc.Digest, err)
		}
	}
	if exists {
		p.skipped.Add(1)
		if tag == "" {
			return nil
		}
		if err := Retry(ctx, p.opts.Attempts, func() error { return dst.Tag(ctx, root.Desc, tag) }); err != nil {
			return fmt.Errorf("tagging %s as %q: %w", root.Desc.Digest, tag, err)
		}
		return nil
	}
	err := Retry(ctx, p.opts.Attempts, func() error {
		rc, err := root.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		if rp, ok := dst.(registry.ReferencePusher); ok && tag != "" {
			return rp.PushReference(ctx, root.Desc, rc, tag)
		}
		if err := ignoreExists(dst.Push(ctx, root.Desc, rc)); err != nil || tag == "" {
			return err
		}
		return dst.Tag(ctx, root.Desc, tag)
	})
	if err != nil {
		if tag != "" {
			return fmt.Errorf("pushing manifest %s as %q: %w", root.Desc.Digest, tag, err)
		}
		return fmt.Errorf("pushing manifest %s: %w", root.Desc.Digest, err)
	}
	p.uploaded.Add(1)
	p.bytes.Add(root.Desc.Size)
	return nil
}

// ignoreExists treats "already exists" as success: another push got there
// first with the same content.
func ignoreExists(err error) error {
	if errors.Is(err, errdef.ErrAlreadyExists) {
		return nil
	}
	return err
}
