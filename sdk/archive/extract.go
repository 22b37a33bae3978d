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
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Default limits, applied for zero fields of Limits. They are the limits
// of one `tierpack pull` (all layers of all platforms it unpacks together)
// and of what `tierpack push` accepts, unless raised.
const (
	// DefaultMaxFileSize is the default largest regular file: 1 GiB.
	DefaultMaxFileSize int64 = 1 << 30
	// DefaultMaxTotalSize is the default largest total of regular-file
	// content: 4 GiB.
	DefaultMaxTotalSize int64 = 4 << 30
	// DefaultMaxEntries is the default largest number of entries.
	DefaultMaxEntries = 100_000
)

// maxTrailingGzip bounds how much data after the end of the tar stream
// Extract reads to verify the gzip checksum.
const maxTrailingGzip = 1 << 20

// Limits bounds what Extract accepts. A zero or negative field selects its
// default, so the zero value is ready to use.
type Limits struct {
	// MaxFileSize is the largest size in bytes of a single regular file.
	// The default is DefaultMaxFileSize (1 GiB).
	MaxFileSize int64
	// MaxTotalSize is the largest total size in bytes of all regular-file
	// content. The default is DefaultMaxTotalSize (4 GiB).
	MaxTotalSize int64
	// MaxEntries is the largest number of tar entries of any type, including
	// directories, links and global PAX headers. The default is
	// DefaultMaxEntries (100000).
	MaxEntries int
}

// WithDefaults returns l with zero or negative fields replaced by the
// defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultMaxTotalSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	return l
}

// Budget is one set of Limits spent by several archives: every entry and
// every byte of regular-file content ExtractWith or Scan accepts is added
// to Size and Entries, and an archive that would take either past its limit
// is refused. The tierpack host gives plugins one budget for all layers of
// all platforms of a pull, in UnpackRequest.Budget, so that splitting
// content over many layers gains nothing. The zero value is the default
// limits with nothing spent.
type Budget struct {
	// Limits is the whole budget.
	Limits Limits
	// Size is the regular-file content accepted so far, in bytes.
	Size int64
	// Entries is the number of entries accepted so far.
	Entries int
}

// Format says how an archive is compressed.
type Format int

// Formats of ExtractOptions.Format.
const (
	// FormatAuto detects gzip or zstd from the input's first bytes.
	FormatAuto Format = iota
	// FormatTar is a plain tar stream.
	FormatTar
	// FormatGzip is a gzip-compressed tar stream; anything else is refused
	// at once, before reading further.
	FormatGzip
	// FormatZstd is a zstd-compressed tar stream; anything else is refused
	// at once, before reading further.
	FormatZstd
)

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// MaxZstdWindow is the largest zstd window (the memory a decoder must
// keep) Extract accepts: the zstd command line's own default limit
// (--long=27). Writers of tierpack layers use 8 MiB at most; a larger
// window is refused before it is allocated, as hostile.
const MaxZstdWindow = 128 << 20

// FormatOf returns the Format of a layer media type: tar+gzip media types
// (OCI, Docker, Helm charts) are FormatGzip, tar+zstd ones FormatZstd,
// plain tar ones FormatTar. ok is false for anything else.
func FormatOf(mediaType string) (f Format, ok bool) {
	switch {
	case strings.HasSuffix(mediaType, "tar+gzip"), strings.HasSuffix(mediaType, "tar.gzip"):
		return FormatGzip, true
	case strings.HasSuffix(mediaType, "tar+zstd"):
		return FormatZstd, true
	case strings.HasSuffix(mediaType, ".tar"), strings.HasSuffix(mediaType, "+tar"):
		return FormatTar, true
	}
	return FormatAuto, false
}

// ExtractOptions tune ExtractWith and Scan. The zero value is ready to use:
// default limits, gzip detected, no group or world write bits.
type ExtractOptions struct {
	// Budget is charged with what the archive holds. Nil means a fresh
	// budget with the default limits.
	Budget *Budget
	// Format is what the input must be; FormatAuto detects gzip and zstd.
	Format Format
	// GroupWorldWritable keeps the archive's group- and world-write
	// permission bits. By default they are cleared, so that nothing
	// extracted is writable by other users whatever the archive says; set
	// it only for content that must be shared that way.
	GroupWorldWritable bool
}

