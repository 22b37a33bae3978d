//go:build !unix

package sdk

import "time"

// exitWithParent does nothing here: without re-parenting, a parent's death
// is not visible through os.Getppid, and the host stops its plugins when it
// can.
func exitWithParent(time.Duration, func()) {}
