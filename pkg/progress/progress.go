// Package progress reports blob transfers to a person or a script: bars
// drawn with mpb on a terminal, or one JSON event per line for scripts.
// Both implement oci.Progress.
package progress

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/sdk"
)

// barThreshold is the smallest blob that gets a progress bar: smaller ones
// finish before a bar would be read.
const barThreshold = 256 << 10

// Bars draws one bar per large blob on w (a terminal); the caller calls
// the returned stop function once transfers are done.
func Bars(ctx context.Context, w io.Writer) (oci.Progress, func()) {
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond))
	bp := &barProgress{p: p, bars: map[string]*mpb.Bar{}}
	return bp, bp.stop
}

// JSON writes one JSON line per event on w: start, skip, done or error.
func JSON(w io.Writer) oci.Progress {
	return &jsonProgress{enc: json.NewEncoder(w)}
}

// barProgress draws one bar per large blob with mpb.
type barProgress struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*mpb.Bar
}

// label names a blob's bar: its title (from the artifact, so escaped, and
// cut to 28 runes) or its digest.
func label(d ocispec.Descriptor) string {
	if t := sdk.Escape(d.Annotations[ocispec.AnnotationTitle]); t != "" {
		if r := []rune(t); len(r) > 28 {
			t = string(r[:27]) + "…"
		}
		return t
	}
	return d.Digest.Encoded()[:12]
}

func (b *barProgress) Start(d ocispec.Descriptor, skipped bool) {
	if skipped || d.Size < barThreshold {
		return
	}
	bar := b.p.AddBar(d.Size,
		mpb.PrependDecorators(decor.Name(label(d), decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace)),
		// The average since the bar started, not a moving average of single
		// reads: a read served from a buffer takes microseconds, so per-read
		// rates jump between MiB/s and GiB/s within one transfer.
		mpb.AppendDecorators(decor.OnComplete(decor.AverageSpeed(decor.SizeB1024(0), "% .1f"), "done")),
	)
	b.mu.Lock()
	b.bars[d.Digest.String()] = bar
	b.mu.Unlock()
}

func (b *barProgress) bar(d ocispec.Descriptor) *mpb.Bar {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bars[d.Digest.String()]
}

func (b *barProgress) Wrap(d ocispec.Descriptor, r io.Reader) io.Reader {
	bar := b.bar(d)
	if bar == nil {
		return r
	}
	bar.SetCurrent(0) // a retry starts over
	return &barReader{r: r, bar: bar}
}

// barReader advances a bar as bytes are read; unlike ProxyReader it leaves
// closing to the caller and restarts cleanly on retries.
type barReader struct {
	r   io.Reader
	bar *mpb.Bar
}

func (br *barReader) Read(p []byte) (int, error) {
	n, err := br.r.Read(p)
	if n > 0 {
		br.bar.IncrBy(n)
	}
	return n, err
}

func (b *barProgress) Done(d ocispec.Descriptor, err error) {
	bar := b.bar(d)
	if bar == nil {
		return
	}
	if err != nil {
		bar.Abort(false)
		return
	}
	bar.SetTotal(-1, true)
}

func (b *barProgress) stop() {
	b.mu.Lock()
	for _, bar := range b.bars {
		if !bar.Completed() {
			bar.Abort(false)
		}
	}
	b.mu.Unlock()
	b.p.Wait()
}

// jsonProgress writes one JSON line per event on stderr, for scripts.
type jsonProgress struct {
	mu  sync.Mutex
	enc *json.Encoder
}

type progressEvent struct {
	Event     string `json:"event"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Title     string `json:"title,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (j *jsonProgress) emit(e progressEvent) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(e)
}

func (j *jsonProgress) Start(d ocispec.Descriptor, skipped bool) {
	ev := "start"
	if skipped {
		ev = "skip"
	}
	j.emit(progressEvent{Event: ev, Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size, Title: d.Annotations[ocispec.AnnotationTitle]})
}

func (j *jsonProgress) Wrap(_ ocispec.Descriptor, r io.Reader) io.Reader { return r }

func (j *jsonProgress) Done(d ocispec.Descriptor, err error) {
	e := progressEvent{Event: "done", Digest: d.Digest.String()}
	if err != nil {
		e.Event, e.Error = "error", err.Error()
	}
	j.emit(e)
}