// Extract extracts the tar stream r, optionally gzip- or zstd-compressed
// (detected from its magic bytes), into the existing directory dest,
// treating the archive as hostile, within limits. It is ExtractWith with a
// fresh Budget of limits.
func Extract(ctx context.Context, r io.Reader, dest string, limits Limits) error {
	return ExtractWith(ctx, r, dest, ExtractOptions{Budget: &Budget{Limits: limits}})
}

// ExtractWith extracts the tar stream r into the existing directory dest,
// treating the archive as hostile.
//
// Unsafe entries are refused with an error wrapping ErrUnsafeEntry,
// exceeding the budget's limits with an error wrapping ErrTooLarge, and
// input that is not a tar stream in the expected format with an error
// wrapping ErrCorrupt; see the package documentation for the full list.
// Regular files are created with the archive's permission bits without
// setuid, setgid or sticky bits and, unless opts.GroupWorldWritable, without
// group or world write; the process umask applies on top, as for any file
// the process creates. Directories get the same, plus owner
// read/write/execute, so that the extracting user can always traverse and
// remove the tree; directories that are only implied by a file's path get
// 0755 less the umask. Ownership is not restored: the extracting user owns
// everything, as archived uids mean nothing on another machine and
// restoring them would need privileges. Modification times are not
// restored either: WriteTarGz stores a fixed time, so the extraction time
// is more useful.
//
// Gzip and zstd input is read to the end of the compressed stream, at most
// 1 MiB past the end of the tar stream, so that its checksum is verified.
// A zstd window above MaxZstdWindow is refused. Other compressions are not
// supported.
//
// ExtractWith checks ctx between entries and while copying file content.
// On error it may leave partial content in dest: extract into a fresh
// staging directory and remove it when ExtractWith fails.
func ExtractWith(ctx context.Context, r io.Reader, dest string, opts ExtractOptions) error {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("archive: opening destination: %w (create the destination directory before calling Extract)", err)
	}
	defer root.Close()
	return run(ctx, r, root, opts)
}

// Scan reads the tar stream r as ExtractWith would and applies the same
// checks and limits, charging opts.Budget, but writes nothing. A stream
// Scan accepts with a budget, ExtractWith accepts into an empty directory
// with the same budget. The tierpack host scans what it pushes, so that
// push refuses what pull would.
func Scan(ctx context.Context, r io.Reader, opts ExtractOptions) error {
	return run(ctx, r, nil, opts)
}

// run extracts r into root, or only checks it when root is nil.
func run(ctx context.Context, r io.Reader, root *os.Root, opts ExtractOptions) error {
	br := bufio.NewReader(r)
	var src io.Reader = br
	var zr io.Reader // the decompressor, read to its end after the tar stream
	magic, _ := br.Peek(4)
	gz := bytes.HasPrefix(magic, []byte{0x1f, 0x8b})
	zst := bytes.Equal(magic, zstdMagic)
	switch {
	case opts.Format == FormatGzip && !gz && len(magic) > 0:
		return fmt.Errorf("%w: the layer's media type says gzip, but its data does not start with the gzip magic bytes (it starts with % x); it is mislabelled or hostile", ErrCorrupt, magic)
	case opts.Format == FormatZstd && !zst && len(magic) > 0:
		return fmt.Errorf("%w: the layer's media type says zstd, but its data does not start with the zstd magic bytes (it starts with % x); it is mislabelled or hostile", ErrCorrupt, magic)
	case gz && opts.Format != FormatTar:
		// pgzip decompresses ahead in its own goroutine, so inflating the
		// next block overlaps writing the current one.
		pz, err := pgzip.NewReaderN(br, 1<<20, 4)
		if err != nil {
			return fmt.Errorf("%w: reading the gzip header: %v", ErrCorrupt, err)
		}
		defer pz.Close()
		src, zr = pz, pz
	case zst && opts.Format != FormatTar:
		// zstd decodes faster in line than with blocks decoded ahead
		// (measured: 15 ms against 24 ms for the bench's 100 MiB). The
		// window is bounded before anything is allocated for it.
		zd, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxZstdWindow), zstd.WithDecoderMaxMemory(MaxZstdWindow))
		if err != nil {
			return fmt.Errorf("%w: reading the zstd stream: %v", ErrCorrupt, err)
		}
		defer zd.Close()
		src, zr = zd, zd
	}
	budget := opts.Budget
	if budget == nil {
		budget = &Budget{}
	}
	x := &extractor{
		ctx:      ctx,
		root:     root,
		budget:   budget,
		limits:   budget.Limits.WithDefaults(),
		keepGW:   opts.GroupWorldWritable,
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
			return fmt.Errorf("%w: reading tar entry %d: %v (is the input a complete plain, gzip- or zstd-compressed tar stream?)", ErrCorrupt, entries, err)
		}
		if budget.Entries >= x.limits.MaxEntries {
			return limitErrorf("MaxEntries", "more than %d entries, the limit on entries (Limits.MaxEntries; %s); raise it if you trust this archive",
				x.limits.MaxEntries, spent(budget))
		}
		budget.Entries++
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
		// Read to the end of the compressed stream so that its checksum
		// is verified; a tar stream is followed only by a little padding.
		n, err := io.Copy(io.Discard, io.LimitReader(ctxReader{ctx, zr}, maxTrailingGzip+1))
		if err != nil {
			return fmt.Errorf("%w: reading the end of the compressed stream: %v", ErrCorrupt, err)
		}
		if n > maxTrailingGzip {
			return fmt.Errorf("%w: more than %d bytes of data follow the end of the tar stream", ErrCorrupt, maxTrailingGzip)
		}
	}
	return nil
}

