// Package proc tells whether a process still runs, so that leftovers of a
// killed tierpack (staging folders, partial cache files, which carry the
// pid of the process that made them) can be told from work in progress.
package proc

import (
	"strconv"
	"strings"
)

// Alive reports whether a process with this pid exists. It errs on the side
// of "alive" when it cannot tell, so nothing in use is removed.
func Alive(pid int) bool {
	if pid <= 0 {
		return true
	}
	return alive(pid)
}

// PidFromName extracts the pid from a name of the form PREFIX<pid>-REST,
// returning 0 when there is none.
func PidFromName(name, prefix string) int {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0
	}
	digits, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(digits)
	if err != nil {
		return 0
	}
	return pid
}
