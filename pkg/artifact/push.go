package artifact

import (
	"context"

	"oras.land/oras-go/v2"

	"github.com/tierpack/tierpack/pkg/oci"
)

// PushOptions tune Push. The zero value is ready to use.
type PushOptions = oci.PushOptions

// Progress receives transfer events. Implementations must be safe for
// concurrent use.
type Progress = oci.Progress

// PushResult reports what Push did.
type PushResult = oci.PushResult

// Push copies the packed artifact to dst and tags it, uploading only what
// dst lacks. The tag is written last: until every blob and child manifest is
// in place, the tag is not touched.
func (p *Packed) Push(ctx context.Context, dst oras.Target, tag string, opts PushOptions) (PushResult, error) {
	return oci.PushBlobs(ctx, dst, p.Blobs, tag, opts)
}