// spent describes what a budget had already accepted, for messages about
// a budget shared by several archives.
func spent(b *Budget) string {
	return fmt.Sprintf("%d entries and %s already accepted", b.Entries, FormatSize(b.Size))
}

// exactSize formats n for messages, with the exact count when FormatSize
// rounds.
func exactSize(n int64) string {
	if n < 1024 {
		return FormatSize(n)
	}
	return fmt.Sprintf("%s (%d bytes)", FormatSize(n), n)
}

// ParseSize reads a size as people write it, the other way round from
// FormatSize: 4GiB, 500MB, 1.5GiB or 1048576 (bytes). KiB, MiB, GiB and
// TiB (or K, M, G, T) are powers of 1024, KB, MB, GB and TB powers of 1000.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"K": 1 << 10, "KiB": 1 << 10, "KB": 1e3,
		"M": 1 << 20, "MiB": 1 << 20, "MB": 1e6,
		"G": 1 << 30, "GiB": 1 << 30, "GB": 1e9,
		"T": 1 << 40, "TiB": 1 << 40, "TB": 1e12,
	}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v <= 0 || v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size: use e.g. 4GiB, 500MiB or a number of bytes", s)
	}
	return int64(v * mult), nil
}

// FormatSize formats a byte count for messages: "1 GiB", "3.5 MiB", "12 bytes".
func FormatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
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

// onlyWriter hides an *os.File's ReadFrom, so that io.CopyBuffer uses the
// extractor's large buffer.
type onlyWriter struct{ io.Writer }

// extractor holds the state of one Extract call. Paths are cleaned and
// slash-separated, relative to the root.

// In Scan, root is nil and only the maps track what exists.
type extractor struct {
	buf      []byte
	ctx      context.Context
	root     *os.Root // nil: scan only, write nothing
	budget   *Budget
	limits   Limits // budget.Limits with defaults
	keepGW   bool   // keep group and world write bits
	umask    fs.FileMode
	gotUmask bool
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
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			// archive/tar expands PAX sparse files (GNU formats 0.0, 0.1
			// and 1.0) transparently: a few hundred bytes of archive can
			// declare gigabytes of holes.
			return unsafeEntry(hdr.Name, "it is a PAX sparse file (record %s), which is not supported; re-create the archive without sparse files", k)
		}
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

// perm returns the permission bits to create an entry with: the archive's,
// without setuid, setgid or sticky bits and, unless the options keep them,
// without group or world write. The umask applies on top.
func (x *extractor) perm(mode int64) fs.FileMode {
	p := fs.FileMode(mode) & 0o777
	if !x.keepGW {
		p &^= 0o022
	}
	return p
}

// processUmask returns the umask, found once per extraction by creating a
// probe directory with mode 0777: reading it with syscall.Umask would
// change it for the whole process, racing other goroutines.
func (x *extractor) processUmask() (fs.FileMode, error) {
	if x.gotUmask {
		return x.umask, nil
	}
	probe := fmt.Sprintf(".archive-umask-%d-%d", os.Getpid(), time.Now().UnixNano())
	if err := x.root.Mkdir(probe, 0o777); err != nil {
		return 0, fmt.Errorf("archive: finding the umask: %v", pathless(err))
	}
	fi, err := x.root.Lstat(probe)
	rerr := x.root.Remove(probe)
	if err != nil {
		return 0, fmt.Errorf("archive: finding the umask: %v", pathless(err))
	}
	if rerr != nil {
		return 0, fmt.Errorf("archive: finding the umask: %v", pathless(rerr))
	}
	x.umask, x.gotUmask = 0o777&^fi.Mode().Perm(), true
	return x.umask, nil
}

