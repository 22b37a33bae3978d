//go:build unix

// Package fileid names a file whatever its path: its device and inode,
// and how many hard links it has, where the system says.
package fileid

import (
	"io/fs"
	"syscall"
)

// ID names a file whatever its path, so hard links to it share one.
type ID struct{ Dev, Ino uint64 }

// Of returns fi's ID and number of hard links; ok is false where the
// system does not say.
func Of(fi fs.FileInfo) (id ID, nlink uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ID{}, 1, false
	}
	return ID{uint64(st.Dev), uint64(st.Ino)}, uint64(st.Nlink), true
}
