package home

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tierpack/tierpack/internal/proc"
)

// TempPrefix starts the names of the temporary files WriteAtomic makes
// beside their target: TempPrefix<pid>-…, so RemoveStale can tell a killed
// writer's leftovers from a running one's.
const TempPrefix = ".tmp-"

// WriteFileAtomic writes data to path so that readers, and path after a
// crash, hold either the old content or all of data, never a part: see
// WriteAtomic.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic streams content into path atomically. write fills a
// temporary file in path's folder (created if missing); if it returns an
// error, the file is removed and path is untouched — so write may refuse
// content it has just copied, e.g. on a digest mismatch. Otherwise the file
// gets perm (whatever the umask), is flushed to disk (fsync), and renamed
// over path; the folder is then synced so the rename survives a crash.
//
// Guarantees: a reader opening path sees the old file or the complete new
// one; concurrent writers of the same path each succeed and the last rename
// wins; a writer killed mid-way leaves only a TempPrefix<pid>- file, which
// RemoveStale cleans up. It does not lock: writers that read, modify and
// write a file must hold a Lock around all three.
func WriteAtomic(path string, perm fs.FileMode, write func(w io.Writer) error) error {
	return WriteAtomicHook(path, perm, write, nil)
}

// WriteAtomicHook is WriteAtomic that calls beforeRename, when set, with
// the temporary file's name once it is complete and on disk and before it
// is renamed over path: the window a crash test kills a writer in.
func WriteAtomicHook(path string, perm fs.FileMode, write func(w io.Writer) error, beforeRename func(tmp string)) (err error) {
	return writeAtomic(path, perm, write, beforeRename, true)
}

// WriteAtomicUnsynced is WriteAtomic without the flushes to disk: readers
// and a killed writer get the same guarantees, but after a crash of the
// machine itself path may hold a part of the content. Use it only for
// content every reader checks against its digest and can fetch again,
// such as cache entries: there a flush per file buys nothing.
func WriteAtomicUnsynced(path string, perm fs.FileMode, write func(w io.Writer) error) error {
	return writeAtomic(path, perm, write, nil, false)
}

func writeAtomic(path string, perm fs.FileMode, write func(w io.Writer) error, beforeRename func(tmp string), sync bool) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, fmt.Sprintf("%s%d-%s-*", TempPrefix, os.Getpid(), filepath.Base(path)))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if beforeRename != nil {
		beforeRename(f.Name())
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if sync {
		syncDir(dir)
	}
	return nil
}

// syncDir flushes a folder's entries (the rename) to disk. It is best
// effort: some systems cannot open or sync a folder, and the content is
// already safe.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// HasStale reports whether dir holds a file or folder RemoveStale would
// remove: one named prefix<pid>- for a process that no longer runs.
func HasStale(dir, prefix string) bool { return len(stale(dir, prefix, true)) > 0 }

// RemoveStale removes the temporary files (and folders) in dir whose names
// start with prefix<pid>- for a process that no longer runs: what writers
// killed mid-way left behind. An empty prefix means TempPrefix.
func RemoveStale(dir, prefix string) {
	for _, name := range stale(dir, prefix, false) {
		os.RemoveAll(filepath.Join(dir, name))
	}
}

// stale lists the entries of dir named prefix<pid>- (TempPrefix for "")
// for a process that no longer runs; only the first when first is set.
func stale(dir, prefix string, first bool) []string {
	if prefix == "" {
		prefix = TempPrefix
	}
	// Names only, unsorted: TMPDIR may hold thousands of entries.
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []string
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if pid := proc.PidFromName(name, prefix); pid > 0 && !proc.Alive(pid) {
			if out = append(out, name); first {
				break
			}
		}
	}
	return out
}