// dir creates or updates a directory entry.
func (x *extractor) dir(hdr *tar.Header, name string) error {
	if name == "." {
		return nil // the destination itself; leave its mode alone
	}
	if err := x.parents(hdr.Name, name); err != nil {
		return err
	}
	perm := x.perm(hdr.Mode) | 0o700
	created, err := x.ensureDir(hdr.Name, name, false, perm)
	if err != nil || created || x.root == nil {
		return err
	}
	// It existed: implied by an earlier path, or an earlier entry. Chmod
	// ignores the umask, so apply it here.
	umask, err := x.processUmask()
	if err != nil {
		return err
	}
	if err := x.root.Chmod(filepath.FromSlash(name), perm&^umask|0o700); err != nil {
		return entryError(hdr.Name, err)
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
	if x.root == nil {
		if err := x.claim(hdr.Name, name); err != nil {
			return err
		}
		x.files[name] = struct{}{}
		return x.copyContent(io.Discard, content, hdr.Name, hdr.Size)
	}
	// Created with its final mode, so that the umask applies; the open
	// descriptor may write even to a read-only file it created.
	f, err := x.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, x.perm(hdr.Mode))
	if errors.Is(err, fs.ErrExist) {
		return unsafeEntry(hdr.Name, "%q already exists; a later entry may not replace an earlier one", name)
	}
	if err != nil {
		return entryError(hdr.Name, err)
	}
	x.files[name] = struct{}{}
	err = x.copyContent(f, content, hdr.Name, hdr.Size)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = entryError(hdr.Name, cerr)
	}
	return err
}

// claim records, in Scan, that an entry creates name: it fails as creating
// it in a real directory would if something is there already.
func (x *extractor) claim(entry, name string) error {
	_, isDir := x.dirs[name]
	_, isLink := x.symlinks[name]
	_, isFile := x.files[name]
	if isDir || isLink || isFile {
		return unsafeEntry(entry, "%q already exists; a later entry may not replace an earlier one", name)
	}
	return nil
}

// checkSize refuses a file whose declared size exceeds the limits.
func (x *extractor) checkSize(entry string, size int64) error {
	if size > x.limits.MaxFileSize {
		return limitErrorf("MaxFileSize", "entry %s declares %s, more than the %s limit on one file (Limits.MaxFileSize); raise it if you trust this archive",
			Quote(entry), exactSize(size), FormatSize(x.limits.MaxFileSize))
	}
	if size > x.limits.MaxTotalSize-x.budget.Size {
		return x.totalError(entry, size)
	}
	return nil
}

// totalError reports that entry's size bytes do not fit in the budget.
func (x *extractor) totalError(entry string, size int64) error {
	return limitErrorf("MaxTotalSize", "entry %s (%s) takes the content past the %s limit on the total size (Limits.MaxTotalSize; %s); raise it if you trust this archive",
		Quote(entry), FormatSize(size), FormatSize(x.limits.MaxTotalSize), spent(x.budget))
}

// copyContent copies a file's content to w, enforcing the limits on the
// bytes actually read rather than on the declared size alone.
func (x *extractor) copyContent(w io.Writer, content io.Reader, entry string, declared int64) error {
	allowed := min(x.limits.MaxFileSize, x.limits.MaxTotalSize-x.budget.Size)
	// Read one byte more than allowed to detect content beyond the limit.
	if x.buf == nil {
		x.buf = make([]byte, 1<<20) // large writes for large files
	}
	n, err := io.CopyBuffer(onlyWriter{w}, io.LimitReader(ctxReader{x.ctx, content}, min(allowed, math.MaxInt64-1)+1), x.buf)
	if err != nil {
		x.budget.Size += n
		if x.ctx.Err() == nil && !isWriteError(err) {
			return fmt.Errorf("%w: entry %s: %v", ErrCorrupt, Quote(entry), pathless(err))
		}
		return entryError(entry, err)
	}
	if n > allowed {
		x.budget.Size += n - 1
		if n > x.limits.MaxFileSize {
			return limitErrorf("MaxFileSize", "entry %s has more than %s (it declared %d bytes), the limit on one file (Limits.MaxFileSize); raise it if you trust this archive",
				Quote(entry), FormatSize(x.limits.MaxFileSize), declared)
		}
		return x.totalError(entry, n-1)
	}
	x.budget.Size += n
	if n != declared {
		return fmt.Errorf("%w: entry %s: read %d bytes but its header declares %d", ErrCorrupt, Quote(entry), n, declared)
	}
	return nil
}

