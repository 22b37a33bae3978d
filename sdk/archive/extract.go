package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/klauspost/pgzip"
)

// Default limits applied by Extract for zero fields of Limits.
const (
	defaultMaxFileSize  = 1 << 30 // 1 GiB
	defaultMaxTotalSize = 4 << 30 // 4 GiB
	defaultMaxEntries   = 100_000
)

// maxTrailingGzip bounds how much data after the end of the tar stream
// Extract reads to verify the gzip checksum.
const maxTrailingGzip = 1 << 20

// Limits bounds what Extract accepts. A zero or negative field selects its
// default, so the zero value is ready to use.
type Limits struct {
	// MaxFileSize is the largest size in bytes of a single regular file.
	// The default is 1 GiB.
	MaxFileSize int64
	// MaxTotalSize is the largest total size in bytes of all regular-file
	// content in the archive. The default is 4 GiB.
	MaxTotalSize int64
	// MaxEntries is the largest number of tar entries of any type, including
	// directories, links and global PAX headers. The default is 100000.
	MaxEntries int
}

// withDefaults returns l with zero or negative fields replaced by defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = defaultMaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = defaultMaxTotalSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = defaultMaxEntries
	}
	return l
}

// Extract extracts the tar stream r, optionally gzip-compressed (detected
// from its magic bytes), into the existing directory dest, treating the
// archive as hostile.
//
// Unsafe entries are refused with an error wrapping ErrUnsafeEntry, and
// exceeding limits with an error wrapping ErrTooLarge; see the package
// documentation for the full list. Regular files are created with the
// archive's permission bits (mode & 0777, without setuid, setgid or sticky
// bits). Directories get their archived permission bits plus owner
// read/write/execute, so that the extracting user can always traverse and
// remove the tree; directories that are only implied by a file's path get
// 0755. Ownership is not restored: the extracting user owns everything, as
// archived uids mean nothing on another machine and restoring them would
// need privileges. Modification times are not restored either: WriteTarGz
// stores a fixed time, so the extraction time is more useful.
//
// Gzip input is read to the end of the gzip stream, at most 1 MiB past the
// end of the tar stream, so that its checksum is verified. Other
// compressions, such as zstd, are not supported.
//
// Extract checks ctx between entries and while copying file content. On
// error it may leave partial content in dest: extract into a fresh staging
// directory and remove it when Extract fails.
func Extract(ctx context.Context, r io.Reader, dest string, limits Limits) error {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("archive: opening destination: %w (create the destination directory before calling Extract)", err)
	}
	defer root.Close()

	br := bufio.NewReader(r)
	var src io.Reader = br
	var zr *pgzip.Reader
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		// pgzip decompresses ahead in its own goroutine, so inflating the
		// next block overlaps writing the current one.
		zr, err = pgzip.NewReaderN(br, 1<<20, 4)
		if err != nil {
			return fmt.Errorf("archive: reading gzip header: %w", err)
		}
		defer zr.Close()
		src = zr
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return errors.New("archive: the input is zstd-compressed; Extract reads only plain or gzip-compressed tar")
	}

	x := &extractor{
		ctx:      ctx,
		root:     root,
		limits:   limits.withDefaults(),
		dirs:     map[string]struct{}{".": {}},
		symlinks: map[string]struct{}{},
		files:    map[string]struct{}{},
	}
	tr := tar.NewReader(ctxReader{ctx, src})
	for entries := 1; ; entries++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("archive: extraction interrupted: %w", err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		// With GODEBUG=tarinsecurepath=0, Next reports non-local names
		// itself; refuse them like any other unsafe entry.
		insecure := errors.Is(err, tar.ErrInsecurePath) && hdr != nil
		if err != nil && !insecure {
			if ctx.Err() != nil {
				return fmt.Errorf("archive: extraction interrupted: %w", ctx.Err())
			}
			return fmt.Errorf("archive: reading tar entry %d: %w (is the input a complete plain or gzip-compressed tar stream?)", entries, err)
		}
		if entries > x.limits.MaxEntries {
			return fmt.Errorf("%w: the archive has more than %d entries, the Limits.MaxEntries limit; raise it if you trust this archive", ErrTooLarge, x.limits.MaxEntries)
		}
		if insecure {
			if _, reason := cleanName(hdr.Name); reason != "" {
				return unsafeEntry(hdr.Name, "%s", reason)
			}
			return unsafeEntry(hdr.Name, "archive/tar reports an insecure path")
		}
		if err := x.extract(hdr, tr); err != nil {
			return err
		}
	}
	if zr != nil {
		// Read to the end of the gzip stream so that its checksum is
		// verified; a tar stream is followed only by a little padding.
		n, err := io.Copy(io.Discard, io.LimitReader(ctxReader{ctx, zr}, maxTrailingGzip+1))
		if err != nil {
			return fmt.Errorf("archive: reading the end of the gzip stream: %w", err)
		}
		if n > maxTrailingGzip {
			return fmt.Errorf("archive: more than %d bytes of data follow the end of the tar stream; the archive is corrupt", maxTrailingGzip)
		}
	}
	return nil
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// extractor holds the state of one Extract call. Paths are cleaned and
// slash-separated, relative to the root.
// onlyWriter hides an *os.File's ReadFrom, so that io.CopyBuffer uses the
// extractor's large buffer.
type onlyWriter struct{ io.Writer }

