//go:build unix

package sdk

import (
	"os"
	"time"
)

// exitWithParent calls exit once this process's parent has changed: the
// parent died and the process was re-parented (to init or a subreaper). A
// process started by init itself is never re-parented, so nothing is
// watched then.
func exitWithParent(every time.Duration, exit func()) {
	parent := os.Getppid()
	if parent <= 1 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != parent {
			exit()
			return
		}
	}
}