// isWriteError reports whether err came from writing (the destination), not
// from reading the archive.
func isWriteError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Op == "write"
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
	if x.root == nil {
		if err := x.claim(hdr.Name, name); err != nil {
			return err
		}
		x.symlinks[name] = struct{}{}
		return nil
	}
	err := x.root.Symlink(filepath.FromSlash(target), filepath.FromSlash(name))
	if errors.Is(err, fs.ErrExist) {
		return unsafeEntry(hdr.Name, "%q already exists; a later entry may not replace an earlier one", name)
	}
	if err != nil {
		return entryError(hdr.Name, err)
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
		return unsafeEntry(hdr.Name, "hard link target %s is not inside the destination: %s", Quote(hdr.Linkname), reason)
	}
	if _, ok := x.files[target]; !ok {
		return unsafeEntry(hdr.Name, "hard link target %s is not a regular file extracted earlier from this archive", Quote(hdr.Linkname))
	}
	if err := x.parents(hdr.Name, name); err != nil {
		return err
	}
	if x.root == nil {
		if err := x.claim(hdr.Name, name); err != nil {
			return err
		}
		x.files[name] = struct{}{}
		return nil
	}
	err := x.root.Link(filepath.FromSlash(target), filepath.FromSlash(name))
	if errors.Is(err, fs.ErrExist) {
		return unsafeEntry(hdr.Name, "%q already exists; a later entry may not replace an earlier one", name)
	}
	if err != nil {
		return entryError(hdr.Name, err)
	}
	x.files[name] = struct{}{}
	return nil
}

// parents makes sure every parent directory of name is a real directory,
// creating missing ones with mode 0755 (less the umask).
func (x *extractor) parents(entry, name string) error {
	for i := range len(name) {
		if name[i] == '/' {
			if _, err := x.ensureDir(entry, name[:i], true, 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureDir makes sure dir is a real directory (not a symlink to one),
// creating it with perm (less the umask) if it does not exist, and reports
// whether it created it. parent says whether dir is a parent of the entry
// rather than the entry itself, for error messages.
func (x *extractor) ensureDir(entry, dir string, parent bool, perm fs.FileMode) (created bool, err error) {
	if _, ok := x.dirs[dir]; ok {
		return false, nil
	}
	if _, ok := x.symlinks[dir]; ok && parent {
		return false, unsafeEntry(entry, "its path passes through %q, a symlink created by an earlier entry", dir)
	}
	if x.root == nil {
		_, isLink := x.symlinks[dir]
		_, isFile := x.files[dir]
		switch {
		case (isLink || isFile) && !parent:
			return false, unsafeEntry(entry, "%q already exists and is not a directory", dir)
		case isFile:
			return false, unsafeEntry(entry, "its path passes through %q, which is not a directory", dir)
		}
		x.dirs[dir] = struct{}{}
		return true, nil
	}
	native := filepath.FromSlash(dir)
	fi, err := x.root.Lstat(native)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := x.root.Mkdir(native, perm); err != nil {
			return false, entryError(entry, err)
		}
		created = true
	case err != nil:
		return false, entryError(entry, err)
	case fi.IsDir():
	case !parent:
		return false, unsafeEntry(entry, "%q already exists and is not a directory", dir)
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, unsafeEntry(entry, "its path passes through %q, which is a symlink", dir)
	default:
		return false, unsafeEntry(entry, "its path passes through %q, which is not a directory", dir)
	}
	x.dirs[dir] = struct{}{}
	return created, nil
}

// entryError reports a file-system error about an entry. The error's own
// path is left out: it repeats the entry's name unescaped, and a hostile
// name could hold terminal control sequences.
func entryError(entry string, err error) error {
	return fmt.Errorf("archive: entry %s: %w", Quote(entry), pathlessError{err})
}

// pathlessError wraps a file-system error, printing it without its path.
type pathlessError struct{ err error }

func (e pathlessError) Error() string { return pathless(e.err).Error() }
func (e pathlessError) Unwrap() error { return e.err }

// pathless returns err without the path of an *fs.PathError or
// *os.LinkError.
func pathless(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	case errors.As(err, &le):
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}
