//go:build !unix

// Package fileid names a file whatever its path: its device and inode,
// and how many hard links it has, where the system says.
package fileid

import "io/fs"

// ID names a file whatever its path; not available here.
type ID struct{ Dev, Ino uint64 }

// Of reports that this system does not say: one link, no ID.
func Of(fs.FileInfo) (id ID, nlink uint64, ok bool) { return ID{}, 1, false }