type extractor struct {
	buf      []byte
	ctx      context.Context
	root     *os.Root
	limits   Limits
	total    int64               // regular-file bytes written so far
	dirs     map[string]struct{} // verified real directories
	symlinks map[string]struct{} // symlinks created by this archive
	files    map[string]struct{} // regular files created by this archive
}

// extract extracts one entry.
func (x *extractor) extract(hdr *tar.Header, content io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // metadata only, such as git archive's commit id
	}
	name, reason := cleanName(hdr.Name)
	if reason != "" {
		return unsafeEntry(hdr.Name, "%s", reason)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(hdr, name)
	case tar.TypeReg:
		return x.file(hdr, name, content)
	case tar.TypeSymlink:
		return x.symlink(hdr, name)
	case tar.TypeLink:
		return x.hardlink(hdr, name)
	case tar.TypeChar:
		return unsafeEntry(hdr.Name, "it is a character device; device files are never extracted")
	case tar.TypeBlock:
		return unsafeEntry(hdr.Name, "it is a block device; device files are never extracted")
	case tar.TypeFifo:
		return unsafeEntry(hdr.Name, "it is a named pipe (FIFO); named pipes are never extracted")
	case tar.TypeGNUSparse:
		return unsafeEntry(hdr.Name, "it is a GNU sparse file, which is not supported; re-create the archive without sparse files")
	default:
		return unsafeEntry(hdr.Name, "it has the unsupported entry type %q", hdr.Typeflag)
	}
}

// dir creates or updates a directory entry.
func (x *extractor) dir(hdr *tar.Header, name string) error {
	if name == "." {
		return nil // the destination itself; leave its mode alone
	}
	if err := x.parents(hdr.Name, name); err != nil {
		return err
	}
	if err := x.ensureDir(hdr.Name, name, false); err != nil {
		return err
	}
	perm := fs.FileMode(hdr.Mode)&0o777 | 0o700
	if err := x.root.Chmod(filepath.FromSlash(name), perm); err != nil {
		return fmt.Errorf("archive: entry %q: %w", hdr.Name, err)
	}
	return nil
}

// file creates a regular file; it never replaces an existing one.
func (x *extractor) file(hdr *tar.Header, name string, content io.Reader) error {
	if name == "." {
		return unsafeEntry(hdr.Name, "a file entry names the destination directory itself")
	}
	if err := x.checkSize(hdr.Name, hdr.Size); err != nil {
		return err
	}
	if err := x.parents(hdr.Name, name); err != nil {
		return err
	}
	f, err := x.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return unsafeEntry(hdr.Name, "%q already exists; a later entry may not replace an earlier one", name)
	}
	if err != nil {
		return fmt.Errorf("archive: entry %q: %w", hdr.Name, err)
	}
	x.files[name] = struct{}{}
	err = x.copyContent(f, content, hdr.Name, hdr.Size)
	if err == nil {
		err = f.Chmod(fs.FileMode(hdr.Mode) & 0o777)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("archive: entry %q: %w", hdr.Name, cerr)
	}
	return err
}

// checkSize refuses a file whose declared size exceeds the limits.
func (x *extractor) checkSize(entry string, size int64) error {
	if size > x.limits.MaxFileSize {
		return fmt.Errorf("%w: entry %q declares %d bytes, more than the Limits.MaxFileSize limit of %d; raise it if you trust this archive", ErrTooLarge, entry, size, x.limits.MaxFileSize)
	}
	if size > x.limits.MaxTotalSize-x.total {
		return fmt.Errorf("%w: entry %q declares %d bytes, which after the %d bytes already extracted exceeds the Limits.MaxTotalSize limit of %d; raise it if you trust this archive", ErrTooLarge, entry, size, x.total, x.limits.MaxTotalSize)
	}
	return nil
}

