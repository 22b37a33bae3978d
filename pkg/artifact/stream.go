package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

// One pass over a big layer. When the unpack is the standard extraction
// done in this process (a built-in type, falcoctl's format, or a plugin
// that declared it) and the artifact is one layer the cache does not hold,
// the pull is one pipeline over both cores: the download is hashed and
// written to the cache on one goroutine while the archive is decompressed,
// checked against the budget and written out on another, instead of
// downloading everything and then reading it back. Nothing is trusted
// earlier for it: the output goes to the staging folder, which is renamed
// into place only if the layer's digest matched at its end — a mismatch,
// like any failure, removes it (ErrRefusedContent for a mismatch, as the
// two-pass pull says it).
//
// A transfer that must be retried is not: after a failed attempt the
// stream gives up (errStreamRetry) and the pull starts again the
// two-pass way, which retries downloads into the cache by itself.

// errStreamRetry stops a streamed layer whose download must be tried
// again: the two-pass pull takes over.
var errStreamRetry = errors.New("the streamed download must be retried")

// streamLayer is the one layer of units that a streamed pull can take,
// when there is exactly one, of a format in formats, not cached.
func streamLayer(t *target.Target, units []unpackUnit, formats map[string]archive.Format) (ocispec.Descriptor, bool) {
	if len(formats) == 0 || len(units) != 1 || units[0].dir != "" {
		return ocispec.Descriptor{}, false
	}
	var layer *ocispec.Descriptor
	for i, l := range units[0].manifest.Layers {
		if l.MediaType == ocispec.MediaTypeEmptyJSON {
			continue
		}
		if layer != nil {
			return ocispec.Descriptor{}, false
		}
		layer = &units[0].manifest.Layers[i]
	}
	if layer == nil || layer.Digest.Validate() != nil {
		return ocispec.Descriptor{}, false
	}
	if _, ok := formats[layer.MediaType]; !ok || (t.Cache != nil && t.Cache.Has(*layer)) {
		return ocispec.Descriptor{}, false
	}
	return *layer, true
}

// stream downloads layer and extracts it into the staging output as it
// arrives, keeping the download in the cache if there is one, and spends
// budget.
func (st *staging) stream(ctx context.Context, t *target.Target, layer ocispec.Descriptor, format archive.Format, budget *archive.Budget, opts PullOptions) error {
	attempts := 0
	fo := oci.FetchOptions{Progress: opts.Progress, Attempts: opts.Attempts}
	err := oci.FetchTo(ctx, t.Store, layer, fo, func(r io.Reader) error {
		if attempts++; attempts > 1 {
			return errStreamRetry
		}
		pipe := newChunkPipe(streamBuffer)
		extracted := make(chan error, 1)
		go func() {
			err := archive.ExtractWith(ctx, pipe, st.out, archive.ExtractOptions{Budget: budget, Format: format})
			if err == nil {
				// What follows the archive's end (gzip's trailer,
				// padding) is read too: the download goes on to its end
				// and its digest check.
				_, err = io.Copy(io.Discard, pipe)
			}
			if err != nil {
				pipe.stopReading(errExtractStopped) // the download stops too
			}
			extracted <- err
		}()
		tee := io.TeeReader(r, pipe)
		var putErr error
		if t.Cache != nil {
			putErr = t.Cache.PutVerified(layer, tee)
		} else {
			// Without a cache the download is not kept: nothing reads it
			// after the stream (a retry downloads it again, two-pass).
			// r checks the digest at its end, as PutVerified relies on.
			_, putErr = io.Copy(io.Discard, tee)
		}
		pipe.CloseWithError(putErr)
		exErr := <-extracted
		if putErr != nil && !errors.Is(putErr, errExtractStopped) {
			return putErr // the download's failure (a mismatch among them)
		}
		if exErr != nil {
			return &extractError{err: exErr}
		}
		return nil
	})
	var ee *extractError
	switch {
	case errors.As(err, &ee):
		return ee.err
	case errors.Is(err, errStreamRetry):
		return errStreamRetry
	case err != nil:
		return fetchError(t, layer, err)
	}
	return nil
}

// extractError carries the extraction's failure through FetchTo, which
// must not retry it.
type extractError struct{ err error }

func (e *extractError) Error() string { return e.err.Error() }

// errExtractStopped ends the download of a layer whose extraction
// failed.
var errExtractStopped = errors.New("extraction stopped")

// unpackStreamed is pullOnce's streamed path: layer extracted into the
// staging output with one budget of opts.Limits, then the output checked
// and listed as unpackAll does.
func (st *staging) unpackStreamed(ctx context.Context, t *target.Target, layer ocispec.Descriptor, format archive.Format, name string, opts PullOptions) (*PullResult, error) {
	budget := archive.Budget{Limits: opts.Limits.WithDefaults()}
	if err := st.stream(ctx, t, layer, format, &budget, opts); err != nil {
		if errors.Is(err, errStreamRetry) {
			return nil, err
		}
		if archiveRefused(err) {
			return nil, fmt.Errorf("%w: %s: layer %s: %w", ErrRefusedContent, t.Ref, layer.Digest, err)
		}
		return nil, err
	}
	check := archive.Budget{Limits: budget.Limits}
	if err := checkPluginOutput(&check, st.out); err != nil {
		return nil, fmt.Errorf("%w: %s unpacking %s: %w", ErrPluginOutput, name, t.Ref, err)
	}
	files, err := sdk.ListFiles(st.out)
	if err != nil {
		return nil, err
	}
	return &PullResult{Files: files}, nil
}

// resetOutput empties the staging output for the two-pass pull after a
// streamed attempt gave up.
func (st *staging) resetOutput() error {
	if err := os.RemoveAll(st.out); err != nil {
		return err
	}
	return os.MkdirAll(st.out, 0o755)
}

// streamBuffer bounds what the download may run ahead of the extraction,
// in bytes: enough to keep both cores busy, and memory flat in the size of
// the artifact.
const streamBuffer = 16 << 20

// chunkPipe is io.Pipe with a buffer: Write copies into the buffer and
// returns at once while there is room (io.Pipe's would wait for the
// reader, putting the two ends in lockstep).
type chunkPipe struct {
	ch      chan []byte
	stopped chan struct{}
	stop    sync.Once
	stopErr error
	err     error // the writer's, read after ch is closed
	cur     []byte
}

// newChunkPipe is a pipe buffering up to size bytes (in 32 KiB chunks).
func newChunkPipe(size int) *chunkPipe {
	return &chunkPipe{ch: make(chan []byte, max(1, size/(32<<10))), stopped: make(chan struct{})}
}

// Write queues a copy of b; it fails once the reader stopped.
func (p *chunkPipe) Write(b []byte) (int, error) {
	select {
	case <-p.stopped:
		return 0, p.stopErr
	default:
	}
	c := make([]byte, len(b))
	copy(c, b)
	select {
	case p.ch <- c:
		return len(b), nil
	case <-p.stopped:
		return 0, p.stopErr
	}
}

// CloseWithError ends the writing side: the reader gets err, or io.EOF
// for nil, after what is queued.
func (p *chunkPipe) CloseWithError(err error) {
	if err == nil {
		err = io.EOF
	}
	p.err = err
	close(p.ch)
}

// Read reads what was written, in order.
func (p *chunkPipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		c, ok := <-p.ch
		if !ok {
			return 0, p.err
		}
		p.cur = c
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// stopReading makes writes fail with err from now on (the reader gave
// up).
func (p *chunkPipe) stopReading(err error) {
	p.stop.Do(func() { p.stopErr = err; close(p.stopped) })
}
