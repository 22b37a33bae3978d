//go:build unix

package artifact

import (
	"io/fs"
	"syscall"
)

// linksOf returns a file's device, inode and number of hard links.
func linksOf(fi fs.FileInfo) (dev, ino, nlink uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 1
	}
	return uint64(st.Dev), uint64(st.Ino), uint64(st.Nlink)
}