// copyContent copies a file's content to w, enforcing the limits on the
// bytes actually read rather than on the declared size alone.
func (x *extractor) copyContent(w io.Writer, content io.Reader, entry string, declared int64) error {
	allowed := min(x.limits.MaxFileSize, x.limits.MaxTotalSize-x.total)
	// Read one byte more than allowed to detect content beyond the limit.
	if x.buf == nil {
		x.buf = make([]byte, 1<<20) // large writes for large files
	}
	n, err := io.CopyBuffer(onlyWriter{w}, io.LimitReader(ctxReader{x.ctx, content}, min(allowed, math.MaxInt64-1)+1), x.buf)
	x.total += n
	if err != nil {
		return fmt.Errorf("archive: entry %q: %w", entry, err)
	}
	if n > allowed {
		if n > x.limits.MaxFileSize {
			return fmt.Errorf("%w: entry %q has more than %d bytes (it declared %d), more than the Limits.MaxFileSize limit of %d", ErrTooLarge, entry, n-1, declared, x.limits.MaxFileSize)
		}
		return fmt.Errorf("%w: the extracted content exceeds the Limits.MaxTotalSize limit of %d bytes at entry %q (it declared %d bytes)", ErrTooLarge, x.limits.MaxTotalSize, entry, declared)
	}
	if n != declared {
		return fmt.Errorf("archive: entry %q: read %d bytes but its header declares %d; the archive is corrupt", entry, n, declared)
	}
	return nil
}

// symlink creates a symlink whose target stays inside the destination.
func (x *extractor) symlink(hdr *tar.Header, name string) error {
	if name == "." {
		return unsafeEntry(hdr.Name, "a symlink entry names the destination directory itself")
	}
	target, reason := cleanLinkTarget(name, hdr.Linkname)
	if reason != "" {
		return unsafeEntry(hdr.Name, "%s", reason)
	}
	if err := x.parents(hdr.Name, name); err != nil {
		return err
	}
	err := x.root.Symlink(filepath.FromSlash(target), filepath.FromSlash(name))
	if errors.Is(err, fs.ErrExist) {
		return unsafeEntry(hdr.Name, "%q already exists; a later entry may not replace an earlier one", name)
	}
	if err != nil {
		return fmt.Errorf("archive: entry %q: %w", hdr.Name, err)
	}
	x.symlinks[name] = struct{}{}
	return nil
}

// hardlink creates a hard link to a regular file extracted earlier.
func (x *extractor) hardlink(hdr *tar.Header, name string) error {
	if name == "." {
		return unsafeEntry(hdr.Name, "a hard link entry names the destination directory itself")
	}
	target, reason := cleanName(hdr.Linkname)
	if reason != "" {
		return unsafeEntry(hdr.Name, "hard link target %q is not inside the destination: %s", hdr.Linkname, reason)
	}
	if _, ok := x.files[target]; !ok {
		return unsafeEntry(hdr.Name, "hard link target %q is not a regular file extracted earlier from this archive", hdr.Linkname)
	}
	if err := x.parents(hdr.Name, name); err != nil {
		return err
	}
	err := x.root.Link(filepath.FromSlash(target), filepath.FromSlash(name))
	if errors.Is(err, fs.ErrExist) {
		return unsafeEntry(hdr.Name, "%q already exists; a later entry may not replace an earlier one", name)
	}
	if err != nil {
		return fmt.Errorf("archive: entry %q: %w", hdr.Name, err)
	}
	x.files[name] = struct{}{}
	return nil
}

// parents makes sure every parent directory of name is a real directory,
// creating missing ones with mode 0755.
func (x *extractor) parents(entry, name string) error {
	for i := range len(name) {
		if name[i] == '/' {
			if err := x.ensureDir(entry, name[:i], true); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureDir makes sure dir is a real directory (not a symlink to one),
// creating it if it does not exist. parent says whether dir is a parent of
// the entry rather than the entry itself, for error messages.
func (x *extractor) ensureDir(entry, dir string, parent bool) error {
	if _, ok := x.dirs[dir]; ok {
		return nil
	}
	if _, ok := x.symlinks[dir]; ok && parent {
		return unsafeEntry(entry, "its path passes through %q, a symlink created by an earlier entry", dir)
	}
	native := filepath.FromSlash(dir)
	fi, err := x.root.Lstat(native)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := x.root.Mkdir(native, 0o700); err != nil {
			return fmt.Errorf("archive: entry %q: %w", entry, err)
		}
		if err := x.root.Chmod(native, 0o755); err != nil {
			return fmt.Errorf("archive: entry %q: %w", entry, err)
		}
	case err != nil:
		return fmt.Errorf("archive: entry %q: %w", entry, err)
	case fi.IsDir():
	case !parent:
		return unsafeEntry(entry, "%q already exists and is not a directory", dir)
	case fi.Mode()&fs.ModeSymlink != 0:
		return unsafeEntry(entry, "its path passes through %q, which is a symlink", dir)
	default:
		return unsafeEntry(entry, "its path passes through %q, which is not a directory", dir)
	}
	x.dirs[dir] = struct{}{}
	return nil
}
