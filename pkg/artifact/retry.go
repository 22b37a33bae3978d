package artifact

import "github.com/tierpack/tierpack/pkg/oci"

// DefaultAttempts is how many times a blob transfer is tried before a push
// or pull gives up.
//
// Deprecated: use oci.DefaultAttempts.
const DefaultAttempts = oci.DefaultAttempts

// RetryError is returned when a transfer kept failing.
//
// Deprecated: use oci.RetryError.
type RetryError = oci.RetryError
